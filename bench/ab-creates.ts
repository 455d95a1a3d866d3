// Creates, interleaved: two Roster checkouts (this one and --base DIR), each with a team without
// and a team with one live `junction` endpoint, and the minimal server, measured in short
// alternating runs so that whatever else the shared machine does falls on all of them alike.
// Reports the median req/s of each and the ratios the issues ask for (creates ÷ minimal, creates
// with an endpoint ÷ without). After each run with an endpoint, waits until every event of that
// team was received (so no backlog spills into the next run) and reports the lag from each event's
// time (the ULID in its svix-id, stamped just before the create's statement) to its receipt.
//
//   node --import tsx bench/ab-creates.ts --base ../main-checkout [--db embedded|server] [--rounds N] [--duration S]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { HOST, freePort, rosterStartArgs, sleep, startServer, type Server } from './lib/proc.ts';
import { BENCH_KEY } from './scenarios.ts';
import { teamOfKey } from './seed.ts';
import { ulidTime } from '../src/domain/webhooks/events.ts';
import { embeddedUrl, withClient as sqlOn, withDatabase as withDb } from './lib/pg.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : def; };
const BASE = arg('base', '');
const DB = arg('db', 'server');
const ROUNDS = Number(arg('rounds', '5'));
const DURATION = Number(arg('duration', '3'));
const CONNECTIONS = Number(arg('connections', '50'));
const SERVER_URL = arg('database-url', 'postgres://postgres@127.0.0.1:5432/test');
const ADMIN = 'rst_bench_admin_0123456789abcdef';
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-ab-'));
fs.chmodSync(WORK, 0o755); // the embedded PostgreSQL runs as another user


interface Instance { name: string; server: Server; url: string; hookKey: string; hookTeam: string }

