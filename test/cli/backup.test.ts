// `roster backup` / `roster restore` (src/db/backup/, src/cli/backup.ts), the way an operator
// runs them (real processes) and judged by what API clients see afterwards: the same users,
// records and keys. On each PostgreSQL backend, across backends (embedded 18 ⇄ server 15) when
// both run, across migration levels, with damaged files, and with a server running on DATA_DIR.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Writable } from 'node:stream';
import { backends, freshDatabase, type Backend, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { demographicsBody, insuranceBody } from '../support/records.ts';
import { backupDatabase, type BackupTrailer } from '../../src/db/backup/index.ts';
import { loadMigrations, migrate } from '../../src/db/migrate.ts';
import { TeamsService } from '../../src/domain/teams.ts';
import { PgTeamsRepo } from '../../src/store/teams.ts';
import { startRoster, tempDir, cleanupAll, waitExit, type RosterProcess } from '../reliability/fixtures/harness.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
// One public URL for the source and the restored server: sign-in tokens name it in their `aud`.
const ONE_URL = { publicUrl: 'http://roster.backup.test' };
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

interface Run { code: number | null; stdout: string; stderr: string }

/** The CLI as a process; `env` on top of a clean environment (no inherited DATABASE_URL). */
function roster(args: string[], env: Record<string, string>, stdin?: Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/roster.js'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), LOG_LEVEL: 'silent', ...env },
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    if (stdin) child.stdin!.end(stdin);
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
const db = (url: string) => ({ DATABASE_URL: url });

function ok(r: Run, what: string): any {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter(Boolean);
  return lines.length ? JSON.parse(lines[lines.length - 1]!) : null;
}

/** A refused or failed command: non-zero exit, one `roster: …` message, no stack trace, nothing on stdout. */
function refused(r: Run, what: string, message: RegExp): void {
  assert.notEqual(r.code, 0, `${what} should fail\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.match(r.stderr, message, what);
  assert.doesNotMatch(r.stderr, /^\s+at .+[(:]\d+/m, `${what}: no stack trace\n${r.stderr}`);
}

/** The trailer of a backup file: per-table rows and SHA-256 (what "the same data" means). */
function trailerOf(file: string): BackupTrailer {
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  return JSON.parse(text.trimEnd().split('\n').pop()!) as BackupTrailer;
}

/** The database's content as a backup would write it (per-table rows and checksums). */
async function fingerprint(url: string): Promise<BackupTrailer['tables']> {
  const chunks: Buffer[] = [];
  await backupDatabase({ url, out: new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } }) });
  return (JSON.parse(zlib.gunzipSync(Buffer.concat(chunks)).toString('utf8').trimEnd().split('\n').pop()!) as BackupTrailer).tables;
}

/** Rewrites the text inside a backup file (gunzip → fn → gzip). */
function rewrite(from: string, to: string, fn: (text: string) => string): string {
  fs.writeFileSync(to, zlib.gzipSync(fn(zlib.gunzipSync(fs.readFileSync(from)).toString('utf8'))));
  return to;
}

interface Seeded {
  teamId: string;
  key: string;
  readOnlyKey: string;
  revokedKey: string;
  userIds: string[];
  basicUserId: number;
  userToken: string;
  deletedClientId: string;
}

/** A team with keys, and users with everything a user can have, made through the faces. */
async function seed(srv: TestServer, tag: string): Promise<Seeded> {
  const { teamId, apiKey: key } = await srv.newTeam(`backup-${tag}`, 'sandbox');
  const teams = srv.built.services.teams;
  const readOnlyKey = (await teams.createKey(teamId, 'read_only')).apiKey;
  const revoked = await teams.createKey(teamId, 'full');
  await teams.revokeKey(revoked.key.id);
  const j = (method: string, p: string, json?: unknown) => call(srv.baseUrl, method, p, { key, ...(json === undefined ? {} : { json }) });
  const created = async (body: Record<string, unknown>) => {
    const r = await j('POST', '/v2/user', body);
    assert.equal(r.status, 200, r.text);
    return r.body.user_id as string;
  };
  const a = await created({ client_user_id: `${tag}-patient-1`, fallback_time_zone: 'Europe/London', fallback_birth_date: '1990-04-01', ingestion_start: '2024-01-01' });
  assert.equal((await j('PATCH', `/v2/user/${a}/info`, demographicsBody())).status, 200);
  assert.equal((await j('POST', `/v2/user/${a}/insurance`, insuranceBody())).status, 200);
  assert.equal((await j('POST', '/v2/link/connect/demo', { user_id: a, provider: 'oura' })).status, 200);
  // Text COPY must escape: tabs, newlines, backslashes, quotes, non-ASCII.
  const b = await created({ client_user_id: `${tag} tab\there\nnew line "quoted" back\\slash Zoë 🚴` });
  const gone = await created({ client_user_id: `${tag}-deleted` });
  assert.equal((await j('DELETE', `/v2/user/${gone}`)).status, 200);
  const onvy = await call(srv.baseUrl, 'POST', '/onvy/users', { headers: { 'x-api-key': key }, json: { id: `${tag}-onvy`, firstname: 'Avery', lastname: 'Smith', birthday: '1990-04-17', tz_offset: 3600 } });
  assert.equal(onvy.status, 201, onvy.text);
  const basic = await call(srv.baseUrl, 'POST', '/basic/users', { headers: { authorization: `Bearer ${key}` }, json: { firstName: 'John', lastName: 'Doe', contactEmail: `${tag}.john@example.com` } });
  assert.equal(basic.status, 201, basic.text);
  const sit = await j('POST', `/v2/user/${a}/sign_in_token`);
  assert.equal(sit.status, 200, sit.text);
  const userToken = (JSON.parse(Buffer.from(sit.body.sign_in_token, 'base64').toString('utf8')) as { user_token: string }).user_token;
  const onvyId = (await j('GET', `/v2/user/resolve/${tag}-onvy`)).body.user_id as string;
  return { teamId, key, readOnlyKey, revokedKey: revoked.apiKey, userIds: [a, b, onvyId], basicUserId: basic.body.userId as number, userToken, deletedClientId: `${tag}-deleted` };
}

/** Everything an API client of the team sees. */
async function view(baseUrl: string, s: Seeded): Promise<unknown> {
  const get = async (p: string, headers: Record<string, string> = { 'x-vital-api-key': s.key }) => {
    const r = await call(baseUrl, 'GET', p, { headers });
    return { status: r.status, body: r.body };
  };
  const out: Record<string, unknown> = {
    list: await get('/v2/user?offset=0&limit=100'),
    metrics: await get('/v2/user/metrics'),
    basic: await get(`/basic/users/${s.basicUserId}`, { authorization: `Bearer ${s.key}` }),
  };
  for (const id of s.userIds) {
    out[id] = {
      user: await get(`/v2/user/${id}`),
      info: await get(`/v2/user/${id}/info/latest`),
      insurance: await get(`/v2/user/${id}/insurance/latest`),
      providers: await get(`/v2/user/providers/${id}`),
      devices: await get(`/v2/user/${id}/device`),
    };
  }
  return out;
}

/** After a restore: the keys behave as before, the records are there, numbering continues. */
async function checkRestored(baseUrl: string, s: Seeded, expected: unknown): Promise<void> {
  assert.deepEqual(await view(baseUrl, s), expected, 'the same users, records and answers');
  assert.equal((await call(baseUrl, 'GET', '/v2/user?limit=1', { key: s.readOnlyKey })).status, 200, 'the read-only key authenticates');
  assert.equal((await call(baseUrl, 'POST', '/v2/user', { key: s.readOnlyKey, json: { client_user_id: 'ro' } })).status, 403, 'and is still read-only');
  assert.equal((await call(baseUrl, 'GET', '/v2/user?limit=1', { key: s.revokedKey })).status, 401, 'a revoked key stays revoked');
  // The soft-deleted user can still be brought back (its undo window came along).
  const undo = await call(baseUrl, 'POST', `/v2/user/undo_delete?client_user_id=${encodeURIComponent(s.deletedClientId)}`, { key: s.key });
  assert.equal(undo.status, 200, undo.text);
  // The sign-in token issued before the backup is exchanged after it: signing keys and tokens came back.
  const ex = await fetch(`${baseUrl}/auth/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: s.userToken, subject_token_type: JWT_TYPE }).toString() });
  assert.equal(ex.status, 200, await ex.text());
  // New users get fresh basic numbers (the sequence was restored, not restarted).
  const fresh = await call(baseUrl, 'POST', '/basic/users', { headers: { authorization: `Bearer ${s.key}` }, json: { firstName: 'After', lastName: 'Restore', contactEmail: `after.${Date.now()}@example.com` } });
  assert.equal(fresh.status, 201, fresh.text);
  assert.ok(fresh.body.userId > s.basicUserId, `a new number (${fresh.body.userId}) after the restored ones (${s.basicUserId})`);
}

