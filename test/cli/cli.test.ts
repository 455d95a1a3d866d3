// The `roster` command as an operator runs it (`node bin/roster.js …`, a real process): teams and
// keys against DATABASE_URL, the embedded database under DATA_DIR, argument errors, and the
// ROSTER_BOOTSTRAP_API_KEY path (TeamsService.ensureBootstrap).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, UUID_RE } from '../support/junction-http.ts';
import { bootstrapBanner } from '../../src/bootstrap-banner.ts';
import { createDb } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { roster, type CliRun } from '../support/cli.ts';

const UNKNOWN_ID = '0190a0a0-0000-7000-8000-000000000000';

type Run = CliRun;


/** stdout as JSON lines; every non-empty line must be one JSON object. */
function jsonLines(r: Run): Record<string, unknown>[] {
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      assert.fail(`not a JSON line: ${l}`);
    }
  });
}

function ok(r: Run, what: string) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** A refused command: non-zero exit, a message on stderr, nothing on stdout, no stack trace. */
function refused(r: Run, what: string, message?: RegExp) {
  assert.notEqual(r.code, 0, `${what} should fail\nstdout: ${r.stdout}`);
  assert.ok(r.stderr.trim().length > 0, `${what}: a message on stderr`);
  assert.doesNotMatch(r.stderr, /^\s+at .+[(:]\d+/m, `${what}: no stack trace\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /node:internal|\.ts:\d+:\d+/, `${what}: no internals\n${r.stderr}`);
  assert.equal(r.stdout.trim(), '', `${what}: nothing on stdout`);
  if (message) assert.match(r.stderr, message, what);
}

for (const backend of backends()) {
  describe(`roster CLI with DATABASE_URL (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let env: Record<string, string>;
    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      env = { DATABASE_URL: tdb.url };
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('closing a database handle ends its pool even if only the raw pool was used (roster migrate)', async () => {
      const db = createDb({ url: tdb.url, max: 2 });
      assert.deepEqual(await migrate(db.pool), []);
      assert.equal(db.pool.totalCount, 1);
      await db.close();
      assert.equal(db.pool.ended, true, 'an idle connection would keep the process alive for 30 s');
      assert.equal(db.pool.totalCount, 0);
    });

    test('migrate on a migrated database applies nothing and exits 0', async () => {
      const r = await roster(['migrate'], env);
      ok(r, 'migrate');
      const lines = jsonLines(r);
      assert.equal(lines.length, 1);
      assert.deepEqual(lines[0], { applied: [] });
    });

    test('purge: users past their undo window, expired sign-in tokens and idempotency keys go; the rest stays (the server\'s sweep)', async () => {
      const { apiKey, teamId } = await srv.newTeam('purging');
      const made = await Promise.all(['old-del', 'new-del', 'live'].map(async (cid) => (await call(srv.baseUrl, 'POST', '/v2/user', { key: apiKey, json: { client_user_id: cid } })).body.user_id as string));
      for (const id of made.slice(0, 2)) assert.equal((await call(srv.baseUrl, 'DELETE', `/v2/user/${id}`, { key: apiKey })).status, 200);
      const k = tdb.db.kysely;
      await k.updateTable('users').set({ deleted_at: new Date(Date.now() - 8 * 86_400_000) }).where('id', '=', made[0]!).execute();
      const idem = (key: string, expires: Date) => ({ team_id: teamId, key, fingerprint: Buffer.from('f'), response_status: 200, response_headers: null, response_body: '{}', created_at: new Date(expires.getTime() - 86_400_000), expires_at: expires });
      await k.insertInto('idempotency_keys').values([idem('gone', new Date(Date.now() - 60_000)), idem('kept', new Date(Date.now() + 3_600_000))]).execute();
      // Two sign-in tokens of the live user: one expired two days ago (purged a day after expiry), one fresh.
      for (let i = 0; i < 2; i++) assert.equal((await call(srv.baseUrl, 'POST', `/v2/user/${made[2]}/sign_in_token`, { key: apiKey })).status, 200);
      const tokens = async () => (await k.selectFrom('auth_sign_in_tokens').select('jti').where('team_id', '=', teamId).orderBy('jti').execute()).map((t) => t.jti);
      const [expired, fresh] = await tokens();
      await k.updateTable('auth_sign_in_tokens').set({ expires_at: new Date(Date.now() - 2 * 86_400_000) }).where('jti', '=', expired!).execute();
      const r = await roster(['purge'], env);
      ok(r, 'purge');
      assert.deepEqual(jsonLines(r), [{ purged: 1, auth_tokens_purged: 1, idempotency_keys_purged: 1, audit_events_purged: 0, webhook_rows_purged: 0, console_sessions_purged: 0 }], 'audit entries are kept unless ROSTER_AUDIT_RETENTION_DAYS is set');
      assert.deepEqual(await tokens(), [fresh], 'the expired sign-in token is gone, as the server\'s sweep deletes it');
      const left = (await k.selectFrom('users').select('id').where('team_id', '=', teamId).execute()).map((u) => u.id).sort();
      assert.deepEqual(left, made.slice(1).sort(), 'the user deleted 8 days ago is gone; the one deleted now can still be undone');
      assert.deepEqual((await k.selectFrom('idempotency_keys').select('key').where('team_id', '=', teamId).execute()).map((x) => x.key), ['kept']);

      // With a retention period, older audit entries go too (every team's), newer ones stay.
      const audited = await k.selectFrom('audit_events').select('id').where('team_id', '=', teamId).execute();
      assert.ok(audited.length >= 5, 'the creates and deletes above were audited');
      await k.updateTable('audit_events').set({ at: new Date(Date.now() - 40 * 86_400_000) }).where('team_id', '=', teamId).where('action', 'like', '%delete%').execute();
      const old = (await k.selectFrom('audit_events').select('id').where('team_id', '=', teamId).where('at', '<', new Date(Date.now() - 30 * 86_400_000)).execute()).length;
      assert.equal(old, 2);
      const r2 = await roster(['purge'], { ...env, ROSTER_AUDIT_RETENTION_DAYS: '30' });
      ok(r2, 'purge with retention');
      assert.deepEqual(jsonLines(r2), [{ purged: 0, auth_tokens_purged: 0, idempotency_keys_purged: 0, audit_events_purged: 2, webhook_rows_purged: 0, console_sessions_purged: 0 }]);
      assert.equal((await k.selectFrom('audit_events').select('id').where('team_id', '=', teamId).execute()).length, audited.length - 2);
    });

    test('team create, team list, key create (full and read_only), key revoke', async () => {
      const created = await roster(['team', 'create', '--name', 'CLI Team'], env);
      ok(created, 'team create');
      const lines = jsonLines(created);
      assert.equal(lines.length, 1, `exactly one JSON line: ${created.stdout}`);
      const t = lines[0] as { team_id: string; name: string; mode: string; key_id: string; api_key: string };
      assert.match(t.team_id, UUID_RE);
      assert.equal(t.name, 'CLI Team');
      assert.equal(t.mode, 'sandbox');
      assert.match(t.key_id, UUID_RE);
      assert.match(t.api_key, /^sk_/);
      // The key works against a server on the same database.
      const m = await call(srv.baseUrl, 'GET', '/v2/user/metrics', { key: t.api_key });
      assert.equal(m.status, 200, m.text);
      assert.equal(m.body.team_id, t.team_id);

      const [list, full, ro] = await Promise.all([
        roster(['team', 'list'], env),
        roster(['key', 'create', '--team', t.team_id], env),
        roster(['key', 'create', '--team', t.team_id.toUpperCase(), '--role', 'read_only'], env),
      ]);
      ok(list, 'team list');
      const teams = jsonLines(list);
      const listed = teams.find((x) => x.team_id === t.team_id);
      assert.ok(listed, list.stdout);
      assert.equal(listed.name, 'CLI Team');
      assert.equal(listed.mode, 'sandbox');
      assert.ok(!list.stdout.includes(t.api_key), 'team list never prints a key');

      ok(full, 'key create');
      const k1 = jsonLines(full);
      assert.equal(k1.length, 1);
      assert.equal(k1[0]!.team_id, t.team_id);
      assert.equal(k1[0]!.role, 'full');
      assert.match(String(k1[0]!.key_id), UUID_RE);
      assert.match(String(k1[0]!.api_key), /^sk_/);
      ok(ro, 'key create --role read_only');
      const k2 = jsonLines(ro)[0]!;
      assert.equal(k2.role, 'read_only');
      assert.equal(k2.team_id, t.team_id, 'an upper-case team id is the same team');
      for (const k of [k1[0]!.api_key, k2.api_key]) {
        const r = await call(srv.baseUrl, 'GET', '/v2/user', { key: String(k) });
        assert.equal(r.status, 200, r.text);
      }

      // Revoke the first key after the server has used (and cached) it.
      const revoked = await roster(['key', 'revoke', t.key_id], env);
      ok(revoked, 'key revoke');
      assert.deepEqual(jsonLines(revoked), [{ key_id: t.key_id, revoked: true }]);
      assert.equal(await srv.built.services.teams.authenticate(t.api_key), null);
      let status = 0;
      for (let i = 0; i < 50; i++) {
        status = (await call(srv.baseUrl, 'GET', '/v2/user', { key: t.api_key })).status;
        if (status === 401) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 401, 'the running server refuses the revoked key within ~5 s');
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: String(k1[0]!.api_key) })).status, 200, 'other keys still work');
    });

    test('refusals that need the database: non-zero exit, a message on stderr, never a stack trace', async () => {
      const [emptyName, unknownKey, unknownTeam] = await Promise.all([
        roster(['team', 'create', '--name', ''], env),
        roster(['key', 'revoke', UNKNOWN_ID], env),
        roster(['key', 'create', '--team', UNKNOWN_ID], env),
      ]);
      refused(emptyName, 'team create --name ""', /name/);
      refused(unknownKey, 'key revoke <unknown>', /not found/i);
      refused(unknownTeam, 'key create --team <unknown>', /not found/i);
      const teams = await srv.built.services.teams.listTeams();
      assert.ok(!teams.some((t) => t.name === ''), JSON.stringify(teams.map((t) => t.name)));
    });
  });

  describe(`roster CLI actions are audited (C11) (${backend.name})`, () => {
    let tdb: TestDatabase;
    before(async () => { tdb = await freshDatabase(backend); });
    after(async () => { await tdb?.drop(); });
    test('team create and set-mode by the CLI are cli.* audit entries', async () => {
      const env = { DATABASE_URL: tdb.url };
      const t = await roster(['team', 'create', '--name', 'cli-audited'], env);
      assert.equal(t.code, 0, t.stderr);
      const team = JSON.parse(t.stdout.trim().split('\n').pop()!);
      const rows = await tdb.db.pool.query('select action, key_id, request_id from audit_events where team_id = $1', [team.team_id]);
      assert.deepEqual(rows.rows.map((r: { action: string; key_id: string }) => [r.action, r.key_id]), [['cli.createTeam', team.key_id]]);
      assert.match(rows.rows[0].request_id, /^cli-/);
      const m = await roster(['team', 'set-mode', '--team', team.team_id, '--mode', 'production'], env);
      assert.equal(m.code, 0, m.stderr);
      assert.deepEqual(JSON.parse(m.stdout.trim().split('\n').pop()!), { team_id: team.team_id, mode: 'production', previous_mode: 'sandbox' });
      const after = await tdb.db.pool.query('select t.mode, a.action from teams t join audit_events a on a.team_id = t.id where t.id = $1 order by a.at', [team.team_id]);
      assert.deepEqual(after.rows.map((r: { mode: string; action: string }) => [r.mode, r.action]), [['production', 'cli.createTeam'], ['production', 'cli.setTeamMode']]);
    });
  });

  describe(`ROSTER_BOOTSTRAP_API_KEY (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('ensureBootstrap is idempotent and the key authenticates', async () => {
      const key = 'sk_us_bootstrap_0123456789abcdef';
      const teams = srv.built.services.teams;
      const first = await teams.ensureBootstrap(key);
      assert.equal(first.created, true);
      const second = await teams.ensureBootstrap(key);
      assert.deepEqual(second, { teamId: first.teamId, keyId: first.keyId, created: false, revoked: false });
      const listed = (await teams.listTeams()).filter((t) => t.name === 'default');
      assert.equal(listed.length, 1);
      assert.equal(listed[0]!.id, first.teamId);
      assert.equal(listed[0]!.keys, 1);
      const keys = await teams.listKeys(first.teamId);
      assert.equal(keys.length, 1);
      assert.ok(key.startsWith(keys[0]!.prefix));
      assert.ok(keys[0]!.prefix.length <= key.length / 4, `the stored prefix shows at most a quarter of the key: ${keys[0]!.prefix}`);

      const r = await call(srv.baseUrl, 'GET', '/v2/user/metrics', { key });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.team_id, first.teamId);
    });

    test('concurrent boots with one key make one team and one key', async () => {
      const key = 'bootstrap-concurrent-key-0123456789';
      const rs = await Promise.all(Array.from({ length: 8 }, () => srv.built.services.teams.ensureBootstrap(key, 'concurrent-boot')));
      assert.equal(rs.filter((r) => r.created).length, 1);
      assert.equal(new Set(rs.map((r) => r.teamId)).size, 1);
      assert.equal(new Set(rs.map((r) => r.keyId)).size, 1);
      assert.equal((await srv.built.services.teams.listTeams()).filter((t) => t.name === 'concurrent-boot').length, 1);
    });

    test('a second bootstrap key joins the existing default team', async () => {
      const teams = srv.built.services.teams;
      const a = await teams.ensureBootstrap('sk_us_bootstrap_0123456789abcdef');
      const b = await teams.ensureBootstrap('another-bootstrap-key-0123456789');
      assert.equal(b.created, true);
      assert.equal(b.teamId, a.teamId);
      assert.notEqual(b.keyId, a.keyId);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: 'another-bootstrap-key-0123456789' })).status, 200);
    });

    test('a revoked bootstrap key stays revoked at the next boot, and the start says so (C2)', async () => {
      const key = 'revoked-bootstrap-key-0123456789';
      const first = await srv.built.services.teams.ensureBootstrap(key, 'revived');
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key })).status, 200);
      await srv.built.services.revokeKey(first.keyId);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key })).status, 401);
      const again = await srv.built.services.teams.ensureBootstrap(key, 'revived');
      assert.deepEqual(again, { teamId: first.teamId, keyId: first.keyId, created: false, revoked: true });
      srv.built.services.keys.clear();
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key })).status, 401);
      const keys = await srv.built.services.teams.listKeys(first.teamId);
      assert.ok(keys.find((k) => k.id === first.keyId)?.revokedAt, 'still revoked in the database');
      const banner = bootstrapBanner(key, again);
      assert.match(banner, /REVOKED/);
      assert.ok((/bootstrap key (\S*)…/.exec(banner)?.[1] ?? 'x'.repeat(9)).length <= 4, `the banner shows at most 4 characters of the key: ${banner}`);
    });
  });
}

describe('roster CLI argument errors (no database needed)', () => {
  // Each case is a whole process start (~2 s of CPU), so each kind of failure is covered once:
  // commander's own checks and our argument checks, which run before any database is opened.
  test('non-zero exit, a message on stderr, never a stack trace', async () => {
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const cases: [string[], RegExp][] = [
      [['team', 'create'], /--name/],
      [['team', 'create', '--name', 'x', '--mode', 'weird'], /weird|mode/],
      [['key', 'create', '--team', 'not-a-uuid'], /UUID|uuid/],
      [['key', 'revoke', 'nope', '--bogus-flag'], /bogus|unknown option|UUID|uuid/],
      [['no-such-command'], /unknown command|no-such-command/],
    ];
    const runs = await Promise.all(cases.map(([args]) => roster(args, env)));
    runs.forEach((r, i) => refused(r, cases[i]![0].join(' '), cases[i]![1]));
  });

  test('an unreachable DATABASE_URL is a one-line error, not a stack trace', async () => {
    refused(await roster(['team', 'list'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }), 'unreachable database');
  });
});

describe('roster CLI with the embedded database (DATA_DIR only)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-cli-'));
    fs.chmodSync(dir, 0o755); // the 'postgres' user must be able to enter it when running as root
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('team create, then team list in a new process, sees the stored team', async () => {
    const env = { DATA_DIR: path.join(dir, 'data') };
    const created = await roster(['team', 'create', '--name', 'embedded-team', '--mode', 'production'], env);
    ok(created, 'team create (embedded)');
    const lines = jsonLines(created);
    assert.equal(lines.length, 1, created.stdout);
    const t = lines[0] as { team_id: string; name: string; mode: string; api_key: string };
    assert.equal(t.name, 'embedded-team');
    assert.equal(t.mode, 'production');
    assert.match(t.api_key, /^pk_/);

    const list = await roster(['team', 'list'], env);
    ok(list, 'team list (embedded)');
    const teams = jsonLines(list);
    assert.equal(teams.length, 1, list.stdout);
    assert.equal(teams[0]!.team_id, t.team_id);
    assert.equal(teams[0]!.name, 'embedded-team');
    assert.equal(teams[0]!.active_keys, 1);
    // No embedded server is left running: the data directory is not locked by a live process.
    const pid = path.join(dir, 'data', 'pg', 'postmaster.pid');
    assert.equal(fs.existsSync(pid), false, 'postmaster.pid removed: the embedded server was stopped');
  });
});
