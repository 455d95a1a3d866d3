// The connection count kept on the user row (0017_cheaper_reads.sql): a read skips the
// connections sub-select when it is 0, so a count of 0 while connections exist would hide them.
// Every way a connection comes or goes, on every face, must leave the count equal to the rows, and
// every read must show the connections.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { call } from '../support/junction-http.ts';
import { loadMigrations } from '../../src/db/migrate.ts';
import { facesSuite, type FacesServer, type Team } from './faces-support.ts';
import type { TestDatabase } from '../support/backends.ts';

for (const backend of backends()) {
  describe(`connection count on the user row (${backend.name})`, () => {
    let srv: FacesServer;
    let tdb: TestDatabase;
    let A: Team;
    let B: Team;
    facesSuite(backend, {}, (s) => ({ srv, tdb, A, B } = s));
    const j = (m: string, p: string, json?: unknown) => call(srv.baseUrl, m, p, { key: A.key, ...(json === undefined ? {} : { json }) });
    const o = (m: string, p: string, json?: unknown) => call(srv.baseUrl, m, `/onvy${p}`, { apiKey: A.key, ...(json === undefined ? {} : { json }) });
    const b = (m: string, p: string, json?: unknown) => call(srv.baseUrl, m, `/basic${p}`, { bearer: A.key, ...(json === undefined ? {} : { json }) });

    /** Users whose kept count differs from their connection rows (must be none, in every team). */
    const drifted = async () => (await tdb.db.pool.query<{ id: string; kept: number; real: number }>(
      `select u.id, u.connection_count as kept, (select count(*)::int from connections c where c.team_id = u.team_id and c.user_id = u.id) as real
         from users u where u.connection_count <> (select count(*) from connections c where c.team_id = u.team_id and c.user_id = u.id)`)).rows;

    /** The providers every Junction read shows for the user (by id, resolve, and in the list). */
    async function shown(userId: string, clientUserId: string): Promise<string[]> {
      const byId = await j('GET', `/v2/user/${userId}`);
      assert.equal(byId.status, 200, byId.text);
      const slugs = (byId.body.connected_sources as { provider: { slug: string } }[]).map((c) => c.provider.slug);
      const resolved = await j('GET', `/v2/user/resolve/${encodeURIComponent(clientUserId)}`);
      assert.deepEqual(resolved.body.connected_sources, byId.body.connected_sources, 'resolve shows what the read by id shows');
      const listed = (await j('GET', '/v2/user?limit=100')).body.users.find((u: { user_id: string }) => u.user_id === userId);
      assert.deepEqual(listed.connected_sources, byId.body.connected_sources, 'the list shows what the read by id shows');
      assert.deepEqual(await drifted(), []);
      return slugs;
    }

    test('demo connect, Onvy sync, deregister on both faces, delete and undo: every read shows the connections, and the count follows', async () => {
      const cid = 'count-1';
      const made = await j('POST', '/v2/user', { client_user_id: cid });
      assert.equal(made.status, 200, made.text);
      const id = made.body.user_id as string;
      assert.deepEqual(await shown(id, cid), []);

      assert.equal((await j('POST', '/v2/link/connect/demo', { user_id: id, provider: 'oura' })).status, 200);
      assert.deepEqual(await shown(id, cid), ['oura']);
      // The same provider again adds nothing.
      await j('POST', '/v2/link/connect/demo', { user_id: id, provider: 'oura' });
      assert.deepEqual(await shown(id, cid), ['oura']);

      // Onvy's data sync connects its provider too, and its own read sees the sync.
      const put = await o('PUT', `/users/${cid}/data_syncs`, { provider: 'GARMIN', data_type: 'auth', sync_type: 'historical', status: 'pending' });
      assert.equal(put.status, 200, put.text);
      assert.ok((await o('GET', `/users/${cid}`)).body.data_syncs.some((x: { provider: string }) => x.provider === 'GARMIN'));
      assert.equal((await shown(id, cid)).length, 2);

      // Deregister on Junction, then Onvy's delete of the sync's provider.
      assert.equal((await j('DELETE', `/v2/user/${id}/oura`)).status, 200);
      assert.equal((await shown(id, cid)).length, 1);
      const gone = await o('DELETE', `/users/${cid}/data_syncs/GARMIN`);
      assert.ok(gone.status < 300, gone.text);
      assert.deepEqual(await shown(id, cid), []);

      // A delete removes the connections; the undone user comes back without them.
      await j('POST', '/v2/link/connect/demo', { user_id: id, provider: 'fitbit' });
      assert.deepEqual(await shown(id, cid), ['fitbit']);
      assert.equal((await j('DELETE', `/v2/user/${id}`)).status, 200);
      assert.deepEqual(await drifted(), []);
      const undo = await j('POST', `/v2/user/undo_delete?user_id=${id}`);
      assert.equal(undo.status, 200, undo.text);
      assert.deepEqual(await shown(id, cid), []);
      // And connects again afterwards.
      await j('POST', '/v2/link/connect/demo', { user_id: id, provider: 'apple_health_kit' });
      assert.deepEqual(await shown(id, cid), ['apple_health_kit']);
    });

    test('a hard delete (basic face) of a connected user cascades without error; other users keep their counts', async () => {
      const keep = (await j('POST', '/v2/user', { client_user_id: 'count-keep' })).body.user_id as string;
      await j('POST', '/v2/link/connect/demo', { user_id: keep, provider: 'oura' });
      const made = await b('POST', '/users', { firstName: 'Hard', lastName: 'Delete', contactEmail: 'hard@example.com' });
      assert.equal(made.status, 201, made.text);
      const id = (await j('GET', `/v2/user/resolve/basic:${made.body.userId}`)).body.user_id as string;
      await j('POST', '/v2/link/connect/demo', { user_id: id, provider: 'oura' });
      await j('POST', '/v2/link/connect/demo', { user_id: id, provider: 'fitbit' });
      assert.equal((await shown(id, `basic:${made.body.userId}`)).length, 2);
      const del = await b('DELETE', `/users/${made.body.userId}`);
      assert.equal(del.status, 204, del.text);
      assert.equal((await j('GET', `/v2/user/${id}`)).status, 404);
      assert.deepEqual(await shown(keep, 'count-keep'), ['oura']);
    });

    test('the migration counts the connections that exist when it runs', async () => {
      const u = (await j('POST', '/v2/user', { client_user_id: 'count-migrated' })).body.user_id as string;
      await j('POST', '/v2/link/connect/demo', { user_id: u, provider: 'oura' });
      await j('POST', '/v2/link/connect/demo', { user_id: u, provider: 'fitbit' });
      const m = (await loadMigrations()).find((x) => x.name === '0017_cheaper_reads')!;
      const c = await tdb.db.pool.connect();
      try {
        // The schema as it was before 0017, with the connections already there; then 0017 itself.
        await c.query('begin');
        await c.query('drop trigger connections_user_count on connections; drop function connections_keep_user_count(); alter table users drop column connection_count; drop index users_live_team');
        await c.query(m.sql);
        await c.query('commit');
      } finally {
        c.release();
      }
      const kept = await tdb.db.pool.query<{ n: number }>('select connection_count as n from users where id = $1', [u]);
      assert.equal(kept.rows[0]!.n, 2);
      assert.deepEqual(await shown(u, 'count-migrated'), ['oura', 'fitbit']);
    });

    test('list: total is exact on a full page, the last page, past the end, and a deep page (counted apart)', async () => {
      // 10,050 live users and 7 deleted ones in team B, straight in SQL (the API would take minutes).
      await tdb.db.pool.query(
        `insert into users (team_id, id, client_user_id, created_at, updated_at, deleted_at)
         select $1::uuid, gen_random_uuid(), 'bulk-' || g, timestamptz '2026-01-01' + g * interval '1 ms', now(),
                case when g > 10050 then now() end
           from generate_series(1, 10057) g`, [B.teamId]);
      const list = async (q: string) => {
        const r = await call(srv.baseUrl, 'GET', `/v2/user?${q}`, { key: B.key });
        assert.equal(r.status, 200, r.text);
        return r.body as { users: { client_user_id: string }[]; total: number; offset: number; limit: number };
      };
      const first = await list('limit=100');
      assert.equal(first.total, 10050);
      assert.equal(first.users.length, 100);
      assert.equal(first.users[0]!.client_user_id, 'bulk-10050', 'newest first');
      const last = await list('offset=10000&limit=100');
      assert.equal(last.total, 10050);
      assert.deepEqual(last.users.map((u) => u.client_user_id), Array.from({ length: 50 }, (_, i) => `bulk-${50 - i}`));
      const near = await list('offset=9990&limit=100');
      assert.equal(near.total, 10050);
      assert.equal(near.users.length, 60);
      assert.equal((await list('offset=20000&limit=10')).total, 10050);
      assert.equal((await list('offset=5&limit=0')).total, 10050);
      // Another team's count is its own.
      assert.ok((await j('GET', '/v2/user?limit=1')).body.total < 100);
    });
  });
}