for (const backend of backends()) {
  describe(`roster backup and restore (${backend.name})`, () => {
    let dir: string;
    let src: TestDatabase;
    let srv: TestServer;
    let seeded: Seeded;
    let file: string;
    let expected: unknown;
    const scratch: TestDatabase[] = [];
    const fresh = async (migrated = false) => {
      const t = await freshDatabase(backend, { migrate: migrated });
      scratch.push(t);
      return t;
    };

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-backup-'));
      src = await freshDatabase(backend);
      srv = await startServer(src, ONE_URL);
      seeded = await seed(srv, 's');
      expected = await view(srv.baseUrl, seeded);
      file = path.join(dir, 'src.gz');
    });
    after(async () => {
      await srv?.close();
      await src?.drop();
      for (const t of scratch) await t.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('backup --out FILE (0600, summary on stdout) → restore into an empty database: API clients see the same users, records and keys', async () => {
      const b = ok(await roster(['backup', '--out', file], db(src.url)), 'backup');
      assert.equal(b.file, file);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'the file holds everything: owner-only');
      assert.equal(fs.existsSync(`${file}.partial`), false);
      assert.equal(b.tables.users, 5, 'two Junction users, a soft-deleted one, an Onvy one, a basic one');
      assert.equal(b.tables.api_keys, 3);
      assert.equal(b.rows, Object.values(b.tables as Record<string, number>).reduce((x, n) => x + n, 0));
      assert.equal(b.migration, (await loadMigrations()).pop()!.name);
      assert.equal('schema_migrations' in b.tables, false, 'bookkeeping is recorded as the migration list, not copied');

      const dst = await fresh();
      const r = ok(await roster(['restore', file], db(dst.url)), 'restore');
      assert.equal(r.restored, true);
      assert.equal(r.replaced, false);
      assert.deepEqual(r.tables, b.tables, 'every table, every row');
      assert.deepEqual(r.migrations_applied, (await loadMigrations()).map((m) => m.name), 'the empty database was migrated first');
      assert.deepEqual(await fingerprint(dst.url), trailerOf(file).tables, 'byte for byte the same data');

      const there = await startServer(dst, ONE_URL);
      try {
        await checkRestored(there.baseUrl, seeded, expected);
      } finally {
        await there.close();
      }
    });

    test('stdout when piped, stdin with "-": the same bytes of data', async () => {
      const piped = await new Promise<{ code: number | null; out: Buffer; err: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'bin/roster.js'), 'backup'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', DATABASE_URL: src.url }, stdio: ['ignore', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        let err = '';
        child.stdout.on('data', (d: Buffer) => out.push(d));
        child.stderr.on('data', (d) => { err += d; });
        child.on('close', (code) => resolve({ code, out: Buffer.concat(out), err }));
      });
      assert.equal(piped.code, 0, piped.err);
      assert.equal(piped.out[0], 0x1f, 'gzip on stdout');
      const summary = JSON.parse(piped.err.trim().split('\n').pop()!);
      assert.equal(summary.file, null);
      const dst = await fresh(true);
      const r = ok(await roster(['restore', '-'], db(dst.url), piped.out), 'restore -');
      assert.equal(r.rows, summary.rows);
      assert.deepEqual(await fingerprint(dst.url), await fingerprint(src.url));
    });

    test('a database that holds data is refused (and left alone); --replace replaces it in one transaction', async () => {
      const dst = await fresh(true);
      const other = await new TeamsService(new PgTeamsRepo(dst.db.kysely)).createTeam('already-here', 'production');
      const before = await fingerprint(dst.url);
      refused(await roster(['restore', file], db(dst.url)), 'restore into a used database', /already holds data \(in .*teams.*\).*--replace/);
      assert.deepEqual(await fingerprint(dst.url), before, 'untouched');

      const there = await startServer(dst, ONE_URL);
      try {
        assert.equal((await call(there.baseUrl, 'GET', '/v2/user?limit=1', { key: other.apiKey })).status, 200);
        // Replaced while a server is running on it: its cached key is dropped at once.
        const r = ok(await roster(['restore', '--replace', file], db(dst.url)), 'restore --replace');
        assert.equal(r.replaced, true);
        assert.equal((await call(there.baseUrl, 'GET', '/v2/user?limit=1', { key: other.apiKey })).status, 401, 'the replaced team\'s key no longer works, even on the running server');
        assert.deepEqual(await view(there.baseUrl, seeded), expected);
      } finally {
        await there.close();
      }
    });

    test('a truncated, altered or foreign file fails with a message (no row data in it) and leaves the target as it was', async () => {
      const dst = await fresh(true);
      await new TeamsService(new PgTeamsRepo(dst.db.kysely)).createTeam('keep-me', 'production');
      const before = await fingerprint(dst.url);
      const bytes = fs.readFileSync(file);
      const text = zlib.gunzipSync(bytes).toString('utf8');
      const bad = (name: string, content: Buffer | string) => { const p = path.join(dir, name); fs.writeFileSync(p, content); return p; };

      const cases: [string, string, RegExp][] = [
        ['cut inside the gzip stream', bad('cut.gz', bytes.subarray(0, Math.floor(bytes.length * 0.6))), /cannot be read: unexpected end of file/],
        ['cut at a line (valid gzip)', bad('lines.gz', zlib.gzipSync(text.slice(0, text.indexOf('\n', Math.floor(text.length * 0.7)) + 1))), /ends in the middle of table|trailer is missing/],
        ['without its trailer', bad('notrailer.gz', zlib.gzipSync(text.slice(0, text.trimEnd().lastIndexOf('\n') + 1))), /trailer is missing/],
        ['one character changed in a row', rewrite(file, path.join(dir, 'changed.gz'), (t) => t.replace('s-patient-1', 's-patient-7')), /damaged: the data of users does not match its checksum/],
        ['a value COPY cannot read', rewrite(file, path.join(dir, 'uuid.gz'), (t) => t.replace(seeded.teamId, 'not-a-uuid-secret-value')), /loading table \w+ failed: invalid input syntax for type uuid at row \d+ \(SQLSTATE 22P02\)/],
        ['data after the trailer', bad('extra.gz', Buffer.concat([bytes, zlib.gzipSync('more\n')])), /data after its trailer/],
        ['not a backup', bad('other.jsonl', '{"client_user_id": "x"}\n'), /not a Roster backup/],
        ['empty', bad('empty.gz', ''), /not a Roster backup/],
      ];
      // All at once (each restore waits for the others' locks); any that loaded would show below.
      const runs = await Promise.all(cases.map(([, p]) => roster(['restore', '--replace', p], db(dst.url))));
      cases.forEach(([what, , message], i) => {
        refused(runs[i]!, what, message);
        assert.doesNotMatch(runs[i]!.stderr, /secret-value|patient/, `${what}: no row data in the message`);
      });
      assert.deepEqual(await fingerprint(dst.url), before, 'the target is as it was');
      refused(await roster(['restore', path.join(dir, 'nope.gz')], db(dst.url)), 'a missing file', /no such file/);
    });

    test('online and consistent: a backup taken while clients keep writing holds each write completely or not at all', async () => {
      // A large first table keeps the backup busy while the writes go on.
      const { teamId, apiKey } = await srv.newTeam('busy', 'production');
      await src.db.pool.query(`insert into audit_events (team_id, id, key_id, action, user_id, request_id, status, at)
        select $1, gen_random_uuid(), null, 'bulk.fill', null, 'r' || g, 200, now() from generate_series(1, 150000) g`, [teamId]);
      let stop = false;
      let acked = 0;
      const writer = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const id = `w${w}-${i}`;
          const r = await call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: id }, headers: { 'idempotency-key': id } });
          assert.equal(r.status, 200, r.text);
          acked++;
        }
      };
      const writers = [0, 1, 2].map(writer);
      while (acked < 20) await new Promise((r) => setTimeout(r, 20));
      const atStart = acked;
      const out = path.join(dir, 'busy.gz');
      const b = await roster(['backup', '--out', out], db(src.url));
      const atEnd = acked;
      stop = true;
      await Promise.all(writers);
      ok(b, 'backup under load');
      assert.ok(atEnd > atStart, `writes went on during the backup (${atStart} → ${atEnd})`);

      const dst = await fresh();
      ok(await roster(['restore', out], db(dst.url)), 'restore');
      // Each create wrote its user and its idempotency key in one transaction; tables are copied
      // one after another (idempotency_keys before users), so only one snapshot gives equal sets.
      const q = async (sql: string) => (await dst.db.pool.query<{ k: string }>(sql, [teamId])).rows.map((r) => r.k).sort();
      const users = await q(`select client_user_id as k from users where team_id = $1`);
      const keys = await q(`select key as k from idempotency_keys where team_id = $1`);
      assert.ok(users.length >= atStart && users.length <= atEnd, `${users.length} users, between ${atStart} and ${atEnd}`);
      assert.deepEqual(keys, users, 'every user with its idempotency key, and no key without its user');
    });

    test('one snapshot, deterministically: writes committed between tables are in none of them', async () => {
      const { teamId } = await srv.newTeam('between', 'production');
      const teams = new TeamsService(new PgTeamsRepo(src.db.kysely));
      const chunks: Buffer[] = [];
      const seen = new Set<string>();
      await backupDatabase({
        url: src.url,
        out: new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } }),
        // After each table is written: a new key for the team and a new team, both committed.
        afterTable: async (name) => { seen.add(name); await teams.createKey(teamId, 'full'); await teams.createTeam(`between-${name}`, 'production'); },
      });
      assert.ok(seen.has('teams') && seen.has('api_keys'));
      const file2 = path.join(dir, 'between.gz');
      fs.writeFileSync(file2, Buffer.concat(chunks));
      const dst = await fresh();
      ok(await roster(['restore', file2], db(dst.url)), 'restore');
      const n = async (sql: string) => Number((await dst.db.pool.query<{ n: string }>(sql, [teamId])).rows[0]!.n);
      assert.equal(await n(`select count(*) as n from api_keys where team_id = $1`), 1, 'only the key the team had when the backup started');
      assert.equal(Number((await dst.db.pool.query(`select count(*) as n from teams where name like 'between-%'`)).rows[0].n), 0, 'no team made during the backup');
    });
  });
}

