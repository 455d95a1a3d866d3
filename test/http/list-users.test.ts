// GET /v2/user (U1) as a client reads it: the page is serialized by the route itself
// (JSON.stringify of the rendered page, src/http/junction/routes/list-users.ts), so its bytes must
// be the ones the response schema's serializer writes, every entry must be what the read by id
// shows, and every timestamp must be PostgreSQL's, to the millisecond (timestamps are read by
// src/db/timestamptz.ts and written by src/kernel/iso-time.ts, not by pg's and V8's own code).
// The page and `total` come as one row (the page one JSON value): `total` must equal the team's
// live users after every way a user comes or goes, on a page, past the end and with limit 0.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import pg from 'pg';
import { backends } from '../support/backends.ts';
import { call, mapLimit } from '../support/junction-http.ts';
import { PaginatedUsersResponse } from '../../src/http/junction/schemas.ts';
import { facesSuite, type FacesServer, type Team } from './faces-support.ts';
import type { TestDatabase } from '../support/backends.ts';

/** What Fastify's serializer for the route's response schema writes for `value`. */
async function schemaBytes(value: unknown): Promise<string> {
  const app = Fastify();
  app.get('/', { schema: { response: { 200: PaginatedUsersResponse } } }, async () => value);
  try {
    return (await app.inject({ method: 'GET', url: '/' })).payload;
  } finally {
    await app.close();
  }
}

