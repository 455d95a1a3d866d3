// What every write of every face goes through (src/http/write-path.ts, rate-limits.ts, app.ts):
// Idempotency-Key semantics, the audit trail, per-key limits across instances, security headers.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { backends, freshDatabase, type TestDatabase, testRedis } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';

const ADMIN = 'admin-token-for-write-path-tests';

for (const backend of backends()) {
  describe(`write path (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let key: string;
    let teamId: string;
    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { adminToken: ADMIN, logLevel: 'silent' });
      const t = await srv.newTeam('write-path');
      key = t.apiKey;
      teamId = t.teamId;
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(srv.baseUrl + path, { method: 'POST', headers: { 'x-vital-api-key': key, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const count = async (cid: string) => Number((await tdb.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('client_user_id', '=', cid).executeTakeFirstOrThrow()).n);

    test('the same key and request replays the first answer without doing the work again', async () => {
      const a = await post('/v2/user', { client_user_id: 'idem-a', fallback_time_zone: 'Europe/Berlin' }, { 'idempotency-key': 'k-1' });
      const b = await post('/v2/user', { fallback_time_zone: 'Europe/Berlin', client_user_id: 'idem-a' }, { 'idempotency-key': 'k-1' }); // keys reordered: same JSON
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.equal(b.headers.get('idempotent-replayed'), 'true');
      assert.equal(await b.text(), await a.text());
      assert.equal(await count('idem-a'), 1, 'one user, not two');
    });

    test('a 4xx the operation produced is replayed too; a different request under the key is 422', async () => {
      await post('/v2/user', { client_user_id: 'idem-b' });
      const c1 = await post('/v2/user', { client_user_id: 'idem-b' }, { 'idempotency-key': 'k-2' });
      assert.equal(c1.status, 400);
      const c2 = await post('/v2/user', { client_user_id: 'idem-b' }, { 'idempotency-key': 'k-2' });
      assert.equal(c2.status, 400);
      assert.equal(c2.headers.get('idempotent-replayed'), 'true');
      const other = await post('/v2/user', { client_user_id: 'idem-c' }, { 'idempotency-key': 'k-2' });
      assert.equal(other.status, 422);
      assert.match(String(((await other.json()) as { detail: unknown }).detail), /different request/);
      assert.equal(await count('idem-c'), 0, 'the mismatched request did nothing');
    });

    test('requests refused by validation are not stored under the key', async () => {
      const bad = await post('/v2/user', { client_user_id: 42 }, { 'idempotency-key': 'k-3' });
      assert.equal(bad.status, 422);
      const good = await post('/v2/user', { client_user_id: 'idem-d' }, { 'idempotency-key': 'k-3' });
      assert.equal(good.status, 200, 'the key is still free after a validation failure');
      assert.equal(good.headers.get('idempotent-replayed'), null);
    });

    test('keys are per team: another team may use the same key for its own request', async () => {
      const other = await srv.newTeam('write-path-2');
      const r = await fetch(srv.baseUrl + '/v2/user', { method: 'POST', headers: { 'x-vital-api-key': other.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: 'idem-a' }) });
      const r2 = await fetch(srv.baseUrl + '/v2/user', { method: 'POST', headers: { 'x-vital-api-key': other.apiKey, 'content-type': 'application/json', 'idempotency-key': 'k-1' }, body: JSON.stringify({ client_user_id: 'idem-e' }) });
      assert.equal(r.status, 200);
      assert.equal(r2.status, 200);
      assert.equal(r2.headers.get('idempotent-replayed'), null);
    });

    test('works on the Onvy and basic faces too', async () => {
      const o1 = await fetch(srv.baseUrl + '/onvy/users', { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', 'idempotency-key': 'k-onvy' }, body: JSON.stringify({ id: 'idem-onvy' }) });
      const o2 = await fetch(srv.baseUrl + '/onvy/users', { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', 'idempotency-key': 'k-onvy' }, body: JSON.stringify({ id: 'idem-onvy' }) });
      assert.ok(o1.status < 300, `onvy create ${o1.status}`);
      assert.equal(o2.status, o1.status);
      assert.equal(o2.headers.get('idempotent-replayed'), 'true');
      const body = { firstName: 'Idem', lastName: 'Potent', contactEmail: 'idem@example.com' };
      const b1 = await fetch(srv.baseUrl + '/basic/users', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': 'k-basic' }, body: JSON.stringify(body) });
      const b2 = await fetch(srv.baseUrl + '/basic/users', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': 'k-basic' }, body: JSON.stringify(body) });
      assert.equal(b1.status, 201);
      assert.equal(b2.status, 201);
      assert.equal(await b2.text(), await b1.text());
    });

    test('every mutation is audited (team, key, action, user, request id), readable by admin API', async () => {
      const created = await (await post('/v2/user', { client_user_id: 'audited-1' }, { 'x-request-id': 'req-audit-1' })).json() as { user_id: string };
      await fetch(`${srv.baseUrl}/v2/user/${created.user_id}`, { method: 'PATCH', headers: { 'x-vital-api-key': key, 'content-type': 'application/json', 'x-request-id': 'req-audit-2' }, body: JSON.stringify({ ingestion_start: '2024-01-01' }) });
      await fetch(`${srv.baseUrl}/v2/user/${created.user_id}`, { method: 'DELETE', headers: { 'x-vital-api-key': key, 'x-request-id': 'req-audit-3' } });
      await srv.built.services.audit.flush();
      const res = await fetch(`${srv.baseUrl}/admin/audit?team_id=${teamId}&user_id=${created.user_id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(res.status, 200);
      const { events } = await res.json() as { events: { action: string; user_id: string; request_id: string; client_request_id: string | null; key_id: string; team_id: string; status: number }[] };
      const byReq = new Map(events.map((e) => [e.client_request_id, e]));
      assert.equal(byReq.get('req-audit-1')?.action, 'junction.createUser');
      assert.equal(byReq.get('req-audit-2')?.action, 'junction.patchUser');
      assert.equal(byReq.get('req-audit-3')?.action, 'junction.deleteUser');
      for (const e of events) {
        assert.equal(e.team_id, teamId);
        assert.ok(e.key_id, 'who');
        assert.equal(e.user_id, created.user_id);
      }
      // Reads are not mutations.
      await fetch(`${srv.baseUrl}/v2/user?limit=1`, { headers: { 'x-vital-api-key': key, 'x-request-id': 'req-audit-read' } });
      await srv.built.services.audit.flush();
      const all = await (await fetch(`${srv.baseUrl}/admin/audit?team_id=${teamId}&limit=1000`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as { events: { request_id: string; client_request_id: string | null }[] };
      assert.ok(!all.events.some((e) => e.request_id === 'req-audit-read' || e.client_request_id === 'req-audit-read'));
      // No health values in an audit row.
      const raw = JSON.stringify(await tdb.db.kysely.selectFrom('audit_events').selectAll().execute());
      assert.ok(!raw.includes('Europe/Berlin') && !raw.includes('2024-01-01'), 'audit rows hold no health values');
    });

    test('the audit keeps the server\'s request id; a client\'s x-request-id is stored apart, only when usable (S5)', async () => {
      const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      const make = (cid: string, rid: string) => post('/v2/user', { client_user_id: cid }, { 'x-request-id': rid });
      // The same client id twice (replayed to make two requests look like one), and unusable ones.
      const sent = ['s5-same-id', 's5-same-id', 'x'.repeat(129), 'has space', 'semi;colon'];
      const ids: string[] = [];
      for (const [i, rid] of sent.entries()) {
        const r = await make(`s5-audit-${i}`, rid);
        assert.equal(r.status, 200);
        if (i < 2) assert.equal(r.headers.get('x-request-id'), rid, 'a usable id is echoed');
        else assert.match(r.headers.get('x-request-id') ?? '', UUID, 'an unusable one is replaced by the server\'s');
        ids.push(((await r.json()) as { user_id: string }).user_id);
      }
      await srv.built.services.audit.flush();
      const rows = await tdb.db.kysely.selectFrom('audit_events').select(['user_id', 'request_id', 'client_request_id']).where('team_id', '=', teamId).where('action', '=', 'junction.createUser').where('user_id', 'in', ids).execute();
      assert.equal(rows.length, sent.length);
      const byUser = new Map(rows.map((r) => [r.user_id, r]));
      const same = [byUser.get(ids[0]!)!, byUser.get(ids[1]!)!];
      for (const r of rows) assert.match(r.request_id, UUID, 'request_id is the server\'s own');
      assert.notEqual(same[0]!.request_id, same[1]!.request_id, 'two requests, two request ids, whatever the client sent');
      assert.deepEqual(same.map((r) => r.client_request_id), ['s5-same-id', 's5-same-id']);
      for (const id of ids.slice(2)) assert.equal(byUser.get(id)!.client_request_id, null, 'an unusable client id is not stored');
    });

    test('reads of demographics and insurance, and portal views, are audited, batched (S5)', async () => {
      const u = (await (await post('/v2/user', { client_user_id: 's5-phi-read' })).json()) as { user_id: string };
      const info = { first_name: 'Casey', last_name: 'Doe', email: 'casey@example.com', phone_number: '+1 555 123 4567', gender: 'female', dob: '1975-05-06', address: { first_line: '1 Main St', country: 'US', zip: '10001', city: 'NYC', state: 'NY' } };
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/${u.user_id}/info`, { method: 'PATCH', headers: { 'x-vital-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(info) })).status, 200);
      const get = (path: string) => fetch(`${srv.baseUrl}/v2/user/${u.user_id}/${path}`, { headers: { 'x-vital-api-key': key, 'x-request-id': `s5-read-${path.split('/')[0]}` } });
      await (await get('info/latest')).arrayBuffer();
      await (await get('insurance/latest')).arrayBuffer();
      // The portal page shows the user's demographics: its views are audited too.
      const link = (await (await post(`/v2/user/${u.user_id}/create_portal_url`, { context: 'launch' })).json()) as { url: string };
      assert.equal((await fetch(new URL(new URL(link.url).pathname, srv.baseUrl))).status, 200);
      await srv.built.services.audit.flush();
      const views = await tdb.db.kysely.selectFrom('audit_events').select(['key_id', 'status']).where('team_id', '=', teamId).where('user_id', '=', u.user_id).where('action', '=', 'portal.view').execute();
      assert.deepEqual(views, [{ key_id: null, status: 200 }]);
      const rows = await tdb.db.kysely.selectFrom('audit_events').select(['action', 'key_id', 'status', 'client_request_id']).where('team_id', '=', teamId).where('user_id', '=', u.user_id).where('action', 'like', 'junction.getLatest%').orderBy('action').execute();
      assert.deepEqual(rows.map((r) => [r.action, r.client_request_id, r.key_id !== null]), [
        ['junction.getLatestInsurance', 's5-read-insurance', true],
        ['junction.getLatestUserInfo', 's5-read-info', true],
      ]);
    });

    test('security headers on every response, errors included', async () => {
      for (const r of [
        await fetch(srv.baseUrl + '/v2/user', { headers: { 'x-vital-api-key': key } }),
        await fetch(srv.baseUrl + '/v2/user'),
        await fetch(srv.baseUrl + '/nope'),
        await fetch(srv.baseUrl + '/healthz'),
      ]) {
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(r.headers.get('x-frame-options'), 'DENY');
        assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
        assert.ok(r.headers.get('x-request-id'));
      }
    });
  });

  describe(`per-key rate limit (${backend.name})`, () => {
    let tdb: TestDatabase;
    const servers: TestServer[] = [];
    let redis: Redis | null = null;
    before(async () => {
      tdb = await freshDatabase(backend);
      redis = await testRedis(); // REDIS_URL set but unreachable: fails loudly
      // Two instances on one database (and, with REDIS_URL, one Redis), 5 requests per minute per key.
      for (let i = 0; i < 2; i++) servers.push(await startServer(tdb, { logLevel: 'silent', rateLimitPerMinute: 5, redis }));
    });
    after(async () => {
      for (const s of servers) await s.close();
      await redis?.quit();
      await tdb?.drop();
    });

    test('over the limit: 429 with Retry-After and RateLimit headers, per key; a team override applies', async () => {
      const t = await servers[0]!.newTeam('limited');
      const statuses: number[] = [];
      // With Redis the limit holds across both instances; without it, each instance counts alone.
      const targets = redis ? [0, 1, 0, 1, 0, 1] : [0, 0, 0, 0, 0, 0];
      let last: Response | null = null;
      for (const i of targets) {
        last = await fetch(`${servers[i]!.baseUrl}/v2/user`, { headers: { 'x-vital-api-key': t.apiKey } });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
      assert.ok(Number(last!.headers.get('retry-after')) > 0);
      assert.equal(last!.headers.get('ratelimit-limit'), '5');
      assert.match(last!.headers.get('content-type') ?? '', /application\/json/);
      // Another key of the same team has its own budget.
      const k2 = await servers[0]!.built.services.teams.createKey(t.teamId);
      assert.equal((await fetch(`${servers[0]!.baseUrl}/v2/user`, { headers: { 'x-vital-api-key': k2.apiKey } })).status, 200);
      // A team with its own, higher limit.
      const t2 = await servers[0]!.newTeam('generous');
      await servers[0]!.built.services.teams.setRateLimit(t2.teamId, 100);
      for (let i = 0; i < 8; i++) {
        assert.equal((await fetch(`${servers[0]!.baseUrl}/v2/user`, { headers: { 'x-vital-api-key': t2.apiKey } })).status, 200, `request ${i + 1} of a team allowed 100/min`);
      }
    });
  });
}
