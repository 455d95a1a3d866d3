// Embedded PostgreSQL lifecycle, with real processes: init, restart, the DATA_DIR lock,
// recovery after SIGKILL, and the root-only permission checks.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  EmbeddedLockedError,
  connectOrStartEmbedded,
  startEmbedded,
  type EmbeddedServer,
} from '../../src/db/embedded/index.ts';
import { findNativePackage, postgresRunAs, usableNativeDir } from '../../src/db/embedded/os.ts';
import { procState } from '../../src/db/embedded/proc.ts';

const isRoot = process.getuid?.() === 0;
const fixture = fileURLToPath(new URL('./fixtures/embedded-child.ts', import.meta.url));

// Everything created here is removed at the end, servers first.
const tempDirs: string[] = [];
const servers: EmbeddedServer[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.stop()));
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory the postgres user can enter (mkdtemp makes it 0700). */
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-emb-'));
  fs.chmodSync(dir, 0o755);
  tempDirs.push(dir);
  return dir;
}

async function start(dataDir: string): Promise<EmbeddedServer> {
  const server = await startEmbedded({ dataDir });
  servers.push(server);
  return server;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function postmasterPid(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

async function elapsed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, Math.round(performance.now() - t0)];
}

/** Runs the fixture (a stand-in for `roster serve`) on dataDir; resolves once it printed its url. */
async function startChildRoster(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    // A hang guard only (tsx compiles the fixture first; a loaded 2-core machine is slow).
    const timer = setTimeout(() => reject(new Error(`fixture did not start in 90 s: ${stderr}`)), 90_000);
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, url: (JSON.parse(line) as { url: string }).url });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited (${code}): ${stderr}`));
    });
  });
}

async function killChild(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

// The bound only catches a hang: on a loaded 2-core CI machine these real start/kill cycles take minutes.
describe('embedded PostgreSQL', { timeout: 480_000 }, () => {
  test('starts on a fresh DATA_DIR, keeps data across stop/start, releases the lock', async (t) => {
    const dataDir = path.join(tempDir(), 'data'); // does not exist yet
    const [first, initMs] = await elapsed(() => start(dataDir));
    t.diagnostic(`first start (initdb + start + create database): ${initMs} ms`);

    assert.equal(first.owned, true);
    assert.match(first.url, /^postgres:\/\/roster:[^@]+@127\.0\.0\.1:\d+\/roster$/);
    assert.deepEqual(await query(first.url, 'select 1 as one, current_database() as db'), [{ one: 1, db: 'roster' }]);
    assert.equal(fs.readFileSync(path.join(dataDir, 'roster.pid'), 'utf8').trim(), String(process.pid));
    const secretsFile = path.join(dataDir, 'embedded.json');
    assert.equal(fs.statSync(secretsFile).mode & 0o777, 0o600);
    const secrets = JSON.parse(fs.readFileSync(secretsFile, 'utf8')) as { password: string; port: number; app_password: string };
    assert.equal(first.url, `postgres://roster:${encodeURIComponent(secrets.app_password)}@127.0.0.1:${secrets.port}/roster`);
    assert.equal(first.superuserUrl, `postgres://postgres:${encodeURIComponent(secrets.password)}@127.0.0.1:${secrets.port}/roster`);
    assert.notEqual(secrets.app_password, secrets.password);

    await query(first.url, `create table kept (v text); insert into kept values ('still here')`);
    await first.stop();
    await first.stop(); // idempotent
    assert.equal(fs.existsSync(path.join(dataDir, 'roster.pid')), false, 'stop() releases the lock');
    assert.equal(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), false, 'postgres has shut down');
    await assert.rejects(query(first.url, 'select 1'), /ECONNREFUSED/);

    // A lock naming our own pid that we do not hold is stale: a previous Roster had the same
    // pid (containers restart with the same pids).
    fs.writeFileSync(path.join(dataDir, 'roster.pid'), `${process.pid}\n`);
    const [second, warmMs] = await elapsed(() => start(dataDir));
    t.diagnostic(`warm start: ${warmMs} ms`);
    assert.deepEqual(await query(second.url, 'select v from kept'), [{ v: 'still here' }]);
    await second.stop();
  });

  test('a second start on a running DATA_DIR is refused; connectOrStartEmbedded shares the server', async () => {
    const dataDir = tempDir();
    const owner = await start(dataDir);

    await assert.rejects(startEmbedded({ dataDir }), (err) => {
      assert.ok(err instanceof EmbeddedLockedError);
      assert.equal(err.pid, process.pid);
      assert.match(err.message, new RegExp(`DATA_DIR ${dataDir} is in use by another Roster process \\(pid ${process.pid}\\)`));
      return true;
    });

    const guest = await connectOrStartEmbedded({ dataDir });
    assert.equal(guest.owned, false);
    assert.deepEqual(await query(guest.url, 'select current_database() as db'), [{ db: 'roster' }]);
    await guest.stop(); // must not stop the owner's server
    assert.deepEqual(await query(owner.url, 'select 1 as one'), [{ one: 1 }]);
    assert.ok(fs.existsSync(path.join(dataDir, 'roster.pid')));

    await owner.stop();
    // Nobody holds the DATA_DIR now: connectOrStartEmbedded starts (and owns) the server itself.
    const own = await connectOrStartEmbedded({ dataDir });
    servers.push(own);
    assert.equal(own.owned, true);
    assert.deepEqual(await query(own.url, 'select 1 as one'), [{ one: 1 }]);
    await own.stop();
    assert.equal(fs.existsSync(path.join(dataDir, 'roster.pid')), false);
  });

  test('if PostgreSQL exits while starting, the error carries its output and the lock is released', async () => {
    const dataDir = tempDir();
    await (await start(dataDir)).stop();
    fs.appendFileSync(path.join(dataDir, 'pg', 'postgresql.auto.conf'), "shared_buffers = 'plenty'\n");
    await assert.rejects(
      startEmbedded({ dataDir }),
      /^Error: PostgreSQL exited while starting \(exit code 1\): [\s\S]*invalid value for parameter "shared_buffers"/,
    );
    assert.equal(fs.existsSync(path.join(dataDir, 'roster.pid')), false);
  });

  test('recovers after the Roster process is killed, its PostgreSQL left running', async (t) => {
    const dataDir = tempDir();
    const { child, url } = await startChildRoster(dataDir);
    await query(url, `create table kept (v text); insert into kept values ('before the crash')`);
    const orphan = postmasterPid(dataDir);
    // PostgreSQL leads its own process group, so a Ctrl-C aimed at Roster's group misses it.
    const stat = fs.readFileSync(`/proc/${orphan}/stat`, 'utf8');
    assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]), orphan, 'postgres is its own process group');

    await killChild(child); // only Roster: postgres is in its own process group and survives
    assert.equal(procState(orphan), 'running', 'the orphaned postgres is still running');

    const [server, recoveryMs] = await elapsed(() => start(dataDir));
    t.diagnostic(`recovery with an orphaned server (stop it, start ours): ${recoveryMs} ms`);
    assert.ok(recoveryMs < 10_000, `recovered in ${recoveryMs} ms`);
    assert.notEqual(procState(orphan), 'running', 'the orphan was stopped');
    assert.deepEqual(await query(server.url, 'select v from kept'), [{ v: 'before the crash' }]);
    await server.stop();
  });

  test('recovers after both Roster and PostgreSQL are killed (stale roster.pid and postmaster.pid)', async (t) => {
    const dataDir = tempDir();
    const { child, url } = await startChildRoster(dataDir);
    await query(url, `create table kept (v text); insert into kept values ('before the crash')`);
    const postmaster = postmasterPid(dataDir);

    process.kill(postmaster, 'SIGKILL');
    await killChild(child);
    assert.ok(fs.existsSync(path.join(dataDir, 'roster.pid')), 'stale roster.pid left behind');
    assert.ok(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid')), 'stale postmaster.pid left behind');

    const [server, recoveryMs] = await elapsed(() => start(dataDir));
    t.diagnostic(`recovery with stale lock files: ${recoveryMs} ms`);
    assert.ok(recoveryMs < 10_000, `recovered in ${recoveryMs} ms`);
    assert.deepEqual(await query(server.url, 'select v from kept'), [{ v: 'before the crash' }]);
    await server.stop();
  });

  test('a DATA_DIR under a mode-0700 directory fails with a clear error', async (t) => {
    if (!isRoot) {
      t.skip('only meaningful as root (PostgreSQL then runs as the postgres user)');
      return;
    }
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-emb-closed-')); // mode 0700
    tempDirs.push(closed);
    const dataDir = path.join(closed, 'data');
    await assert.rejects(startEmbedded({ dataDir }), (err: Error) => {
      assert.match(err.message, new RegExp(`DATA_DIR ${dataDir} is not reachable by the 'postgres' user`));
      assert.match(err.message, new RegExp(`because ${closed} is mode 0700`));
      assert.match(err.message, /set DATA_DIR to a path under \/var\/lib or \/tmp/);
      return true;
    });
    assert.equal(fs.existsSync(dataDir), false, 'nothing was created');
  });

  test('binaries the postgres user cannot reach are copied once to a cache dir', async (t) => {
    if (!isRoot) {
      t.skip('only meaningful as root');
      return;
    }
    const runAs = postgresRunAs(() => {})!;
    // The real package is used in place when the postgres user can run it there; a checkout under
    // a 0700 folder (root's home, a mktemp -d) gets a copy. Asked of the OS, as the postgres user.
    const pkg = findNativePackage();
    const reachable = spawnSync('/bin/sh', ['-c', 'test -x "$1/bin/postgres"', 'sh', pkg.nativeDir], { uid: runAs.uid, gid: runAs.gid }).status === 0;
    const realRoot = tempDir();
    const used = await usableNativeDir(pkg, runAs, () => {}, realRoot);
    if (reachable) assert.equal(used, pkg.nativeDir);
    else {
      assert.equal(path.dirname(used), realRoot, 'copied into the cache folder it was given');
      assert.equal(spawnSync(path.join(used, 'bin', 'postgres'), ['--version'], { uid: runAs.uid, gid: runAs.gid }).status, 0, 'the copy runs as the postgres user');
    }

    // A small stand-in for native/ inside a 0700 directory, like a checkout under /root.
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-emb-closed-'));
    tempDirs.push(closed);
    const nativeDir = path.join(closed, 'native');
    for (const sub of ['bin', 'lib', 'share']) fs.mkdirSync(path.join(nativeDir, sub), { recursive: true });
    for (const bin of ['initdb', 'postgres']) fs.writeFileSync(path.join(nativeDir, 'bin', bin), '#!/bin/sh\necho ok\n', { mode: 0o700 });
    fs.writeFileSync(path.join(nativeDir, 'lib', 'libx.so.1'), 'lib', { mode: 0o600 });
    fs.symlinkSync('libx.so.1', path.join(nativeDir, 'lib', 'libx.so'));

    const cacheRoot = tempDir();
    const messages: string[] = [];
    const copies = await Promise.all(
      [1, 2, 3].map(() => usableNativeDir({ nativeDir, version: '0.0.0-test' }, runAs, (m) => messages.push(m), cacheRoot)),
    );
    const cached = path.join(cacheRoot, 'roster-embedded-pg-0.0.0-test');
    assert.deepEqual(copies, [cached, cached, cached]);
    assert.deepEqual(fs.readdirSync(cacheRoot), ['roster-embedded-pg-0.0.0-test'], 'no temporary copies left');
    assert.equal(fs.readlinkSync(path.join(cached, 'lib', 'libx.so')), 'libx.so.1', 'symlinks kept');
    assert.equal(fs.statSync(cached).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(cached, 'bin', 'postgres')).mode & 0o777, 0o755);
    assert.equal(fs.statSync(path.join(cached, 'lib', 'libx.so.1')).mode & 0o777, 0o644);
    assert.ok(messages.length >= 1);

    // Later starts reuse the copy.
    messages.length = 0;
    assert.equal(await usableNativeDir({ nativeDir, version: '0.0.0-test' }, runAs, (m) => messages.push(m), cacheRoot), cached);
    assert.deepEqual(messages, []);
  });
});