for (const backend of backends()) {
  describe(`GET /v2/user, the list (${backend.name})`, () => {
    let srv: FacesServer;
    let tdb: TestDatabase;
    let A: Team;
    let B: Team;
    facesSuite(backend, {}, (s) => ({ srv, tdb, A, B } = s));
    const j = (m: string, p: string, json?: unknown) => call(srv.baseUrl, m, p, { key: A.key, ...(json === undefined ? {} : { json }) });

    test('bytes as the schema writes them, entries as the read by id shows them, timestamps as PostgreSQL has them', async () => {
      // Through the API: text that needs escaping, non-ASCII text, every optional field, a connection.
      const made: string[] = [];
      for (const body of [
        { client_user_id: 'plain' },
        { client_user_id: 'quote " and back\\slash', fallback_time_zone: 'Asia/Kathmandu', fallback_birth_date: '1990-02-28' },
        { client_user_id: 'tab\there, ünïcödé, 漢字, 🙂', ingestion_start: '2025-01-01', ingestion_end: '2026-12-31' },
        { client_user_id: 'x'.repeat(60) + '</script>', fallback_time_zone: 'America/St_Johns' },
      ]) {
        const r = await j('POST', '/v2/user', body);
        assert.equal(r.status, 200, r.text);
        made.push(r.body.user_id as string);
      }
      assert.equal((await j('POST', '/v2/link/connect/demo', { user_id: made[0], provider: 'oura' })).status, 200);
      // In SQL: microseconds (truncated to the millisecond on the wire, never rounded), a source and
      // its time left null (shown as `manual` and the user's updated_at), dates on either side of 1970.
      await tdb.db.pool.query(
        `insert into users (team_id, id, client_user_id, created_at, updated_at, fallback_time_zone, fallback_time_zone_source, fallback_time_zone_updated_at,
                            fallback_birth_date, fallback_birth_date_source, fallback_birth_date_updated_at)
         values ($1, gen_random_uuid(), 'sql-1', '2026-03-04 05:06:07.999999+00', '2026-03-05 00:00:00.000500+00', 'Europe/Berlin', null, null,
                 '1960-01-01', 'oura', '1969-12-31 23:59:59.999999+00'),
                ($1, gen_random_uuid(), 'sql-2', '1999-12-31 23:59:59.9995+00', '2000-01-01 00:00:00+00', null, null, null, null, null, null)`, [A.teamId]);

      const r = await j('GET', '/v2/user?limit=100');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(r.text, await schemaBytes(r.body), 'the bytes the response schema\'s serializer writes');
      const users = r.body.users as Record<string, any>[];
      assert.equal(users.length, 6);
      assert.equal(r.body.total, 6);

      for (const u of users) {
        const one = await j('GET', `/v2/user/${u.user_id}`);
        assert.deepEqual(u, one.body, `entry ${u.client_user_id} as the read by id shows it`);
      }
      const oura = users.find((u) => u.user_id === made[0])!;
      assert.equal(oura.connected_sources.length, 1);

      // Every timestamp as PostgreSQL writes it in UTC to the millisecond (to_char's MS truncates).
      const iso = (col: string) => `to_char(${col} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') || '+00:00'`;
      const db = await tdb.db.pool.query<{ id: string; created: string; tz: string; bd: string; conn: string | null }>(
        `select u.id, ${iso('u.created_at')} as created, ${iso('coalesce(u.fallback_time_zone_updated_at, u.updated_at)')} as tz,
                ${iso('coalesce(u.fallback_birth_date_updated_at, u.updated_at)')} as bd,
                (select ${iso('c.created_at')} from connections c where c.team_id = u.team_id and c.user_id = u.id) as conn
           from users u where u.team_id = $1`, [A.teamId]);
      for (const row of db.rows) {
        const u = users.find((x) => x.user_id === row.id)!;
        assert.equal(u.created_on, row.created, `created_on of ${u.client_user_id}`);
        if (u.fallback_time_zone) assert.equal(u.fallback_time_zone.updated_at, row.tz);
        if (u.fallback_birth_date) assert.equal(u.fallback_birth_date.updated_at, row.bd);
        if (row.conn) assert.equal(u.connected_sources[0].created_on, row.conn);
      }
      const sql1 = users.find((u) => u.client_user_id === 'sql-1')!;
      assert.equal(sql1.created_on, '2026-03-04T05:06:07.999+00:00');
      assert.deepEqual(sql1.fallback_time_zone, { id: 'Europe/Berlin', source_slug: 'manual', updated_at: '2026-03-05T00:00:00.000+00:00' });
      assert.deepEqual(sql1.fallback_birth_date, { value: '1960-01-01', source_slug: 'oura', updated_at: '1969-12-31T23:59:59.999+00:00' });
      assert.equal(users.find((u) => u.client_user_id === 'sql-2')!.created_on, '1999-12-31T23:59:59.999+00:00');
    });

    test('timestamps read the same whatever the session\'s time zone (offsets in hours, minutes and seconds)', async () => {
      const read = async (zone: string) => {
        const c = new pg.Client({ connectionString: tdb.url, options: `-c TimeZone=${zone}` });
        await c.connect();
        try {
          // Amsterdam before 1937 was UTC+00:19:32: PostgreSQL writes the offset's seconds.
          const r = await c.query<{ t: Date; text: string }>(
            `select t, t::text as text from unnest(array['1890-06-01 12:00:00.123456+00', '1999-12-31 23:59:59.9995+00', '2026-03-04 05:06:07+00']::timestamptz[]) t`);
          return r.rows;
        } finally {
          await c.end();
        }
      };
      const utc = await read('UTC');
      assert.deepEqual(utc.map((x) => x.t.toISOString()), ['1890-06-01T12:00:00.123Z', '1999-12-31T23:59:59.999Z', '2026-03-04T05:06:07.000Z']);
      for (const zone of ['Asia/Kathmandu', 'America/St_Johns', 'Europe/Amsterdam', 'Pacific/Kiritimati']) {
        const rows = await read(zone);
        assert.deepEqual(rows.map((x) => x.t.getTime()), utc.map((x) => x.t.getTime()), `${zone}: ${rows.map((x) => x.text).join(', ')}`);
      }
    });

    const total = async (t: Team, q = 'limit=100') => {
      const r = await call(srv.baseUrl, 'GET', `/v2/user?${q}`, { key: t.key });
      assert.equal(r.status, 200, r.text);
      return r.body.total as number;
    };
    const live = async (t: Team) => Number((await tdb.db.pool.query('select count(*) as n from users where team_id = $1 and deleted_at is null', [t.teamId])).rows[0].n);
    /** The list's total is the team's live users, on a page, past the end and with limit 0. */
    const exact = async (t: Team) => {
      const n = await live(t);
      assert.equal(await total(t), n, 'total on the first page');
      assert.equal(await total(t, 'offset=100000&limit=10'), n, 'total past the end');
      assert.equal(await total(t, 'limit=0'), n, 'total with limit 0');
      return n;
    };

    test('total: exact after concurrent creates, conflicts, every face\'s create and delete, undo, purge and changes in SQL', async () => {
      const C = await srv.newTeam();
      const jc = (m: string, p: string, json?: unknown) => call(srv.baseUrl, m, p, { key: C.key, ...(json === undefined ? {} : { json }) });
      assert.equal(await exact(C), 0);
      // 60 concurrent creates (grouped at the database), 20 of them for a client id another one holds.
      const made = await mapLimit(Array.from({ length: 60 }, (_, i) => `c-${i % 40}`), 30, (cid) => jc('POST', '/v2/user', { client_user_id: cid }));
      assert.equal(made.filter((r) => r.status === 200).length, 40);
      assert.equal(made.filter((r) => r.status === 400 || r.status === 409).length, 20, made.map((r) => r.status).join(','));
      assert.equal(await exact(C), 40);
      // Onvy's and the basic face's creates (the basic one numbered, alone).
      assert.equal((await call(srv.baseUrl, 'POST', '/onvy/users', { apiKey: C.key, json: { id: 'onvy-1', firstname: 'Ona' } })).status, 201);
      assert.equal((await call(srv.baseUrl, 'POST', '/basic/users', { bearer: C.key, json: { firstName: 'Bea', lastName: 'Sic', contactEmail: 'bea@example.com' } })).status, 201);
      assert.equal(await exact(C), 42);
      // Soft deletes on Junction, undo of one, Onvy's delete.
      const ids = made.filter((r) => r.status === 200).map((r) => r.body.user_id as string);
      for (const id of ids.slice(0, 3)) assert.equal((await jc('DELETE', `/v2/user/${id}`)).status, 200);
      assert.equal(await exact(C), 39);
      assert.equal((await jc('POST', `/v2/user/undo_delete?user_id=${ids[0]}`)).status, 200);
      assert.equal((await call(srv.baseUrl, 'DELETE', '/onvy/users/onvy-1', { apiKey: C.key })).status, 204);
      assert.equal(await exact(C), 39);
      // A purge of the deleted (as the sweep does), a hard delete of live users, a bulk load with
      // deleted rows in it, a user moved to another team, a soft delete and undo in one statement.
      await tdb.db.pool.query('delete from users where team_id = $1 and deleted_at is not null', [C.teamId]);
      assert.equal(await exact(C), 39);
      await tdb.db.pool.query('delete from users where team_id = $1 and id = any($2::uuid[])', [C.teamId, ids.slice(3, 5)]);
      assert.equal(await exact(C), 37);
      await tdb.db.pool.query(
        `insert into users (team_id, id, client_user_id, created_at, updated_at, deleted_at)
         select $1::uuid, gen_random_uuid(), 'bulk-' || g, now(), now(), case when g % 4 = 0 then now() end from generate_series(1, 200) g`, [C.teamId]);
      assert.equal(await exact(C), 187);
      await tdb.db.pool.query(`update users set team_id = $2, client_user_id = 'moved-' || client_user_id where team_id = $1 and client_user_id in ('bulk-1', 'bulk-2')`, [C.teamId, B.teamId]);
      assert.equal(await exact(C), 185);
      await exact(B);
      await tdb.db.pool.query(
        `update users set deleted_at = case when deleted_at is null then now() end where team_id = $1 and client_user_id in ('bulk-3', 'bulk-4')`, [C.teamId]);
      assert.equal(await exact(C), 185);
      // A patch changes nothing in the count.
      assert.equal((await jc('PATCH', `/v2/user/${ids[0]}`, { fallback_time_zone: 'Europe/Paris' })).status, 204);
      assert.equal(await exact(C), 185);
    });
  });
}
