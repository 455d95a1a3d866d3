// Creates through HTTP in a team with a live endpoint, as grouped commits make them (issue 16):
// concurrent creates with duplicate client ids get one user per id and, for each duplicate, a
// conflict naming that user; every user created has exactly one user.created event (recorded in
// the create's own statement) and it is delivered; an idempotent create (its own transaction, not
// grouped) records one event and replays byte for byte.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { startReceiver, TEST_WEBHOOKS, type Receiver } from '../support/receiver.ts';

const ADMIN = 'admin-token-for-create-events';

for (const backend of backends()) {
  describe(`creates and their webhook events (${backend.name})`, { timeout: 120_000 }, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let rx: Receiver;
    let team: { teamId: string; apiKey: string };

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent', adminToken: ADMIN, webhooks: TEST_WEBHOOKS });
      team = await srv.newTeam('create-events', 'production');
      rx = await startReceiver();
      const r = await fetch(`${srv.baseUrl}/admin/teams/${team.teamId}/webhooks`, {
        method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: rx.url, format: 'junction', filter_types: ['user.created'] }),
      });
      assert.equal(r.status, 201, await r.text());
    });
    after(async () => {
      await srv?.close();
      await rx?.close();
      await tdb?.drop();
    });

    const create = (cid: string, headers: Record<string, string> = {}) => fetch(`${srv.baseUrl}/v2/user`, {
      method: 'POST', headers: { 'x-vital-api-key': team.apiKey, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ client_user_id: cid }),
    });
    const eventsOf = async (userIds: string[]) => (await sql<{ user_id: string; facts: Record<string, unknown> }>`select user_id, facts from webhook_events
      where team_id = ${team.teamId} and type = 'user.created' and user_id = any(${userIds}::uuid[])`.execute(tdb.db.kysely)).rows;

    test('concurrent creates with duplicates: one user per client id, each duplicate names it, one event per user, all delivered', async () => {
      const cids = Array.from({ length: 40 }, (_, i) => `dup-${i % 25}`);
      const answers = await Promise.all(cids.map(async (cid) => { const r = await create(cid); return { cid, status: r.status, body: await r.json() as Record<string, any> }; }));
      const winners = new Map<string, string>();
      for (const a of answers) if (a.status === 200) { assert.ok(!winners.has(a.cid), `two users for ${a.cid}`); winners.set(a.cid, a.body.user_id); }
      assert.equal(winners.size, 25);
      for (const a of answers.filter((x) => x.status !== 200)) {
        assert.equal(a.status, 400, JSON.stringify(a.body));
        assert.equal(a.body.detail.user_id, winners.get(a.cid), 'the conflict names the user created for that id');
      }
      const evs = await eventsOf([...winners.values()]);
      assert.deepEqual(evs.map((e) => e.user_id).sort(), [...winners.values()].sort(), 'exactly one event per user created');
      for (const e of evs) assert.equal(winners.get(e.facts.client_user_id as string), e.user_id);
      await rx.waitFor((all) => new Set(all.map((r) => JSON.parse(r.body).user_id)).size >= 25, 30_000, '25 user.created deliveries');
      const delivered = new Set(rx.received.map((r) => JSON.parse(r.body).user_id));
      for (const id of winners.values()) assert.ok(delivered.has(id), `user.created of ${id} delivered`);
    });

    test('an idempotent create records one event and replays byte for byte', async () => {
      const first = await create('idem-1', { 'idempotency-key': 'k-idem-1' });
      const body1 = await first.text();
      assert.equal(first.status, 200, body1);
      const again = await create('idem-1', { 'idempotency-key': 'k-idem-1' });
      assert.equal(again.status, 200);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(await again.text(), body1);
      const id = (JSON.parse(body1) as { user_id: string }).user_id;
      assert.equal((await eventsOf([id])).length, 1);
    });
  });
}
