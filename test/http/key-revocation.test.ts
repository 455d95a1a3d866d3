// Key revocation across instances: two servers on one database; instance 2 has the key cached;
// instance 1 revokes it; instance 2 must refuse it at once (LISTEN/NOTIFY), not when its cache
// entry expires (60 s).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';

/** Polls until `fn` returns true or `ms` pass; returns whether it did. */
async function eventually(fn: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const backend of backends()) {
  describe(`key revocation across instances (${backend.name})`, () => {
    let tdb: TestDatabase;
    let one: TestServer;
    let two: TestServer;
    before(async () => {
      tdb = await freshDatabase(backend);
      one = await startServer(tdb, { logLevel: 'silent' });
      two = await startServer(tdb, { logLevel: 'silent' });
    });
    after(async () => {
      await one?.close();
      await two?.close();
      await tdb?.drop();
    });

    test('a key revoked on instance 1 is refused by instance 2, which had it cached', async () => {
      const t = await one.newTeam('revoke-across');
      const other = await one.built.services.teams.createKey(t.teamId);
      // Instance 2 serves (and caches) both keys.
      for (const k of [t.apiKey, other.apiKey]) {
        const r = await call(two.baseUrl, 'GET', '/v2/user', { key: k });
        assert.equal(r.status, 200, r.text);
      }
      await one.built.services.revokeKey(t.keyId);
      // Instance 1 refuses at once (it evicts its own cache synchronously).
      assert.equal((await call(one.baseUrl, 'GET', '/v2/user', { key: t.apiKey })).status, 401);
      // Instance 2 hears of it through the database. The bound is generous for a loaded CI box but
      // far below the 60 s cache lifetime, so passing proves the notification path.
      const refused = await eventually(async () => (await call(two.baseUrl, 'GET', '/v2/user', { key: t.apiKey })).status === 401, 5_000);
      assert.ok(refused, 'instance 2 still accepts the revoked key');
      // Writes are refused too, and the team's other key is unaffected on both instances.
      assert.equal((await call(two.baseUrl, 'POST', '/v2/user', { key: t.apiKey, json: { client_user_id: 'after-revoke' } })).status, 401);
      assert.equal((await call(two.baseUrl, 'GET', '/v2/user', { key: other.apiKey })).status, 200);
      assert.equal((await call(one.baseUrl, 'GET', '/v2/user', { key: other.apiKey })).status, 200);
      assert.equal((await call(one.baseUrl, 'GET', '/v2/user/resolve/after-revoke', { key: other.apiKey })).status, 404, 'the refused write did not happen');
    });

    test('several revocations in a row all reach instance 2', async () => {
      const t = await one.newTeam('revoke-many');
      const keys = await Promise.all(Array.from({ length: 5 }, () => one.built.services.teams.createKey(t.teamId)));
      for (const k of keys) assert.equal((await call(two.baseUrl, 'GET', '/v2/user', { key: k.apiKey })).status, 200);
      for (const k of keys) await one.built.services.revokeKey(k.key.id);
      const all = await eventually(async () => {
        const rs = await Promise.all(keys.map((k) => call(two.baseUrl, 'GET', '/v2/user', { key: k.apiKey })));
        return rs.every((r) => r.status === 401);
      }, 5_000);
      assert.ok(all, 'every revoked key is refused by instance 2');
    });

    test('a key created on instance 1 works on instance 2 right away (unknown keys are not cached)', async () => {
      const t = await one.newTeam('fresh-key');
      const k = 'sk_rst_' + 'Z'.repeat(43);
      assert.equal((await call(two.baseUrl, 'GET', '/v2/user', { key: k })).status, 401);
      assert.equal((await call(two.baseUrl, 'GET', '/v2/user', { key: t.apiKey })).status, 200);
      const fresh = await one.built.services.teams.createKey(t.teamId);
      assert.equal((await call(two.baseUrl, 'GET', '/v2/user', { key: fresh.apiKey })).status, 200);
    });
  });
}
