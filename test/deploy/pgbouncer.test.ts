// Roster behind PgBouncer in transaction mode (issue 14), on every backend: a small server pool (4
// server connections) under Roster's pool of 12, DATABASE_POOLER=transaction, the LISTEN
// connection and migrations on the direct URL. First the two failures a transaction pooler causes
// without the setting (startup parameter; named prepared statements on shared server sessions),
// then the Junction SDK lifecycle, idempotent writes, 300 concurrent creates, the Onvy and basic
// faces and `roster backup`/`restore`: no 5xx, every acknowledged write stored once.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VitalClient } from '@tryvital/vital-node';
import pg from 'pg';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { startPgBouncer, type PgBouncer } from '../support/pooler.ts';
import { createDb, type Db } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openListener } from '../../src/db/listen.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SERVER_POOL = 4;
const ROSTER_POOL = 12;

interface Run { code: number | null; stdout: string; stderr: string }
function roster(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/roster.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** A database reached through PgBouncer (pooled Db) with its direct URL for session work. */
async function pooledDatabase(direct: TestDatabase, bouncer: PgBouncer): Promise<TestDatabase> {
  const db = createDb({ url: bouncer.via(direct.url), max: ROSTER_POOL, pooler: 'transaction' });
  return { url: direct.url, db, drop: async () => { await db.close(); await direct.drop(); } };
}

for (const backend of backends()) {
  describe(`behind PgBouncer in transaction mode (${backend.name})`, { timeout: 240_000 }, () => {
    let direct: TestDatabase;
    let spare: TestDatabase;
    let bouncer: PgBouncer;
    let lenient: PgBouncer;
    let pooled: TestDatabase;
    let srv: TestServer;
    let team: { teamId: string; apiKey: string };

    before(async () => {
      direct = await freshDatabase(backend, { poolMax: 2 });
      spare = await freshDatabase(backend, { migrate: false, poolMax: 1 });
      bouncer = await startPgBouncer({ upstreams: [direct.url, spare.url], poolSize: SERVER_POOL });
      // As the user did next: PgBouncer told to ignore statement_timeout, one server connection.
      lenient = await startPgBouncer({ upstreams: [direct.url], poolSize: 1, extra: { ignore_startup_parameters: 'extra_float_digits,statement_timeout' } });
      pooled = await pooledDatabase(direct, bouncer);
      srv = await startServer(pooled, { logLevel: 'silent' });
      team = await srv.newTeam('pooled');
    });
    after(async () => {
      await srv?.close();
      await pooled?.db.close();
      await bouncer?.stop();
      await lenient?.stop();
      await direct?.drop();
      await spare?.drop();
    });

    test('without DATABASE_POOLER, PgBouncer refuses the startup parameter statement_timeout', async () => {
      const db = createDb({ url: bouncer.via(direct.url), max: 1 });
      try {
        await assert.rejects(db.pool.query('select 1'), /unsupported startup parameter: statement_timeout/);
      } finally {
        await db.close();
      }
    });

    test('without DATABASE_POOLER, a named statement meets another client\'s on the shared server session; with it, not', async () => {
      // Two of Roster's connections, one server connection behind them: the second prepares the
      // name the first already prepared there.
      const twice = async (db: Db) => {
        const q = (k: import('kysely').Kysely<any>) => k.selectFrom('teams').select('id').where('name', '=', 'nobody').execute();
        await db.kysely.connection().execute(async (a) => {
          await q(a);
          await db.kysely.connection().execute(async (b) => { await q(b); });
        });
      };
      const named = createDb({ url: lenient.via(direct.url), max: 2 });
      try {
        await assert.rejects(twice(named), /prepared statement "r[0-9a-z]+" already exists/);
      } finally {
        await named.close();
      }
      const unnamed = createDb({ url: lenient.via(direct.url), max: 2, pooler: 'transaction' });
      try {
        await twice(unnamed);
        await twice(unnamed);
      } finally {
        await unnamed.close();
      }
    });

    test('explicit transactions carry statement_timeout (set local), the server session keeps none', async () => {
      const db = createDb({ url: lenient.via(direct.url), max: 2, pooler: 'transaction', statementTimeoutMillis: 1234 });
      try {
        const inTx = await db.kysely.transaction().execute((tx) => import('kysely').then(({ sql }) => sql<{ t: string }>`select current_setting('statement_timeout') as t`.execute(tx)));
        assert.equal(inTx.rows[0]!.t, '1234ms');
        const after = await db.pool.query<{ t: string }>(`select current_setting('statement_timeout') as t`);
        assert.notEqual(after.rows[0]!.t, '1234ms', 'nothing of the transaction stays on the shared server session');
        // A statement over the limit inside a transaction is cancelled by the server.
        await assert.rejects(db.kysely.transaction().execute((tx) => import('kysely').then(({ sql }) => sql`select pg_sleep(3)`.execute(tx))), /statement timeout/);
      } finally {
        await db.close();
      }
    });

    test('one LISTEN connection on the direct URL carries several channels; NOTIFY goes through the pooler', async () => {
      const listener = openListener(direct.url, { applicationName: 'roster-test-listen' });
      const got: string[] = [];
      let gaps = 0;
      try {
        const stopA = listener.listen('roster_test_a', (p) => got.push(`a:${p}`), () => { gaps++; });
        let bReady = false;
        listener.listen('roster_test_b', (p) => got.push(`b:${p}`), () => { bReady = true; });
        for (const end = Date.now() + 10_000; !(listener.connected() && bReady) && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
        assert.ok(listener.connected() && bReady);
        await pooled.db.pool.query(`select pg_notify('roster_test_a', '1'), pg_notify('roster_test_b', '2')`);
        for (const end = Date.now() + 5000; got.length < 2 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(got.sort(), ['a:1', 'b:2']);
        assert.ok(gaps >= 1, 'told once the LISTEN is in place');
        stopA();
        await pooled.db.pool.query(`select pg_notify('roster_test_a', '3'), pg_notify('roster_test_b', '4')`);
        for (const end = Date.now() + 5000; got.length < 3 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(got.sort(), ['a:1', 'b:2', 'b:4']);
        const sessions = await direct.db.pool.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where application_name = 'roster-test-listen'`);
        assert.equal(sessions.rows[0]!.n, 1);
      } finally {
        await listener.close();
      }
    });

    test('Junction SDK lifecycle: create, get, patch, resolve, delete, undo, metrics', async () => {
      const vital = new VitalClient({ apiKey: team.apiKey, baseUrl: srv.baseUrl, maxRetries: 0 });
      for (let i = 0; i < 5; i++) {
        const { userId } = await vital.user.create({ clientUserId: `sdk-${i}`, fallbackTimeZone: 'Europe/London' });
        const u = await vital.user.get(userId);
        assert.equal(u.clientUserId, `sdk-${i}`);
        await vital.user.patch(userId, { fallbackBirthDate: '1990-04-01' });
        assert.equal((await vital.user.getByClientUserId(`sdk-${i}`)).userId, userId);
        assert.equal((await vital.user.get(userId)).fallbackBirthDate?.value, '1990-04-01');
        await vital.user.delete(userId);
        await vital.user.undoDelete({ userId });
        assert.equal((await vital.user.get(userId)).userId, userId);
      }
      const metrics = await vital.user.getTeamMetrics();
      assert.ok((metrics.numberOfUsers ?? 0) >= 5, JSON.stringify(metrics));
      const list = await call(srv.baseUrl, 'GET', '/v2/user?limit=100', { key: team.apiKey });
      assert.equal(list.status, 200);
      assert.equal(list.body.users.filter((u: { client_user_id: string }) => u.client_user_id.startsWith('sdk-')).length, 5);
    });

    test('idempotent writes: a replay answers the first response; 20 concurrent sends of one key store one user', async () => {
      const send = () => call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: 'idem-1' }, headers: { 'idempotency-key': 'k-idem-1' } });
      const first = await send();
      assert.equal(first.status, 200, first.text);
      const again = await send();
      assert.equal(again.status, 200);
      assert.equal(again.text, first.text);
      const burst = await Promise.all(Array.from({ length: 20 }, () => call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: 'idem-2' }, headers: { 'idempotency-key': 'k-idem-2' } })));
      for (const r of burst) assert.ok(r.status === 200 || r.status === 409, `${r.status} ${r.text}`);
      const ok = burst.filter((r) => r.status === 200);
      assert.ok(ok.length >= 1);
      assert.equal(new Set(ok.map((r) => r.body.user_id)).size, 1);
      const n = await direct.db.pool.query<{ n: number }>(`select count(*)::int as n from users where client_user_id in ('idem-1', 'idem-2')`);
      assert.equal(n.rows[0]!.n, 2);
    });

    test('300 concurrent creates (Roster pool 12, PgBouncer 4 server connections): all 200, each stored once', async () => {
      const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: `burst-${i}` } })));
      const statuses = new Map<number, number>();
      for (const r of rs) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      assert.deepEqual([...statuses], [[200, 300]], JSON.stringify(rs.find((r) => r.status !== 200)?.text));
      const stored = await direct.db.pool.query<{ n: number; d: number }>(`select count(*)::int as n, count(distinct client_user_id)::int as d from users where client_user_id like 'burst-%'`);
      assert.deepEqual(stored.rows[0], { n: 300, d: 300 });
      // And read back through the pooler, by id (30 at a time): no 5xx.
      const reads: { status: number; text: string }[] = [];
      for (let i = 0; i < rs.length; i += 30) reads.push(...await Promise.all(rs.slice(i, i + 30).map((r) => call(srv.baseUrl, 'GET', `/v2/user/${r.body.user_id}`, { key: team.apiKey }))));
      assert.deepEqual(reads.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text.slice(0, 200)}`), []);
      // The audit trail of those writes was flushed through the pooler too.
      await srv.built.services.audit.flush();
      const audited = await direct.db.pool.query<{ n: number }>(`select count(*)::int as n from audit_events where action = 'junction.createUser'`);
      assert.ok(audited.rows[0]!.n >= 300, `audit entries: ${audited.rows[0]!.n}`);
    });

    test('Onvy and basic faces: create, read, list, patch, delete', async () => {
      const onvy = (m: string, p: string, json?: unknown) => call(srv.baseUrl, m, `/onvy${p}`, { apiKey: team.apiKey, ...(json !== undefined ? { json } : {}) });
      for (let i = 0; i < 5; i++) {
        const c = await onvy('POST', '/users', { id: `onvy-${i}`, firstname: 'Avery', lastname: 'Smith', birthday: '1990-04-17', tz_offset: 3600 });
        assert.equal(c.status, 201, c.text);
        assert.equal((await onvy('GET', `/users/onvy-${i}`)).status, 200);
        const p = await onvy('PATCH', `/users/onvy-${i}`, { firstname: 'Blake' });
        assert.equal(p.status, 200, p.text);
      }
      assert.equal((await onvy('DELETE', '/users/onvy-0')).status, 204);
      assert.equal((await onvy('GET', '/users/onvy-0')).status, 404);
      const ol = await onvy('GET', '/users?limit=100');
      assert.equal(ol.status, 200);

      const basic = (m: string, p: string, json?: unknown) => call(srv.baseUrl, m, `/basic${p}`, { bearer: team.apiKey, ...(json !== undefined ? { json } : {}) });
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) {
        const c = await basic('POST', '/users', { firstName: 'John', lastName: `Doe${i}`, contactEmail: `john${i}@example.com` });
        assert.equal(c.status, 201, c.text);
        ids.push(c.body.userId);
        assert.deepEqual((await basic('GET', `/users/${c.body.userId}`)).body, c.body);
      }
      assert.equal(new Set(ids).size, 5);
      const pb = await basic('PATCH', `/users/${ids[1]}`, { firstName: 'Jane' });
      assert.equal(pb.status, 200, pb.text);
      assert.equal((await basic('DELETE', `/users/${ids[2]}`)).status, 204);
      const bl = await basic('GET', '/users?_page=0&_perPage=20');
      assert.equal(bl.status, 200);
      assert.equal(bl.body.filter?.((u: { userId: number }) => ids.includes(u.userId)).length ?? bl.body.users?.length, 4);
    });

    test('roster backup and restore with DATABASE_POOLER=transaction: direct URL for the snapshot and the restore', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-pgb-backup-'));
      try {
        const file = path.join(dir, 'b.gz');
        const env = (url: string) => ({ DATABASE_URL: bouncer.via(url), DATABASE_POOLER: 'transaction', DATABASE_DIRECT_URL: url });
        const b = await roster(['backup', '--out', file, '--no-progress'], env(direct.url));
        assert.equal(b.code, 0, b.stderr);
        const r = await roster(['restore', file, '--no-progress'], env(spare.url));
        assert.equal(r.code, 0, r.stderr);
        const count = async (url: string) => {
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          try {
            return (await c.query<{ u: number; t: number; k: number }>('select (select count(*)::int from users) as u, (select count(*)::int from teams) as t, (select count(*)::int from api_keys) as k')).rows[0];
          } finally {
            await c.end();
          }
        };
        const before = await count(direct.url);
        assert.ok(before!.u >= 300);
        assert.deepEqual(await count(spare.url), before);
        // The CLI through the pooler: the restored team's key lists its users.
        const list = await roster(['team', 'list'], env(spare.url));
        assert.equal(list.code, 0, list.stderr);
        assert.ok(list.stdout.includes(team.teamId));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    test('migrations through the pooler from two callers at once: each applied once', async () => {
      // migrate() takes a transaction-scoped lock per migration: safe even where only the pooler is reachable.
      const fresh = await freshDatabase(backend, { migrate: false, poolMax: 1 });
      const b = await startPgBouncer({ upstreams: [fresh.url], poolSize: 2 });
      const dbs = [0, 1].map(() => createDb({ url: b.via(fresh.url), max: 2, pooler: 'transaction' }));
      try {
        const [a, c] = await Promise.all(dbs.map((d) => migrate(d.pool)));
        const rows = await fresh.db.pool.query<{ version: number; n: number }>('select version, count(*)::int as n from schema_migrations group by version order by version');
        assert.ok(rows.rows.length >= 8);
        assert.ok(rows.rows.every((r) => r.n === 1));
        assert.equal(a!.length + c!.length, rows.rows.length, 'each migration applied by exactly one of them');
      } finally {
        for (const d of dbs) await d.close();
        await b.stop();
        await fresh.drop();
      }
    });
  });
}