describe('roster backup and restore across migration levels', () => {
  const backend = backends()[0]!;
  let dir: string;
  const dbs: TestDatabase[] = [];
  const fresh = async () => { const t = await freshDatabase(backend, { migrate: false }); dbs.push(t); return t; };
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-backup-mig-')); });
  after(async () => {
    for (const t of dbs) await t.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A database one migration behind this build, with a team, a key and users written at that level. */
  async function olderSource(): Promise<{ file: string; key: string; users: string[]; older: string; latest: string }> {
    const known = await loadMigrations();
    const older = known.slice(0, -1);
    const src = await fresh();
    await migrate(src.db.pool, older);
    const { team, apiKey } = await new TeamsService(new PgTeamsRepo(src.db.kysely)).createTeam('older', 'production');
    const users: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `0190a0a0-0000-7000-8000-00000000000${i}`;
      users.push(id);
      await src.db.pool.query(`insert into users (team_id, id, client_user_id, created_at, updated_at) values ($1, $2, $3, now(), now())`, [team.id, id, `old-${i}`]);
    }
    const file = path.join(dir, `older-${dbs.length}.gz`);
    const b = ok(await roster(['backup', '--out', file], db(src.url)), 'backup at the older level');
    assert.equal(b.migration, older[older.length - 1]!.name);
    return { file, key: apiKey, users, older: older[older.length - 1]!.name, latest: known[known.length - 1]!.name };
  }

  async function checkUsable(t: TestDatabase, key: string, users: string[]): Promise<void> {
    const srv = await startServer(t, ONE_URL);
    try {
      for (const [i, id] of users.entries()) {
        const r = await call(srv.baseUrl, 'GET', `/v2/user/${id}`, { key });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.client_user_id, `old-${i}`);
      }
      const listed = await call(srv.baseUrl, 'GET', '/basic/users?_page=0&_perPage=20', { headers: { authorization: `Bearer ${key}` } });
      assert.equal(listed.status, 200, listed.text);
      const have = (listed.body as { users: { userId: number }[] }).users.map((u) => u.userId);
      const made = await call(srv.baseUrl, 'POST', '/basic/users', { headers: { authorization: `Bearer ${key}` }, json: { firstName: 'New', lastName: 'One', contactEmail: 'new.one@example.com' } });
      assert.equal(made.status, 201, made.text);
      assert.ok(have.every((n) => made.body.userId > n), `a new basic number (${made.body.userId}) after the restored ones (${have.join(', ')})`);
    } finally {
      await srv.close();
    }
  }

  test('an older backup into an empty database: migrated to its level, loaded, then migrated to this build\'s', async () => {
    const s = await olderSource();
    const dst = await fresh();
    const r = ok(await roster(['restore', s.file], db(dst.url)), 'restore');
    assert.equal(r.backup.migration, s.older);
    assert.equal(r.migrations_applied[r.migrations_applied.length - 1], s.latest, 'the later migration ran over the restored rows');
    await checkUsable(dst, s.key, s.users);
  });

  test('an older backup into a database already at this build\'s level (--replace after an upgrade): brought up through a scratch schema', async () => {
    const s = await olderSource();
    const dst = await fresh();
    await migrate(dst.db.pool);
    await new TeamsService(new PgTeamsRepo(dst.db.kysely)).createTeam('newer-data', 'production');
    refused(await roster(['restore', s.file], db(dst.url)), 'without --replace', /already holds data/);
    const r = ok(await roster(['restore', '--replace', s.file], db(dst.url)), 'restore --replace');
    assert.deepEqual(r.migrations_applied, [], 'the target was already at this build\'s level');
    const left = await dst.db.pool.query(`select nspname from pg_namespace where nspname like 'roster_restore_%'`);
    assert.equal(left.rowCount, 0, 'no scratch schema left behind');
    const names = (await dst.db.pool.query<{ name: string }>('select name from teams')).rows.map((x) => x.name);
    assert.deepEqual(names, ['older']);
    await checkUsable(dst, s.key, s.users);
  });

  test('a backup from a newer Roster (a migration this build does not know) is refused before anything is touched', async () => {
    const s = await olderSource();
    const future = rewrite(s.file, path.join(dir, 'future.gz'), (t) => t.replace('"migrations":[', '"migrations":[{"version":1,"name":"0001_init"},{"version":99,"name":"0099_from_the_future"},').replace('{"version":1,"name":"0001_init"},{"version":99', '{"version":99'));
    const dst = await fresh();
    refused(await roster(['restore', future], db(dst.url)), 'a newer backup', /migrations this build of Roster does not know \(0099_from_the_future\).*at least as new/);
    const tables = await dst.db.pool.query(`select 1 from pg_tables where schemaname = current_schema()`);
    assert.equal(tables.rowCount, 0, 'the empty database was not even migrated');
    const v2 = rewrite(s.file, path.join(dir, 'v2.gz'), (t) => t.replace('"version":1,"created_at"', '"version":2,"created_at"'));
    refused(await roster(['restore', v2], db(dst.url)), 'a newer format', /format version 2, newer/);
  });
});