// Its own bound: two real starts on a loaded machine.
describe('embedded PostgreSQL: the application role', { timeout: 240_000 }, () => {
  test('the application connects as a role that owns its database but is not a superuser (security C15)', async () => {
    const dataDir = tempDir();
    const first = await start(dataDir);
    const [who] = await query<{ user: string; su: boolean; createdb: boolean; createrole: boolean; owner: string }>(first.url,
      `select current_user as user, r.rolsuper as su, r.rolcreatedb as createdb, r.rolcreaterole as createrole,
              pg_get_userbyid(d.datdba) as owner
         from pg_roles r, pg_database d where r.rolname = current_user and d.datname = current_database()`);
    assert.deepEqual(who, { user: 'roster', su: false, createdb: false, createrole: false, owner: 'roster' });
    // What only a superuser may do is refused: running programs, reading server files, new roles.
    await assert.rejects(query(first.url, `copy (select 1) to program 'true'`), (e: { code?: string }) => e.code === '42501');
    await assert.rejects(query(first.url, `select pg_read_file('postgresql.conf')`), (e: { code?: string }) => e.code === '42501');
    await assert.rejects(query(first.url, `create role intruder superuser`), (e: { code?: string }) => e.code === '42501');
    // What the application does works: tables, triggers, LISTEN/NOTIFY, its own schemas (restore).
    await query(first.url, `create table app_t (v text); create schema scratch; drop schema scratch; listen x; notify x`);

    // A cluster from before the role existed: the application ran as the superuser, which owns
    // its tables and a function; embedded.json has no app_password. The next start adopts them.
    await query(first.superuserUrl, `create table legacy_t (id serial primary key, v text);
      create function legacy_f() returns int language sql as 'select 1'`);
    await first.stop();
    const secretsFile = path.join(dataDir, 'embedded.json');
    const { app_password: _gone, app_user: _u, ...older } = JSON.parse(fs.readFileSync(secretsFile, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(secretsFile, JSON.stringify(older), { mode: 0o600 });
    const second = await start(dataDir);
    const owners = await query<{ name: string; owner: string }>(second.url,
      `select c.relname as name, pg_get_userbyid(c.relowner) as owner from pg_class c
        where c.relname in ('app_t', 'legacy_t', 'legacy_t_id_seq')
       union all select p.proname, pg_get_userbyid(p.proowner) from pg_proc p where p.proname = 'legacy_f'
       order by 1`);
    assert.deepEqual(owners, [
      { name: 'app_t', owner: 'roster' }, { name: 'legacy_f', owner: 'roster' },
      { name: 'legacy_t', owner: 'roster' }, { name: 'legacy_t_id_seq', owner: 'roster' },
    ]);
    await query(second.url, `insert into legacy_t (v) values ('x'); alter table legacy_t add column w int`);
    const again = JSON.parse(fs.readFileSync(secretsFile, 'utf8')) as { app_password?: string };
    assert.ok(again.app_password && second.url.includes(encodeURIComponent(again.app_password)), 'a new app password was stored');
    await second.stop();
  });
});
