// Team isolation: every read and write is confined to the key's team (contract §1 "Team scope").
// Team B sees none of team A's users, by id or by client_user_id, and cannot change them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, type RawRequest } from '../support/junction-http.ts';

for (const backend of backends()) {
  describe(`team isolation (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let a: { teamId: string; apiKey: string };
    let b: { teamId: string; apiKey: string };
    let aUser: { user_id: string; client_user_id: string; created_on: string };
    let aDeleted: { user_id: string };
    let aSnapshot: unknown;
    const as = (key: string) => (method: string, path: string, r: RawRequest = {}) => call(srv.baseUrl, method, path, { key, ...r });

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      a = await srv.newTeam('team-a');
      b = await srv.newTeam('team-b');
      const A = as(a.apiKey);
      aUser = (await A('POST', '/v2/user', { json: { client_user_id: 'shared-cid', fallback_time_zone: 'Europe/Rome', ingestion_start: '2024-01-01' } })).body;
      await A('POST', '/v2/user', { json: { client_user_id: 'a-only-2' } });
      aDeleted = (await A('POST', '/v2/user', { json: { client_user_id: 'a-deleted' } })).body;
      assert.equal((await A('DELETE', `/v2/user/${aDeleted.user_id}`)).status, 200);
      aSnapshot = (await A('GET', `/v2/user/${aUser.user_id}`)).body;
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    /** A's user must be exactly as before, seen through A's key. */
    async function aUnchanged() {
      const r = await as(a.apiKey)('GET', `/v2/user/${aUser.user_id}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, aSnapshot);
    }

    test('B cannot get A\'s user: 404 "Not found", as if it never existed', async () => {
      const r = await as(b.apiKey)('GET', `/v2/user/${aUser.user_id}`);
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { detail: 'Not found' });
      // A's soft-deleted user does not reveal its state either.
      const d = await as(b.apiKey)('GET', `/v2/user/${aDeleted.user_id}`);
      assert.deepEqual(d.body, { detail: 'Not found' });
    });

    test('B cannot resolve A\'s client_user_id', async () => {
      const r = await as(b.apiKey)('GET', '/v2/user/resolve/a-only-2');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { detail: 'User not found' });
    });

    test('B cannot patch A\'s user (404) and A\'s user is unchanged', async () => {
      for (const body of [{ client_user_id: 'stolen' }, { fallback_time_zone: null }, { ingestion_end: '2024-01-02' }, {}]) {
        const r = await as(b.apiKey)('PATCH', `/v2/user/${aUser.user_id}`, { json: body });
        assert.equal(r.status, 404, `${JSON.stringify(body)}: ${r.text}`);
        assert.deepEqual(r.body, { detail: 'The user does not or no longer exists in this team' });
      }
      await aUnchanged();
    });

    test('B cannot delete A\'s user (404) and A\'s user stays live', async () => {
      const r = await as(b.apiKey)('DELETE', `/v2/user/${aUser.user_id}`);
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { detail: 'The user does not or no longer exists in this team' });
      await aUnchanged();
    });

    test('B cannot undo A\'s deletion, by user_id or client_user_id', async () => {
      const byId = await as(b.apiKey)('POST', `/v2/user/undo_delete?user_id=${aDeleted.user_id}`);
      assert.equal(byId.status, 404);
      assert.deepEqual(byId.body, { detail: 'User not found' });
      const byCid = await as(b.apiKey)('POST', '/v2/user/undo_delete?client_user_id=a-deleted');
      assert.equal(byCid.status, 404);
      const stillDeleted = await as(a.apiKey)('GET', `/v2/user/${aDeleted.user_id}`);
      assert.deepEqual(stillDeleted.body, { detail: 'You have scheduled this user for deletion.' });
    });

    test('B\'s list and metrics never count A\'s users', async () => {
      const l = await as(b.apiKey)('GET', '/v2/user?limit=500');
      assert.equal(l.status, 200);
      assert.ok(!l.body.users.some((u: { team_id: string }) => u.team_id === a.teamId));
      const m = await as(b.apiKey)('GET', '/v2/user/metrics');
      assert.equal(m.body.team_id, b.teamId);
      const before = l.body.total;
      assert.equal(m.body.number_of_users, before);
      const am = await as(a.apiKey)('GET', '/v2/user/metrics');
      assert.equal(am.body.team_id, a.teamId);
      assert.equal(am.body.number_of_users, 2);
    });

    test('B may create the same client_user_id independently; each team resolves its own', async () => {
      const r = await as(b.apiKey)('POST', '/v2/user', { json: { client_user_id: 'shared-cid' } });
      assert.equal(r.status, 200, r.text);
      assert.notEqual(r.body.user_id, aUser.user_id);
      assert.equal(r.body.team_id, b.teamId);
      assert.equal((await as(b.apiKey)('GET', '/v2/user/resolve/shared-cid')).body.user_id, r.body.user_id);
      assert.equal((await as(a.apiKey)('GET', '/v2/user/resolve/shared-cid')).body.user_id, aUser.user_id);
      // A cannot see B's user either.
      assert.equal((await as(a.apiKey)('GET', `/v2/user/${r.body.user_id}`)).status, 404);
      const bl = await as(b.apiKey)('GET', '/v2/user');
      assert.deepEqual(bl.body.users.map((u: { user_id: string }) => u.user_id), [r.body.user_id]);
      assert.equal(bl.body.total, 1);
      const al = await as(a.apiKey)('GET', '/v2/user');
      assert.equal(al.body.total, 2);
      await aUnchanged();
    });

    test('B deleting its own copy does not touch A\'s, and B\'s undo restores only its own', async () => {
      const bUser = (await as(b.apiKey)('GET', '/v2/user/resolve/shared-cid')).body;
      assert.equal((await as(b.apiKey)('DELETE', `/v2/user/${bUser.user_id}`)).status, 200);
      await aUnchanged();
      const u = await as(b.apiKey)('POST', '/v2/user/undo_delete?client_user_id=shared-cid');
      assert.equal(u.status, 200, u.text);
      assert.equal((await as(b.apiKey)('GET', '/v2/user/resolve/shared-cid')).body.user_id, bUser.user_id);
      await aUnchanged();
    });

    test('B renaming its user to A\'s client_user_id is not a conflict', async () => {
      const c = await as(b.apiKey)('POST', '/v2/user', { json: { client_user_id: 'b-rename-me' } });
      const r = await as(b.apiKey)('PATCH', `/v2/user/${c.body.user_id}`, { json: { client_user_id: 'a-only-2' } });
      assert.equal(r.status, 204, r.text);
      assert.notEqual((await as(a.apiKey)('GET', '/v2/user/resolve/a-only-2')).body.user_id, c.body.user_id);
    });
  });
}