describe('roster backup and restore between embedded PostgreSQL 18 and a server', () => {
  const list = backends();
  const embedded = list.find((b) => b.name === 'embedded');
  const server = list.find((b) => b.name === 'server');
  const skip = embedded && server ? false : 'needs both backends (set DATABASE_URL)';
  const dbs: TestDatabase[] = [];
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-backup-x-')); });
  after(async () => {
    for (const t of dbs) await t.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const fresh = async (b: Backend, migrated: boolean) => { const t = await freshDatabase(b, { migrate: migrated }); dbs.push(t); return t; };

  test('embedded → server → embedded: the same data, and API clients see the same answers', { skip }, async () => {
    const a = await fresh(embedded!, true);
    const srvA = await startServer(a, ONE_URL);
    let seeded: Seeded;
    let expected: unknown;
    try {
      seeded = await seed(srvA, 'x');
      expected = await view(srvA.baseUrl, seeded);
    } finally {
      await srvA.close();
    }
    const f1 = path.join(dir, 'from-embedded.gz');
    const f2 = path.join(dir, 'from-server.gz');
    const v1 = ok(await roster(['backup', '--out', f1], db(a.url)), 'backup (embedded)');
    const b = await fresh(server!, false);
    ok(await roster(['restore', f1], db(b.url)), 'restore onto the server');
    const v2 = ok(await roster(['backup', '--out', f2], db(b.url)), 'backup (server)');
    assert.notEqual(v1.server_version.split('.')[0], v2.server_version.split('.')[0], `two major versions (${v1.server_version}, ${v2.server_version})`);
    assert.deepEqual(trailerOf(f2).tables, trailerOf(f1).tables, 'byte for byte the same data from both servers');
    const c = await fresh(embedded!, false);
    ok(await roster(['restore', f2], db(c.url)), 'restore back onto embedded');
    for (const t of [b, c]) {
      const there = await startServer(t, ONE_URL);
      try {
        await checkRestored(there.baseUrl, seeded!, expected);
      } finally {
        await there.close();
      }
    }
  });
});

describe('roster backup and restore with the embedded database (DATA_DIR), a server running', () => {
  const running: RosterProcess[] = [];
  after(async () => {
    for (const p of running) { p.signal('SIGTERM'); await waitExit(p, 20_000); }
    await cleanupAll();
  });

  test('backup from a running server\'s DATA_DIR, restore into a new DATA_DIR and serve it; restore --replace under the running server', async () => {
    const dirA = tempDir('roster-bk-a-');
    const dirB = tempDir('roster-bk-b-');
    const a = await startRoster({ dataDir: path.join(dirA, 'data') });
    running.push(a);
    const envA = { DATA_DIR: path.join(dirA, 'data') };
    const t = ok(await roster(['team', 'create', '--name', 'on-disk', '--mode', 'production'], envA), 'team create beside the server');
    const key = t.api_key as string;
    const made = await call(a.baseUrl, 'POST', '/v2/user', { key, json: { client_user_id: 'kept' } });
    assert.equal(made.status, 200, made.text);
    const file = path.join(dirA, 'a.gz');
    ok(await roster(['backup', '--out', file], envA), 'backup beside the server');
    const later = await call(a.baseUrl, 'POST', '/v2/user', { key, json: { client_user_id: 'after-backup' } });
    assert.equal(later.status, 200);

    // A new data directory: restore starts its own PostgreSQL for the command, then a server uses it.
    const r = ok(await roster(['restore', file], { DATA_DIR: path.join(dirB, 'data') }), 'restore into a new DATA_DIR');
    assert.equal(r.tables.users, 1);
    const b = await startRoster({ dataDir: path.join(dirB, 'data') });
    running.push(b);
    const got = await call(b.baseUrl, 'GET', '/v2/user/resolve/kept', { key });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.body, (await call(a.baseUrl, 'GET', '/v2/user/resolve/kept', { key })).body);
    assert.equal((await call(b.baseUrl, 'GET', '/v2/user/resolve/after-backup', { key })).status, 404);

    // Back to the backup's state under the running server A: it keeps serving, with the old data.
    ok(await roster(['restore', '--replace', file], envA), 'restore --replace beside the server');
    assert.equal((await call(a.baseUrl, 'GET', '/v2/user/resolve/after-backup', { key })).status, 404);
    assert.equal((await call(a.baseUrl, 'GET', '/v2/user/resolve/kept', { key })).status, 200);
  });
});