async function startRoster(name: string, dir: string, rxPort: number): Promise<Instance> {
  if (fs.existsSync(path.join(dir, 'scripts', 'build.mjs'))) execFileSync(process.execPath, [path.join(dir, 'scripts', 'build.mjs')], { cwd: dir, stdio: 'ignore' });
  let url: string | null = null;
  const dataDir = path.join(WORK, `${name}-data`);
  if (DB === 'server') {
    const db = `roster_ab_${name}`;
    await sqlOn(SERVER_URL, async (c) => { await c.query(`drop database if exists ${db} with (force)`); await c.query(`create database ${db}`); });
    url = withDb(SERVER_URL, db);
  }
  const port = await freePort();
  const server = await startServer({
    name, args: rosterStartArgs(dir), cwd: dir, port, ready: { path: '/readyz' }, logFile: path.join(WORK, `${name}.log`), timeoutMs: 120_000,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? WORK, PORT: String(port), HOST, LOG_LEVEL: 'info', ...(url ? { DATABASE_URL: url } : { DATA_DIR: dataDir }),
      ROSTER_ADMIN_TOKEN: ADMIN, ROSTER_BOOTSTRAP_API_KEY: BENCH_KEY, ROSTER_RATE_LIMIT_PER_MINUTE: '10000000',
      ROSTER_WEBHOOK_ALLOW_HTTP: '1', ROSTER_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    },
  });
  url ??= embeddedUrl(dataDir);
  const admin = async (method: string, p: string, body?: unknown) => (await fetch(`${server.url}/admin${p}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) })).json() as Promise<Record<string, string>>;
  const hooked = await admin('POST', '/teams', { name: 'one-endpoint', mode: 'production' });
  await admin('POST', `/teams/${hooked.team_id}/webhooks`, { url: `http://${HOST}:${rxPort}/hook/${name}`, format: 'junction', filter_types: ['user.created'] });
  await sqlOn(url, (c) => c.query('update teams set rate_limit_per_minute = 1000000000'));
  return { name, server, url, hookKey: hooked.api_key!, hookTeam: hooked.team_id! };
}

let n = 0;
const load = (url: string, key: string | null) => new Promise<number>((resolve, reject) => {
  autocannon({
    url, connections: CONNECTIONS, duration: DURATION,
    requests: [{ method: 'POST', path: '/v2/user', headers: { ...(key ? { 'x-vital-api-key': key } : {}), 'content-type': 'application/json' }, setupRequest: (r: any) => ({ ...r, body: JSON.stringify({ client_user_id: `ab-${process.pid}-${n++}` }) }) }],
  } as never, (err: Error | null, res: any) => (err ? reject(err) : resolve(res['2xx'] / DURATION)));
});

async function main() {
  if (!BASE) throw new Error('--base DIR: the checkout to compare with (a git worktree of main)');
  // Per instance: distinct svix-ids received, and the lag of each (ms) since the last reset.
  const got: Record<string, { ids: Set<string>; lags: number[] }> = { branch: { ids: new Set(), lags: [] }, base: { ids: new Set(), lags: [] } };
  const rx = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const g = got[String(req.url).split('/')[2] ?? ''];
      const id = String(req.headers['svix-id']);
      if (g && !g.ids.has(id)) { g.ids.add(id); const t = ulidTime(id); if (t !== null) g.lags.push(Date.now() - t); }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, HOST, r));
  const rxPort = (rx.address() as { port: number }).port;
  const branch = await startRoster('branch', ROOT, rxPort);
  const base = await startRoster('base', path.resolve(BASE), rxPort);
  const teamId = await sqlOn(branch.url, (c) => teamOfKey(c, BENCH_KEY));
  const mport = await freePort();
  const minimal = await startServer({
    name: 'minimal', args: ['--import', 'tsx', 'bench/servers/minimal.ts'], cwd: ROOT, port: mport, ready: { path: '/readyz' }, logFile: path.join(WORK, 'minimal.log'),
    env: { ...process.env, PORT: String(mport), DATABASE_URL: branch.url, TEAM_ID: teamId, POOL_MAX: '20' },
  });
  const lagRuns: Record<string, { p50: number; p99: number; max: number; drainS: number }[]> = { branch: [], base: [] };
  /** Creates with the endpoint, then waits until all that team's events arrived: the lag of this run. */
  const hooked = async (i: Instance) => {
    const g = got[i.name]!;
    g.lags.length = 0;
    const rate = await load(i.server.url, i.hookKey);
    const t0 = performance.now();
    const events = await sqlOn(i.url, async (c) => Number((await c.query('select count(*) as n from webhook_events where team_id = $1', [i.hookTeam])).rows[0].n));
    while (g.ids.size < events && performance.now() - t0 < 60_000) await sleep(50);
    const l = [...g.lags].sort((a, b) => a - b);
    const q = (x: number) => l[Math.min(l.length - 1, Math.floor(x * l.length))] ?? 0;
    lagRuns[i.name]!.push({ p50: q(0.5), p99: q(0.99), max: l.at(-1) ?? 0, drainS: (performance.now() - t0) / 1000 });
    return rate;
  };
  const cases: [string, () => Promise<number>][] = [
    ['branch', () => load(branch.server.url, BENCH_KEY)],
    ['branch+hook', () => hooked(branch)],
    ['minimal', () => load(minimal.url, null)],
    ['base', () => load(base.server.url, BENCH_KEY)],
    ['base+hook', () => hooked(base)],
  ];
  for (const [, f] of cases) await f(); // warm-up
  for (const v of Object.values(lagRuns)) v.length = 0;
  const rates: Record<string, number[]> = Object.fromEntries(cases.map(([k]) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, f] of r % 2 ? [...cases].reverse() : cases) { rates[k]!.push(await f()); await sleep(300); }
    process.stderr.write(`round ${r + 1}: ${Object.entries(rates).map(([k, v]) => `${k} ${Math.round(v[v.length - 1]!)}`).join(', ')}\n`);
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, med(v)]));
  // Ratios per round (same noise window), then their median.
  const per = (a: string, b: string) => med(rates[a]!.map((x, i) => x / rates[b]![i]!));
  const out = {
    db: DB, rounds: ROUNDS, duration_s: DURATION, connections: CONNECTIONS, load_avg: os.loadavg().map((x) => Math.round(x * 10) / 10),
    median_creates_per_s: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v)])),
    ratios: {
      'branch ÷ minimal': per('branch', 'minimal'), 'base ÷ minimal': per('base', 'minimal'),
      'branch ÷ base': per('branch', 'base'),
      'branch with endpoint ÷ without': per('branch+hook', 'branch'), 'base with endpoint ÷ without': per('base+hook', 'base'),
    },
    // Lag event → receipt of the runs with an endpoint (ms; median over the runs of each percentile) and
    // how long after the run the last event arrived.
    lag_ms: Object.fromEntries(Object.entries(lagRuns).map(([k, v]) => [k, { p50: med(v.map((x) => x.p50)), p99: med(v.map((x) => x.p99)), max: med(v.map((x) => x.max)), drain_s: med(v.map((x) => x.drainS)) }])),
    all: rates,
  };
  process.stdout.write(JSON.stringify(out, (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v), 2) + '\n');
  await minimal.stop();
  await branch.server.stop();
  await base.server.stop();
  rx.close();
  if (DB === 'server') for (const x of ['branch', 'base']) await sqlOn(SERVER_URL, (c) => c.query(`drop database if exists roster_ab_${x} with (force)`)).catch(() => {});
}

await main();
