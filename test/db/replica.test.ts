// DATABASE_READ_URL against a real hot standby: a PostgreSQL primary and a standby made with
// pg_basebackup, both started here on their own ports from the machine's PostgreSQL binaries.
// Checks that reads go to the replica, that a key reads its own writes (primary) for the window,
// across instances through Redis when REDIS_URL is set, and that a lagging replica gets no reads.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Redis } from 'ioredis';
import { buildApp, type BuiltApp } from '../../src/app.ts';
import { createDb, type Db } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { freePort } from '../support/net.ts';
import { testRedis } from '../support/backends.ts';

function pgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', 'pg_basebackup'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw new Error('PostgreSQL server binaries (pg_basebackup, postgres) not found under /usr/lib/postgresql: install the Debian postgresql package');
  return path.join(base, versions[0]!, 'bin');
}

const asPg = (): { uid?: number; gid?: number } => {
  if (process.getuid?.() !== 0) return {};
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
};


function run(bin: string, args: string[]) {
  const r = spawnSync(bin, args, { ...asPg(), encoding: 'utf8', env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' } });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
}

const waitFor = async (what: string, fn: () => Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('read replica (DATABASE_READ_URL) on a real hot standby', () => {
  const bin = pgBin();
  let tmp: string;
  let primaryPort: number;
  let standbyPort: number;
  let primary: Db;
  let replica: Db;
  let apps: BuiltApp[] = [];
  let bases: string[] = [];
  let redis: Redis | null = null;
  const WINDOW = 1000;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-replica-'));
    fs.chmodSync(tmp, 0o755);
    const pdir = path.join(tmp, 'primary');
    const sdir = path.join(tmp, 'standby');
    if (process.getuid?.() === 0) fs.chownSync(tmp, asPg().uid!, asPg().gid!);
    primaryPort = await freePort();
    standbyPort = await freePort();
    run(path.join(bin, 'initdb'), ['-D', pdir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C']);
    fs.appendFileSync(path.join(pdir, 'pg_hba.conf'), '\nhost replication all 127.0.0.1/32 trust\n');
    const common = ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'];
    run(path.join(bin, 'pg_ctl'), ['-D', pdir, '-w', '-l', path.join(tmp, 'primary.log'), '-o', [`-p ${primaryPort}`, ...common.map((c) => (c === '-c' ? c : `'${c}'`)), '-c wal_level=replica', '-c max_wal_senders=5'].join(' '), 'start']);
    run(path.join(bin, 'pg_basebackup'), ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', sdir, '-R', '-X', 'stream']);
    run(path.join(bin, 'pg_ctl'), ['-D', sdir, '-w', '-l', path.join(tmp, 'standby.log'), '-o', [`-p ${standbyPort}`, ...common.map((c) => (c === '-c' ? c : `'${c}'`)), '-c hot_standby=on'].join(' '), 'start']);

    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${primaryPort}/postgres` });
    await admin.connect();
    await admin.query('create database roster');
    await admin.end();
    primary = createDb({ url: `postgres://postgres@127.0.0.1:${primaryPort}/roster`, max: 5 });
    await migrate(primary.pool);
    replica = createDb({ url: `postgres://postgres@127.0.0.1:${standbyPort}/roster`, max: 5 });
    await waitFor('the standby to have the schema', async () => (await replica.pool.query("select to_regclass('public.users') is not null as ok")).rows[0].ok === true);

    redis = await testRedis(); // REDIS_URL set but unreachable: fails loudly
    for (let i = 0; i < 2; i++) {
      const built = await buildApp({
        db: primary, databaseUrl: `postgres://postgres@127.0.0.1:${primaryPort}/roster`, logLevel: 'silent',
        readDb: replica, readYourWritesMs: WINDOW, replicaMaxLagMs: 60_000, replicaLagCheckMs: 50, redis,
      });
      bases.push(await built.app.listen({ port: 0, host: '127.0.0.1' }));
      apps.push(built);
    }
  });

  after(async () => {
    for (const a of apps) await a.close().catch(() => {});
    await redis?.quit().catch(() => {});
    await replica?.close().catch(() => {});
    await primary?.close().catch(() => {});
    for (const d of ['standby', 'primary']) {
      if (tmp && fs.existsSync(path.join(tmp, d))) spawnSync(path.join(bin, 'pg_ctl'), ['-D', path.join(tmp, d), '-m', 'immediate', '-w', 'stop'], { ...asPg() });
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const call = (base: string, key: string, method: string, p: string, body?: unknown) =>
    fetch(base + p, { method, headers: { 'x-vital-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });

  test('reads go to the replica; a key reads its own writes from the primary for the window', async () => {
    const team = await apps[0]!.services.teams.createTeam('replica-team');
    const writer = team.apiKey;
    const other = (await apps[0]!.services.teams.createKey(team.team.id)).apiKey;
    // Let the router see a caught-up replica first.
    await call(bases[0]!, other, 'GET', '/v2/user');
    await new Promise((r) => setTimeout(r, 200));

    // Freeze the standby: from here on, new writes are on the primary only.
    await replica.pool.query('select pg_wal_replay_pause()');
    try {
      const created = await (await call(bases[0]!, writer, 'POST', '/v2/user', { client_user_id: 'ryw-1' })).json() as { user_id: string };
      // The writer reads its own write (primary), on this instance…
      assert.equal((await call(bases[0]!, writer, 'GET', `/v2/user/${created.user_id}`)).status, 200);
      // …and, through Redis, on the other instance.
      if (redis) assert.equal((await call(bases[1]!, writer, 'GET', `/v2/user/${created.user_id}`)).status, 200);
      // A key that wrote nothing reads the (frozen) replica: the user is not there yet.
      assert.equal((await call(bases[0]!, other, 'GET', `/v2/user/${created.user_id}`)).status, 404);
      // After the window, the writer's reads go to the replica too.
      await new Promise((r) => setTimeout(r, WINDOW + 100));
      assert.equal((await call(bases[0]!, writer, 'GET', `/v2/user/${created.user_id}`)).status, 404);
      // Writes always go to the primary, whoever sends them.
      assert.equal((await call(bases[1]!, other, 'POST', '/v2/user', { client_user_id: 'ryw-2' })).status, 200);
    } finally {
      await replica.pool.query('select pg_wal_replay_resume()');
    }
    await waitFor('the replica to catch up', async () => (await call(bases[0]!, other, 'GET', '/v2/user/resolve/ryw-2')).status === 200);
  });

  test('a replica lagging past the limit gets no reads', async () => {
    const team = await apps[0]!.services.teams.createTeam('lag-team');
    const key = team.apiKey;
    const reader = (await apps[0]!.services.teams.createKey(team.team.id)).apiKey;
    const strict = await buildApp({
      db: primary, databaseUrl: `postgres://postgres@127.0.0.1:${primaryPort}/roster`, logLevel: 'silent',
      readDb: replica, readYourWritesMs: WINDOW, replicaMaxLagMs: 200, replicaLagCheckMs: 50,
    });
    const base = await strict.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await replica.pool.query('select pg_wal_replay_pause()');
      const u = await (await call(base, key, 'POST', '/v2/user', { client_user_id: 'lag-1' })).json() as { user_id: string };
      // Once the lag exceeds 200 ms the router stops using the replica: the reader sees the user.
      await waitFor('reads to fall back to the primary', async () => (await call(base, reader, 'GET', `/v2/user/${u.user_id}`)).status === 200, 10_000);
    } finally {
      await replica.pool.query('select pg_wal_replay_resume()');
      await strict.close();
    }
  });
});
