// Concurrent writes: the database, not a read-then-insert, decides who gets a client_user_id, and
// many parallel creates all land and are all listed (contract U1, U2).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, mapLimit } from '../support/junction-http.ts';

for (const backend of backends()) {
  describe(`concurrent creates (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    before(async () => {
      // 50 requests in flight: a pool of 25 keeps the wait for a connection to one round of
      // inserts, so a slow (shared, loaded) machine does not turn pool waits into 503s.
      tdb = await freshDatabase(backend, { poolMax: 25 });
      srv = await startServer(tdb, { logLevel: 'silent' });
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('50 parallel creates of one client_user_id: exactly one 200, 49 conflicts naming the winner', async () => {
      const { apiKey } = await srv.newTeam('race-one');
      const rs = await Promise.all(Array.from({ length: 50 }, () => call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: 'contested' } })));
      const wins = rs.filter((r) => r.status === 200);
      const conflicts = rs.filter((r) => r.status === 400);
      assert.equal(wins.length, 1, `statuses: ${rs.map((r) => r.status).join(',')}`);
      assert.equal(conflicts.length, 49, `statuses: ${rs.map((r) => r.status).join(',')}`);
      const winner = wins[0]!.body;
      for (const c of conflicts) {
        assert.equal(c.body.detail.error_type, 'INVALID_REQUEST');
        assert.equal(c.body.detail.error_message, 'Client user id already exists.');
        assert.equal(c.body.detail.user_id, winner.user_id);
        assert.equal(c.body.detail.created_on, winner.created_on);
      }
      const list = await call(srv.baseUrl, 'GET', '/v2/user', { key: apiKey });
      assert.equal(list.body.total, 1);
      assert.equal(list.body.users[0].user_id, winner.user_id);
    });

    test('parallel renames to one client_user_id: exactly one wins, the others get 409', async () => {
      const { apiKey } = await srv.newTeam('race-patch');
      const ids = await mapLimit(Array.from({ length: 20 }, (_, i) => i), 20, async (i) =>
        (await call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: `rename-${i}` } })).body.user_id as string);
      const rs = await Promise.all(ids.map((id) => call(srv.baseUrl, 'PATCH', `/v2/user/${id}`, { key: apiKey, json: { client_user_id: 'renamed' } })));
      assert.equal(rs.filter((r) => r.status === 204).length, 1, rs.map((r) => r.status).join(','));
      assert.equal(rs.filter((r) => r.status === 409).length, 19, rs.map((r) => r.status).join(','));
      const winner = ids[rs.findIndex((r) => r.status === 204)];
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user/resolve/renamed', { key: apiKey })).body.user_id, winner);
    });

    test('parallel patches of different fields of one user: none is lost', async () => {
      // Each PATCH reads the user, applies one field and writes the version it read; a write that
      // raced another is redone on the new version, so every field ends up set.
      const { apiKey } = await srv.newTeam('race-fields');
      const id = (await call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: 'fields' } })).body.user_id;
      const patches = [
        { fallback_time_zone: 'Europe/Paris' }, { fallback_birth_date: '1990-02-03' },
        { ingestion_start: '2024-01-01' }, { ingestion_end: '2030-01-01' }, { client_user_id: 'fields-renamed' },
      ];
      const rs = await Promise.all([...patches, ...patches, ...patches].map((json) => call(srv.baseUrl, 'PATCH', `/v2/user/${id}`, { key: apiKey, json })));
      assert.deepEqual(rs.map((r) => r.status), rs.map(() => 204), JSON.stringify(rs.filter((r) => r.status !== 204).map((r) => r.body)));
      const u = (await call(srv.baseUrl, 'GET', `/v2/user/${id}`, { key: apiKey })).body;
      assert.equal(u.client_user_id, 'fields-renamed');
      assert.equal(u.fallback_time_zone?.id, 'Europe/Paris');
      assert.equal(u.fallback_birth_date?.value, '1990-02-03');
      assert.match(u.ingestion_start, /^2024-01-01/);
      assert.match(u.ingestion_end, /^2030-01-01/);
    });

    test('parallel deletes and undos of one user settle into one consistent state', async () => {
      const { apiKey } = await srv.newTeam('race-delete');
      const id = (await call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: 'flip' } })).body.user_id;
      const dels = await Promise.all(Array.from({ length: 10 }, () => call(srv.baseUrl, 'DELETE', `/v2/user/${id}`, { key: apiKey })));
      assert.equal(dels.filter((r) => r.status === 200).length, 1, dels.map((r) => r.status).join(','));
      assert.equal(dels.filter((r) => r.status === 404).length, 9);
      const undos = await Promise.all(Array.from({ length: 10 }, () => call(srv.baseUrl, 'POST', `/v2/user/undo_delete?user_id=${id}`, { key: apiKey })));
      assert.equal(undos.filter((r) => r.status === 200).length, 1, undos.map((r) => r.status).join(','));
      assert.equal(undos.filter((r) => r.status === 404).length, 9);
      assert.equal((await call(srv.baseUrl, 'GET', `/v2/user/${id}`, { key: apiKey })).status, 200);
    });

    test('500 creates of distinct ids (50 in flight) are all listed, with the right total', async () => {
      const { apiKey } = await srv.newTeam('race-many');
      const cids = Array.from({ length: 500 }, (_, i) => `many-${String(i).padStart(3, '0')}`);
      const rs = await mapLimit(cids, 50, (cid) => call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: cid } }));
      const bad = rs.filter((r) => r.status !== 200);
      assert.equal(bad.length, 0, bad.slice(0, 3).map((r) => `${r.status} ${r.text}`).join('\n'));
      const created = new Map(rs.map((r) => [r.body.user_id as string, r.body.client_user_id as string]));
      assert.equal(created.size, 500, 'every create got its own user_id');

      // One page of 500, and the same users through pages of 120: stable order, no gaps or repeats.
      const whole = await call(srv.baseUrl, 'GET', '/v2/user?limit=500', { key: apiKey });
      assert.equal(whole.status, 200);
      assert.equal(whole.body.total, 500);
      assert.equal(whole.body.users.length, 500);
      const seen: string[] = [];
      for (let offset = 0; ; offset += 120) {
        const p = await call(srv.baseUrl, 'GET', `/v2/user?limit=120&offset=${offset}`, { key: apiKey });
        assert.equal(p.body.total, 500);
        if (p.body.users.length === 0) break;
        seen.push(...p.body.users.map((u: { user_id: string }) => u.user_id));
      }
      assert.deepEqual(seen, whole.body.users.map((u: { user_id: string }) => u.user_id));
      assert.deepEqual(new Set(seen), new Set(created.keys()));
      for (const u of whole.body.users) assert.equal(u.client_user_id, created.get(u.user_id));
      // Newest first, ties by user_id descending.
      for (let i = 1; i < whole.body.users.length; i++) {
        const a = whole.body.users[i - 1];
        const b = whole.body.users[i];
        const ta = Date.parse(a.created_on);
        const tb = Date.parse(b.created_on);
        assert.ok(ta > tb || (ta === tb && a.user_id > b.user_id), `order at ${i}: ${a.created_on} ${a.user_id} / ${b.created_on} ${b.user_id}`);
      }
      const m = await call(srv.baseUrl, 'GET', '/v2/user/metrics', { key: apiKey });
      assert.equal(m.body.number_of_users, 500);
    });
  });
}

for (const backend of backends()) {
  describe(`sandbox cap under concurrent creates (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    before(async () => {
      tdb = await freshDatabase(backend, { poolMax: 25 });
      srv = await startServer(tdb, { logLevel: 'silent', sandboxUserCap: 5 });
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('20 parallel creates in a sandbox team capped at 5: exactly 5 users, 15 refusals in the contract shape', async () => {
      const { apiKey } = await srv.newTeam('capped', 'sandbox');
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: `cap-${i}` } })));
      assert.equal(rs.filter((r) => r.status === 200).length, 5, rs.map((r) => r.status).join(','));
      const refused = rs.filter((r) => r.status !== 200);
      assert.equal(refused.length, 15);
      for (const r of refused) {
        assert.equal(r.status, 400);
        assert.deepEqual(r.body, { detail: { error_type: 'INVALID_REQUEST', error_message: 'You have reached the maximum of 5 Sandbox users' } });
      }
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: apiKey })).body.total, 5);
      const prod = await srv.newTeam('uncapped', 'production');
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => call(srv.baseUrl, 'POST', '/v2/user', { key: prod.apiKey, json: { client_user_id: `p-${i}` } })));
      assert.deepEqual(many.map((r) => r.status), many.map(() => 200), 'production teams have no cap');
    });
  });
}
