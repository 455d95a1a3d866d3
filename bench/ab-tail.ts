// The tail at a fixed rate, interleaved: Roster on its embedded PostgreSQL as it starts it, on the
// embedded cluster with one setting changed (ALTER SYSTEM, then a restart of Roster), and on the
// server PostgreSQL, each seeded with the same users, measured in short alternating paced runs
// (bench/load.ts's even pacer) so that whatever else the shared machine does falls on all alike.
// Reports the median p50/p99 of each: which embedded setting (if any) explains its longer tail.
//
//   node --import tsx bench/ab-tail.ts [--rate 1000] [--rounds 5] [--duration 5] [--op get|create]
//        [--variants "default;restart;autovacuum=off;io_method=sync;server"]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOST, freePort, rosterStartArgs, startServer, type Server } from './lib/proc.ts';
import { BENCH_KEY } from './scenarios.ts';
import { sampleSeeded, seedUsers, teamOfKey } from './seed.ts';
import type { LoadSpec, RunResult } from './lib/types.ts';
import { embeddedUrl, withClient as sqlOn, withDatabase as withDb } from './lib/pg.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : def; };
const RATE = Number(arg('rate', '1000'));
const ROUNDS = Number(arg('rounds', '5'));
const DURATION = Number(arg('duration', '5'));
const OP = arg('op', 'get');
const SERVER_URL = arg('database-url', 'postgres://postgres@127.0.0.1:5432/test');
const VARIANTS = arg('variants', 'default;autovacuum=off;io_method=sync;server').split(';').map((s) => s.trim()).filter(Boolean);
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-tail-'));
fs.chmodSync(WORK, 0o755); // the embedded PostgreSQL runs as another user


interface V { name: string; server: Server; url: string; ids: string[]; cids: string[] }

async function start(name: string, dataDir: string | null, dbUrl: string | null): Promise<Server> {
  const port = await freePort();
  return startServer({
    name, args: rosterStartArgs(ROOT), cwd: ROOT, port, ready: { path: '/readyz' }, logFile: path.join(WORK, `${name}.log`), timeoutMs: 120_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? WORK, PORT: String(port), HOST, LOG_LEVEL: 'info', ROSTER_BOOTSTRAP_API_KEY: BENCH_KEY,
      ROSTER_RATE_LIMIT_PER_MINUTE: '10000000', ...(dbUrl ? { DATABASE_URL: dbUrl } : { DATA_DIR: dataDir! }) },
  });
}

async function variant(spec: string, i: number): Promise<V> {
  const name = `v${i}-${spec.replace(/[^a-z0-9]+/gi, '_')}`;
  let server: Server;
  let url: string;
  if (spec === 'server') {
    const db = `roster_tail_${i}`;
    await sqlOn(SERVER_URL, async (c) => { await c.query(`drop database if exists ${db} with (force)`); await c.query(`create database ${db}`); });
    url = withDb(SERVER_URL, db);
    server = await start(name, null, url);
  } else {
    const dir = path.join(WORK, name);
    server = await start(name, dir, null);
    url = embeddedUrl(dir);
    if (spec !== 'default') {
      // `restart`: the same cluster, stopped and started again by Roster, no setting changed.
      const sets = spec.split(',').filter((kv) => kv.includes('='));
      await sqlOn(url, async (c) => { for (const kv of sets) { const [k, v] = kv.split('='); await c.query(`alter system set ${k} = '${v}'`); } });
      await server.stop();
      server = await start(name, dir, null);
      url = embeddedUrl(dir);
      const shown = await sqlOn(url, async (c) => Promise.all(sets.map(async (kv) => `${kv.split('=')[0]}=${(await c.query(`show ${kv.split('=')[0]}`)).rows[0][kv.split('=')[0]!]}`)));
      console.log(`${name}: ${shown.join(', ')}`);
    }
  }
  const { ids, cids } = await sqlOn(url, async (c) => {
    const team = await teamOfKey(c, BENCH_KEY);
    await c.query('update teams set rate_limit_per_minute = 1000000000 where id = $1', [team]);
    await seedUsers(c, { teamId: team, prefix: 'seed', n: 10_000 });
    return sampleSeeded('seed', 10_000, 10_000);
  });
  return { name, server, url, ids, cids };
}

function load(v: V): Promise<RunResult> {
  const J = { 'x-vital-api-key': BENCH_KEY };
  const requests = OP === 'create' ? [{ method: 'POST' as const, path: '/v2/user', headers: J, body: '{"client_user_id":"tail-{uniq}"}' }] : [{ method: 'GET' as const, path: '/v2/user/{id}', headers: J }];
  const spec: LoadSpec = { url: v.server.url, connections: 50, warmup: 1, duration: DURATION, runs: 1, rate: RATE, pacer: 'even', requests, ids: v.ids, cids: v.cids, drain: { path: '/readyz' } };
  const file = path.join(WORK, `${v.name}.spec.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'load.ts'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', () => {
      const run = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; result?: RunResult }).find((x) => x.type === 'run');
      if (run?.result) resolve(run.result); else reject(new Error(`no result from the load process: ${out}`));
    });
  });
}

const vs: V[] = [];
try {
  for (const [i, s] of VARIANTS.entries()) vs.push(await variant(s, i));
  const res = new Map<string, RunResult[]>(vs.map((v) => [v.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const line: string[] = [];
    for (const v of (r % 2 ? [...vs].reverse() : vs)) {
      await sqlOn(v.url, (c) => c.query('vacuum (analyze)'));
      const x = await load(v);
      res.get(v.name)!.push(x);
      line.push(`${v.name} p50 ${x.p50.toFixed(2)} p99 ${x.p99.toFixed(2)} ms (${Math.round(x.okRps)}/s)`);
    }
    console.log(`round ${r + 1} (load ${os.loadavg()[0]!.toFixed(1)}): ${line.join(' | ')}`);
  }
  const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
  console.log(`\n${OP} at ${RATE}/s, ${ROUNDS} rounds of ${DURATION} s, median of rounds:`);
  for (const v of vs) {
    const rs = res.get(v.name)!;
    console.log(`  ${v.name.padEnd(32)} p50 ${med(rs.map((x) => x.p50)).toFixed(2).padStart(6)} ms  p99 ${med(rs.map((x) => x.p99)).toFixed(2).padStart(7)} ms  p99.9 ${med(rs.map((x) => x.p999)).toFixed(2).padStart(7)} ms`);
  }
} finally {
  for (const v of vs) await v.server.stop().catch(() => {});
  for (const [i, s] of VARIANTS.entries()) if (s === 'server') await sqlOn(SERVER_URL, (c) => c.query(`drop database if exists roster_tail_${i} with (force)`)).catch(() => {});
}
