// `npm run bench`: Roster against this machine's ceiling and against the tools users would pick
// instead, in one run, on 127.0.0.1 only. docs/benchmark.md says what is measured and how.
//
//   node --import tsx bench/run.ts [--quick] [--scale] [--profile] [options]
//
// Options (each also as an environment variable BENCH_<NAME>, e.g. BENCH_DURATION=5):
//   --duration S            seconds per measured run of a primary scenario      (10; quick 2)
//   --runs N                measured runs per scenario (median, min, max)       (3; quick 1)
//   --warmup S              unrecorded seconds before a primary scenario         (2; quick 1)
//   --secondary-duration S  seconds per run of the other scenarios              (2; quick 2)
//   --secondary-warmup S                                                         (1; quick 1)
//   --connections N                                                              (50)
//   --primary-db embedded|server   which database gets full-length target runs  (embedded)
//   --database-url URL      server PostgreSQL (default $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
//   --skip-server --skip-peers --skip-embedded --skip-pgbouncer
//                           (pgbouncer: reads by id and creates through Debian's PgBouncer in
//                           transaction mode, DATABASE_POOLER=transaction, next to the server rows)
//   --log-level LEVEL       Roster's LOG_LEVEL                                   (info, as users run it)
//   --users N               seeded users in the read team                        (10000)
//   --scale-users N         --scale: users in the big team                       (1000000)
//   --scale-db server|embedded  --scale: which PostgreSQL                        (server)
//   --roster-dir DIR        the Roster checkout to start (default: this one), e.g. a `git worktree`
//                           of another commit to compare against
//   --pacer even|autocannon how the 50%-of-peak runs are paced (even; see bench/load.ts)
//   --only OPS              only these operations, comma-separated (get,resolve,list,patch,mixed,
//                           create), on every system; the other faces are skipped. For iterating.
//                           `webhooks` adds the webhook rows (on by default without --only).
//                           With --profile: the loads to profile (default get,create).
//   --no-write              do not write bench/results/<date>.json
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { HOST, Sampler, freePort, postgresPids, postmasterPid, rosterStartArgs, sleep, startServer, type Server } from './lib/proc.ts';
import type { LoadSpec, RequestTemplate, RunResult } from './lib/types.ts';
import { BENCH_KEY, ECHO, FACES, HALF_RATE, JSON_SERVER, MINIMAL, PRISM, ROSTER, faceScenarios, type Scenario } from './scenarios.ts';
import { sampleSeeded, seedUsers, teamOfKey } from './seed.ts';
import { ensurePeers, type PeerInstall } from './peers.ts';
import { formatRows, formatTargets, stat, summarize, target, type Row, type Target } from './report.ts';
import { analyzeProfile, formatProfile, type CpuProfile, type ProfileSummary } from './profile.ts';
import { ulidTime } from '../src/domain/webhooks/events.ts';
import { embeddedUrl, withClient, withDatabase } from './lib/pg.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Where the peers are installed (git-ignored). CPU profiles go to the system's temp folder. */
const PEERS_DIR = path.join(ROOT, 'bench', '.peers');
const PROFILES_DIR = path.join(os.tmpdir(), 'roster-bench-profiles');
const RESULTS = path.join(ROOT, 'bench', 'results');
const JUNCTION_SPEC = path.resolve(ROOT, 'spec', 'vendor', 'junction-openapi-users.json');
const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/test';
const BENCH_DB = 'roster_bench';
const ADMIN_TOKEN = 'rst_bench_admin_0123456789abcdef';

// ---------------------------------------------------------------------------------------------
// options

const argv = process.argv.slice(2);
function flag(name: string): boolean {
  return argv.includes(`--${name}`) || process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] === '1';
}
function opt(name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i >= 0) return argv[i]!.includes('=') ? argv[i]!.slice(argv[i]!.indexOf('=') + 1) : argv[i + 1];
  return process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
}
function num(name: string, def: number): number {
  const v = opt(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number (got "${v}")`);
  return n;
}

const quick = flag('quick');
const O = {
  quick,
  scale: flag('scale'),
  profile: flag('profile'),
  duration: num('duration', quick ? 2 : 10),
  runs: Math.max(1, Math.round(num('runs', quick ? 1 : 3))),
  warmup: num('warmup', quick ? 1 : 2),
  secDuration: num('secondary-duration', 2),
  secWarmup: num('secondary-warmup', 1),
  connections: Math.max(1, Math.round(num('connections', 50))),
  primaryDb: (opt('primary-db') ?? 'embedded') as 'embedded' | 'server',
  serverUrl: opt('database-url') ?? process.env.DATABASE_URL ?? DEFAULT_SERVER_URL,
  skipServer: flag('skip-server'),
  skipPeers: flag('skip-peers'),
  skipEmbedded: flag('skip-embedded'),
  skipPgbouncer: flag('skip-pgbouncer'),
  logLevel: opt('log-level') ?? 'info',
  users: Math.round(num('users', 10_000)),
  scaleUsers: Math.round(num('scale-users', 1_000_000)),
  write: !flag('no-write'),
  rosterDir: path.resolve(opt('roster-dir') ?? ROOT),
  pacer: (opt('pacer') ?? 'even') as 'even' | 'autocannon',
  only: opt('only')?.split(',').map((x) => x.trim()).filter(Boolean) ?? null,
};
/** The scenarios `--only` keeps (all without it). */
const wanted = <S extends { op: string }>(list: readonly S[]): S[] => list.filter((s) => !O.only || O.only.includes(s.op));
if (!fs.existsSync(path.join(O.rosterDir, 'src', 'main.ts'))) throw new Error(`--roster-dir: no src/main.ts in ${O.rosterDir}`);
if (O.primaryDb !== 'embedded' && O.primaryDb !== 'server') throw new Error('--primary-db must be embedded or server');
for (const u of [O.serverUrl]) {
  const h = new URL(u).hostname;
  if (h !== '127.0.0.1' && h !== 'localhost') throw new Error(`the benchmark runs on 127.0.0.1 only; ${h} is not allowed`);
}

// ---------------------------------------------------------------------------------------------
// bookkeeping

const T0 = performance.now();
const LOAD_AT_START = os.loadavg()[0]!;

/** The commit of the Roster checkout under test (and whether its tree had local changes). */
function rosterCommit(): string | null {
  try {
    const dir = O.rosterDir;
    const git = (args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git(['rev-parse', '--short', 'HEAD']);
    return git(['status', '--porcelain', '--', 'src']) ? `${head}+local changes` : head;
  } catch {
    try { return fs.readFileSync(path.join(O.rosterDir, '.commit'), 'utf8').trim().slice(0, 7); } catch { return null; }
  }
}
const elapsed = () => (performance.now() - T0) / 1000;
function log(msg: string) {
  const s = elapsed();
  process.stderr.write(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${(s % 60).toFixed(1).padStart(4, '0')}] ${msg}\n`);
}
const phases: Record<string, number> = {};
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    phases[name] = (phases[name] ?? 0) + (performance.now() - t) / 1000;
  }
}

const live = new Set<Server>();
const notes: string[] = [];
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-bench-'));
fs.chmodSync(WORK, 0o755); // embedded PostgreSQL runs as 'postgres' and must enter it
let keepWork = false;

async function cleanupAll() {
  for (const s of [...live]) await s.stop().catch(() => {});
  live.clear();
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${sig}: stopping servers`);
    void cleanupAll().then(() => dropServerDb(BENCH_DB)).then(() => dropServerDb(`${BENCH_DB}_scale`)).finally(() => process.exit(130));
  });
}

/** The environment a user would start Roster with: nothing of ours or of the caller's Roster config. */
function rosterEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(DATABASE_URL|DATABASE_READ_URL|DATA_DIR|PORT|HOST|LOG_LEVEL|DB_POOL_MAX|REDIS_URL|ROSTER_.*|BENCH_.*|NODE_OPTIONS)$/.test(k)) continue;
    env[k] = v;
  }
  // The per-key rate limit (default 2,000/min) is raised so the benchmark measures throughput, not
  // the limiter; the limiter still runs on every request.
  // The admin API and a webhook receiver on 127.0.0.1 serve the webhook rows (webhookPass); they
  // change nothing for a team without an endpoint.
  return {
    ...env, LOG_LEVEL: O.logLevel, ROSTER_BOOTSTRAP_API_KEY: BENCH_KEY, ROSTER_RATE_LIMIT_PER_MINUTE: '10000000',
    ROSTER_ADMIN_TOKEN: ADMIN_TOKEN, ROSTER_WEBHOOK_ALLOW_HTTP: '1', ROSTER_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...extra,
  };
}

/** Builds dist/ as `npm ci` does (its prepare script), so no measured start pays for the build. */
function buildRoster() {
  const script = path.join(O.rosterDir, 'scripts', 'build.mjs');
  if (!fs.existsSync(script)) return;
  execFileSync(process.execPath, [script], { cwd: O.rosterDir, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function startRoster(o: { name: string; dataDir?: string; databaseUrl?: string; nodeArgs?: string[]; logLevel?: string; env?: Record<string, string> }): Promise<Server> {
  const port = await freePort();
  const env = rosterEnv({ PORT: String(port), ...(o.dataDir ? { DATA_DIR: o.dataDir } : {}), ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}), ...(o.logLevel ? { LOG_LEVEL: o.logLevel } : {}), ...(o.env ?? {}) });
  const s = await startServer({
    name: o.name,
    args: [...(o.nodeArgs ?? []), ...rosterStartArgs(O.rosterDir)],
    env,
    cwd: O.rosterDir,
    port,
    ready: { path: '/readyz' },
    logFile: path.join(WORK, `${o.name.replace(/\W+/g, '-')}.log`),
  });
  live.add(s);
  return s;
}

async function stopServer(s: Server) {
  await s.stop();
  live.delete(s);
}

// ---------------------------------------------------------------------------------------------
// one scenario

interface Tier {
  duration: number;
  runs: number;
  warmup: number;
}
const PRIMARY: Tier = { duration: O.duration, runs: O.runs, warmup: O.warmup };
const SECONDARY: Tier = { duration: O.secDuration, runs: O.runs, warmup: O.secWarmup };

interface Target_ {
  system: string;
  db: string;
  server: Server;
  pg: (() => number[]) | null;
  /** See LoadSpec.drain. */
  drain?: { path: string; headers?: Record<string, string> };
  /** The server's database: its active sessions' wait events are sampled during the scenario. */
  pgUrl?: string;
}

/** Samples what the database's active sessions wait on (pg_stat_activity), every 200 ms. */
function waitSampler(url: string | undefined) {
  if (!url) return { stop: async () => ({} as Record<string, number>) };
  const counts: Record<string, number> = {};
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  let timer: NodeJS.Timeout | null = null;
  let busy = false;
  const ready = c.connect().then(() => {
    timer = setInterval(() => {
      if (busy) return;
      busy = true;
      c.query<{ w: string; n: number }>(`select coalesce(wait_event_type || ':' || wait_event, 'running') as w, count(*)::int as n
          from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid() group by 1`)
        .then((r) => { for (const x of r.rows) counts[x.w] = (counts[x.w] ?? 0) + x.n; counts.samples = (counts.samples ?? 0) + 1; })
        .catch(() => {})
        .finally(() => { busy = false; });
    }, 200);
  }).catch(() => {});
  return {
    async stop() {
      await ready;
      if (timer) clearInterval(timer);
      await c.end().catch(() => {});
      return counts;
    },
  };
}

interface MeasureOptions {
  tier: Tier;
  rate?: number;
  connections?: number;
  ids?: string[];
  cids?: string[];
  op?: string;
  label?: string;
}

function runLoad(spec: LoadSpec, onWarm: () => void): Promise<{ runs: RunResult[]; cpuMs: number; error?: string }> {
  const file = path.join(WORK, `spec-${process.hrtime.bigint()}.json`);
  fs.writeFileSync(file, JSON.stringify(spec));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'load.ts'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const runs: RunResult[] = [];
    let cpuMs = 0;
    let buf = '';
    let err = '';
    let warm = false;
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        const m = JSON.parse(line) as { type: string; result?: RunResult; cpuMs?: number };
        if ((m.type === 'warmup-done' || m.type === 'run-start') && !warm) { warm = true; onWarm(); }
        if (m.type === 'run' && m.result) runs.push(m.result);
        if (m.type === 'done') cpuMs = m.cpuMs ?? 0;
      }
    });
    child.stderr.on('data', (c: Buffer) => { err = (err + c.toString()).slice(-4000); });
    const limit = (spec.warmup + spec.runs * (spec.duration + 3) + 60) * 1000;
    const timer = setTimeout(() => child.kill('SIGKILL'), limit);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      fs.rmSync(file, { force: true });
      if (code === 0 && runs.length === spec.runs) resolve({ runs, cpuMs });
      else resolve({ runs, cpuMs, error: `load process ${sig ? `killed (${sig})` : `exit ${code}`}: ${err.trim().split('\n').slice(-4).join(' | ')}` });
    });
  });
}

/** Mean active sessions per wait event over the samples, largest first (top 4). */
function topWaits(c: Record<string, number>): Record<string, number> {
  const n = c.samples ?? 1;
  return Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'samples' && k !== 'Client:ClientRead').sort((a, b) => b[1] - a[1]).slice(0, 4)
    .map(([k, v]) => [k, Math.round((v / n) * 10) / 10] as const).filter(([, v]) => v > 0));
}

/** CLOCK_MONOTONIC in µs: the clock V8 stamps CPU profile samples with. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

function emptyRow(t: Target_, sc: { op: string; label: string }, tier: Tier, skipped: string): Row {
  const z = { median: 0, min: 0, max: 0 };
  return { system: t.system, db: t.db, op: sc.op, label: sc.label, duration: tier.duration, runs: tier.runs, rps: z, p50: z, p99: z, non2xx: 0, socketErrors: 0, statusCodes: {}, rssPeakMb: 0, rssHwmMb: 0, pgPeakMb: 0, cpuUsPerReq: 0, pgCpuUsPerReq: 0, otherCpuPct: 0, skipped };
}

async function measure(t: Target_, sc: { op: string; label: string; requests: RequestTemplate[] }, m: MeasureOptions): Promise<Row> {
  const label = m.label ?? sc.label;
  const op = m.op ?? sc.op;
  if (t.server.child.exitCode !== null || t.server.child.signalCode !== null) {
    return emptyRow(t, { op, label }, m.tier, `${t.system} is not running (exited ${t.server.child.exitCode ?? t.server.child.signalCode})`);
  }
  const spec: LoadSpec = {
    url: t.server.url,
    connections: m.connections ?? O.connections,
    warmup: m.tier.warmup,
    duration: m.tier.duration,
    runs: m.tier.runs,
    requests: sc.requests,
    ...(t.drain ? { drain: t.drain } : {}),
    ...(m.rate ? { rate: m.rate, pacer: O.pacer } : {}),
    ...(m.ids ? { ids: m.ids } : {}),
    ...(m.cids ? { cids: m.cids } : {}),
  };
  if (t.pgUrl) await settleDatabase(t.pgUrl);
  const sampler = new Sampler(t.server.pid, t.pg);
  const waits = waitSampler(t.pgUrl);
  let started = false;
  let w0 = 0;
  const r = await runLoad(spec, () => { started = true; w0 = monoUs(); sampler.start(); });
  if (!started) { w0 = monoUs(); sampler.start(); }
  const usage = sampler.stop();
  const w1 = monoUs();
  const waitCounts = await waits.stop();
  const died = t.server.child.exitCode !== null || t.server.child.signalCode !== null;
  if (r.error || died) {
    const why = died ? `${t.system} DIED during the scenario (${t.server.child.exitCode ?? t.server.child.signalCode}); log: ${path.join(WORK, '*.log')}` : r.error!;
    if (died) keepWork = true;
    notes.push(`${t.system} on ${t.db}, ${label}: ${why}`);
    log(`  ${label}: FAILED: ${why}`);
    if (!r.runs.length) return emptyRow(t, { op, label }, m.tier, why);
  }
  const s = summarize(r.runs);
  const row: Row = {
    system: t.system,
    db: t.db,
    op,
    label,
    duration: m.tier.duration,
    runs: r.runs.length,
    ...(m.rate ? { rate: m.rate } : {}),
    rps: s.rps,
    p50: s.p50,
    p99: s.p99,
    non2xx: s.non2xx,
    socketErrors: s.socketErrors,
    statusCodes: s.statusCodes,
    rssPeakMb: usage.rssPeakMb,
    bytesPerResponse: Math.round(s.bytesPerResponse),
    rssHwmMb: usage.rssHwmMb,
    pgPeakMb: usage.pgPeakMb,
    cpuUsPerReq: s.total ? (usage.serverCpuMs * 1000) / s.total : 0,
    pgCpuUsPerReq: s.total && t.pg ? (usage.pgCpuMs * 1000) / s.total : 0,
    // CPU that neither the server, its PostgreSQL, the load process nor this one used.
    windowUs: [w0, w1],
    ...(waitCounts.samples ? { pgWaits: topWaits(waitCounts) } : {}),
    otherCpuPct: usage.wallMs > 0 ? Math.max(0, (usage.machineBusyMs - usage.serverCpuMs - usage.pgCpuMs - r.cpuMs - usage.selfCpuMs) / (usage.wallMs * os.cpus().length)) * 100 : 0,
  };
  const errs = row.non2xx + row.socketErrors;
  const codes = Object.entries(row.statusCodes).filter(([c]) => !c.startsWith('2')).map(([c, n]) => `${n}×${c}`).join(' ');
  if (errs && row.system.startsWith('roster')) notes.push(`${t.system} on ${t.db}, ${label}: ${errs} errors (${codes}${row.socketErrors ? ` ${row.socketErrors} socket errors` : ''})`);
  const waitText = row.pgWaits && Object.keys(row.pgWaits).length ? `  pg active: ${Object.entries(row.pgWaits).map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
  log(`  ${t.system.padEnd(11)} ${t.db.padEnd(8)} ${label.padEnd(40)} ${Math.round(row.rps.median).toLocaleString('en-US').padStart(7)} req/s  p50 ${row.p50.median.toFixed(2)} ms  p99 ${row.p99.median.toFixed(2)} ms  RSS ${row.rssPeakMb.toFixed(0)} MB  other CPU ${row.otherCpuPct.toFixed(0)}%${errs ? `  errors ${errs} (${codes})` : ''}${waitText}`);
  return row;
}

// ---------------------------------------------------------------------------------------------
// databases

/**
 * Before every scenario: VACUUM (ANALYZE) the database and wait for autovacuum workers to finish,
 * so the dead rows and inserts of the previous scenario (another system's, or the PATCH run before
 * the creates) are not cleaned up inside the next one's window. pgbench vacuums before each run
 * for the same reason. Autovacuum still runs when a scenario's own writes cross its thresholds:
 * that cost is the scenario's.
 */
async function settleDatabase(url: string): Promise<void> {
  await withClient(url, async (c) => {
    await c.query('vacuum (analyze)');
    for (let i = 0; i < 50; i++) {
      const { rows } = await c.query<{ n: string }>(`select count(*) as n from pg_stat_activity where backend_type = 'autovacuum worker' and datname = current_database()`);
      if (Number(rows[0]!.n) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }).catch((e: Error) => notes.push(`could not vacuum before a scenario: ${e.message}`));
}



async function createServerDb(db: string): Promise<string> {
  await withClient(O.serverUrl, async (c) => {
    await c.query(`drop database if exists ${db} with (force)`);
    await c.query(`create database ${db}`);
  });
  return withDatabase(O.serverUrl, db);
}

async function dropServerDb(db: string): Promise<void> {
  if (O.skipServer) return;
  await withClient(O.serverUrl, (c) => c.query(`drop database if exists ${db} with (force)`)).catch(() => {});
}


async function serverPgPids(url: string, db: string): Promise<(() => number[]) | null> {
  try {
    const dir = await withClient(url, async (c) => (await c.query<{ data_directory: string }>('show data_directory')).rows[0]!.data_directory);
    const pm = postmasterPid(dir);
    return pm ? () => postgresPids(pm, db) : null;
  } catch {
    return null;
  }
}

async function pgVersion(url: string): Promise<string> {
  return withClient(url, async (c) => (await c.query<{ server_version: string }>('show server_version')).rows[0]!.server_version).catch(() => 'unknown');
}

// ---------------------------------------------------------------------------------------------
// faces

async function probeFace(base: string, f: (typeof FACES)[number]): Promise<{ ok: boolean; why: string; ids: string[] }> {
  let n = 0;
  const once = async () => {
    const body = (f.create.body ?? '').replaceAll('{uniq}', `probe${process.pid}x${Date.now().toString(36)}x${n++}`);
    const r = await fetch(base + f.create.path, { method: f.create.method, headers: { ...f.create.headers, 'content-type': 'application/json' }, body });
    const text = await r.text();
    let id: string | undefined;
    try { id = f.idOf(JSON.parse(text) as Record<string, unknown>); } catch { /* not JSON */ }
    return { status: r.status, id, text };
  };
  const first = await once();
  if (!f.createOk.includes(first.status) || !first.id) {
    return { ok: false, why: `not served: ${f.create.method} ${f.create.path} → ${first.status}${first.id || !f.createOk.includes(first.status) ? '' : ' without an id'}`, ids: [] };
  }
  const ids = [first.id];
  // Users to read back, made through the face itself.
  for (let b = 0; b < 30; b++) {
    const got = await Promise.all(Array.from({ length: 10 }, () => once()));
    for (const g of got) if (g.id) ids.push(g.id);
  }
  return { ok: true, why: '', ids };
}

// ---------------------------------------------------------------------------------------------
// passes

interface Seeded {
  teamId: string;
  ids: string[];
  cids: string[];
  seedMs: number;
}

/** A team's own per-minute limit wins over the default (and over the basic face's 100/min). */
async function liftTeamLimit(c: pg.ClientBase, teamId: string) {
  const col = await c.query(`select 1 from information_schema.columns where table_name = 'teams' and column_name = 'rate_limit_per_minute'`);
  if (col.rowCount) await c.query('update teams set rate_limit_per_minute = 1000000000 where id = $1', [teamId]);
}

async function seedReadTeam(url: string): Promise<Seeded> {
  return withClient(url, async (c) => {
    const teamId = await teamOfKey(c, BENCH_KEY);
    await liftTeamLimit(c, teamId);
    const r = await seedUsers(c, { teamId, prefix: 'seed', n: O.users });
    const { ids, cids } = sampleSeeded('seed', O.users, O.users);
    return { teamId, ids, cids, seedMs: r.insertMs + r.analyzeMs };
  });
}

/** Roster's scenarios, its faces, the half-rate runs, then the minimal server on the same database. */
async function dbPass(db: 'embedded' | 'server', roster: Server, url: string, pgPids: (() => number[]) | null, rows: Row[]): Promise<Seeded> {
  const seeded = await phase(`seed ${db}`, () => seedReadTeam(url));
  log(`${db}: seeded ${O.users.toLocaleString('en-US')} users in ${(seeded.seedMs / 1000).toFixed(1)} s`);
  const t: Target_ = { system: 'roster', db, server: roster, pg: pgPids, drain: { path: '/readyz' }, pgUrl: url };
  const tierOf = (s: Scenario) => (s.primary && db === O.primaryDb ? PRIMARY : SECONDARY);
  const peak: Record<string, number> = {};
  await phase(`roster ${db}`, async () => {
    for (const sc of wanted(ROSTER)) {
      const row = await measure(t, sc, { tier: tierOf(sc), ids: seeded.ids, cids: seeded.cids });
      rows.push(row);
      peak[sc.op] = row.rps.median;
      const half = HALF_RATE.find((h) => h.op === sc.op);
      if (half && row.rps.median > 0) {
        rows.push(await measure(t, { op: `${sc.op}@50%`, label: half.label, requests: half.requests }, { tier: SECONDARY, rate: Math.max(1, Math.round(row.rps.median / 2)), ids: seeded.ids, cids: seeded.cids }));
      }
    }
  });
  // The other faces: on the primary database only (the time budget; their storage path is the
  // same as the Junction face's).
  if (db === O.primaryDb && (!O.only || O.only.includes('webhooks'))) await phase(`webhooks ${db}`, () => webhookPass(t, url, tierOf(ROSTER.find((x) => x.op === 'create')!), rows));
  if (db === O.primaryDb && !O.only) await phase(`faces ${db}`, async () => {
    for (const f of FACES) {
      const probe = await probeFace(roster.url, f).catch((e: Error) => ({ ok: false, why: `probe failed: ${e.message}`, ids: [] as string[] }));
      const ft: Target_ = { ...t, system: `roster/${f.name}` };
      for (const sc of faceScenarios(f)) {
        if (!probe.ok) rows.push(emptyRow(ft, sc, SECONDARY, probe.why));
        else rows.push(await measure(ft, sc, { tier: SECONDARY, ids: probe.ids }));
      }
      if (!probe.ok) log(`  roster/${f.name}: ${probe.why}`);
    }
  });
  await phase(`minimal ${db}`, async () => {
    const port = await freePort();
    const minimal = await startServer({
      name: `minimal-${db}`, args: ['--import', 'tsx', 'bench/servers/minimal.ts'], cwd: ROOT, port,
      env: { ...process.env, PORT: String(port), DATABASE_URL: url, TEAM_ID: seeded.teamId, POOL_MAX: '20' },
      ready: { path: '/readyz' }, logFile: path.join(WORK, `minimal-${db}.log`),
    });
    live.add(minimal);
    try {
      const mt: Target_ = { system: 'minimal', db, server: minimal, pg: pgPids, drain: { path: '/readyz' }, pgUrl: url };
      for (const sc of wanted(MINIMAL)) rows.push(await measure(mt, sc, { tier: tierOf(sc), ids: seeded.ids, cids: seeded.cids }));
      // The same paced rate as Roster's half-peak rows: what the machine, the database and its WAL
      // flush give a server that does nothing else, at that rate (the p99 targets' reference).
      for (const h of HALF_RATE) {
        const ro = rows.find((r) => r.system === 'roster' && r.db === db && r.op === `${h.op}@50%` && r.rate);
        if (ro && wanted(MINIMAL).some((m) => m.op === h.op)) rows.push(await measure(mt, { op: `${h.op}@50%`, label: `${h.label.replace('50% peak', "Roster's 50% peak")}`, requests: h.requests }, { tier: SECONDARY, rate: ro.rate!, ids: seeded.ids, cids: seeded.cids }));
      }
    } finally {
      await stopServer(minimal);
    }
  });
  return seeded;
}

/**
 * Webhook cost on the write path (issue 12, contract §10): creates in a second team that has one
 * live `junction` endpoint (a receiver on 127.0.0.1 in this process, answering 204 at once),
 * measured like the creates row just before it on the same instance, whose team has none; then
 * how fast the dispatcher delivered what those creates recorded (first to last delivery, the
 * creates' own load included), waiting up to 120 s for it to drain.
 */
async function webhookPass(t: Target_, url: string, tier: Tier, rows: Row[]): Promise<void> {
  const base = rows.find((r) => r.system === 'roster' && r.db === t.db && r.op === 'create' && !r.skipped && r.rps.median > 0);
  const label = 'POST /v2/user, team with 1 webhook endpoint';
  // Distinct svix-ids: a delivery retried after a lost answer counts once. The lag of each is
  // receipt minus the event's time (the ULID's milliseconds in its svix-id), which Roster stamps
  // just before the create's statement: the lag from commit plus at most the create's own latency.
  const seen = new Set<string>();
  const lags: number[] = [];
  let first = 0;
  let last = 0;
  const rx = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['svix-id']);
      if (!seen.has(id)) { seen.add(id); const at = ulidTime(id); if (at !== null) lags.push(Date.now() - at); }
      last = performance.now(); if (!first) first = last;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => rx.listen(0, HOST, r));
  try {
    const admin = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`${t.server.url}/admin${p}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      if (!r.ok) throw new Error(`${method} /admin${p} → ${r.status} ${await r.text()}`);
      return r.json() as Promise<Record<string, string>>;
    };
    const team = await admin('POST', '/teams', { name: 'bench-webhooks', mode: 'production' });
    await withClient(url, (c) => liftTeamLimit(c, team.team_id!));
    await admin('POST', `/teams/${team.team_id}/webhooks`, { url: `http://${HOST}:${(rx.address() as { port: number }).port}/hook`, format: 'junction', filter_types: ['user.created'] });
    await sleep(300); // the endpoint cache reloads on its NOTIFY
    const create: RequestTemplate = { method: 'POST', path: '/v2/user', headers: { 'x-vital-api-key': team.api_key! }, body: '{"client_user_id":"hook-{uniq}"}' };
    const row = await measure({ ...t }, { op: 'create+webhook', label, requests: [create] }, { tier });
    if (base && row.rps.median > 0) row.note = `this ÷ creates without = ${(row.rps.median / base.rps.median).toFixed(2)}`;
    rows.push(row);
    const recorded = async () => withClient(url, async (c) => Number((await c.query('select count(*) as n from webhook_events where team_id = $1', [team.team_id])).rows[0].n));
    const events = await recorded();
    const t0 = performance.now();
    while (seen.size < events && performance.now() - t0 < 120_000) await sleep(200);
    const received = seen.size;
    const rate = last > first ? (received / (last - first)) * 1000 : 0;
    lags.sort((a, b) => a - b);
    const pct = (q: number) => (lags.length ? lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]! : 0);
    const lag = { p50: pct(0.5), p99: pct(0.99), max: lags.length ? lags[lags.length - 1]! : 0 };
    const one = (v: number) => ({ median: v, min: v, max: v });
    rows.push({
      system: 'roster', db: t.db, op: 'webhook-delivery', label: 'webhook deliveries (junction, receiver 204)', duration: Math.round((last - first) / 1000), runs: 1,
      rps: one(rate), p50: one(lag.p50), p99: one(lag.p99), non2xx: 0, socketErrors: 0, statusCodes: {}, rssPeakMb: 0, rssHwmMb: 0, pgPeakMb: 0,
      cpuUsPerReq: 0, pgCpuUsPerReq: 0, otherCpuPct: 0,
      note: `${received.toLocaleString('en-US')} of ${events.toLocaleString('en-US')} events delivered; drained ${((last - t0) / 1000).toFixed(1)} s after the creates; p50/p99 are the lag event → receipt (max ${Math.round(lag.max)} ms)`,
    });
    webhookResults.push({ db: t.db, ratio: base && row.rps.median > 0 ? row.rps.median / base.rps.median : null, delivered: events ? received / events : null, rate, lag });
  } catch (e) {
    notes.push(`webhook rows on ${t.db} not measured: ${(e as Error).message}`);
    rows.push(emptyRow(t, { op: 'create+webhook', label }, tier, (e as Error).message));
  } finally {
    rx.close();
  }
}
const webhookResults: { db: string; ratio: number | null; delivered: number | null; rate: number; lag: { p50: number; p99: number; max: number } }[] = [];


/**
 * Reads by id and creates through PgBouncer (transaction mode, 20 server connections) in front of
 * the same server database, Roster with DATABASE_POOLER=transaction: no named prepared statements.
 * Each row notes its ratio to the direct server row of the same scenario.
 */
async function pgbouncerPass(url: string, seeded: Seeded, rows: Row[]): Promise<void> {
  const { startPgBouncer } = await import('../test/support/pooler.ts');
  let bouncer: Awaited<ReturnType<typeof startPgBouncer>>;
  try {
    bouncer = await startPgBouncer({ upstreams: [url], poolSize: 20 });
  } catch (e) {
    notes.push(`PgBouncer rows not measured: ${(e as Error).message}`);
    return;
  }
  try {
    const roster = await startRoster({ name: 'roster-pgbouncer', databaseUrl: bouncer.via(url), env: { DATABASE_POOLER: 'transaction', DATABASE_DIRECT_URL: url } });
    try {
      const t: Target_ = { system: 'roster', db: 'pgbouncer', server: roster, pg: await serverPgPids(url, BENCH_DB), drain: { path: '/readyz' }, pgUrl: url };
      for (const sc of ROSTER.filter((x) => x.op === 'get' || x.op === 'create')) {
        const row = await measure(t, sc, { tier: O.primaryDb === 'server' ? PRIMARY : SECONDARY, ids: seeded.ids, cids: seeded.cids });
        const direct = rows.find((r) => r.system === 'roster' && r.db === 'server' && r.op === sc.op && !r.skipped && r.rps.median > 0);
        if (direct && row.rps.median > 0) row.note = `this ÷ direct server = ${(row.rps.median / direct.rps.median).toFixed(2)}`;
        rows.push(row);
      }
    } finally {
      await stopServer(roster);
    }
  } finally {
    await bouncer.stop();
  }
}

async function writeJsonServerDb(url: string, teamId: string, file: string) {
  await withClient(url, async (c) => {
    const r = await c.query(`select id, team_id, client_user_id, created_at, fallback_time_zone, fallback_time_zone_updated_at,
        fallback_birth_date, fallback_birth_date_updated_at, ingestion_start, ingestion_end
      from users where team_id = $1 and client_user_id like 'seed-%' order by created_at`, [teamId]);
    const iso = (d: Date | null) => (d ? d.toISOString().replace('Z', '+00:00') : null);
    const users = r.rows.map((u: Record<string, unknown>) => ({
      id: u.id,
      user_id: u.id,
      team_id: u.team_id,
      client_user_id: u.client_user_id,
      created_on: iso(u.created_at as Date),
      connected_sources: [],
      fallback_time_zone: u.fallback_time_zone ? { id: u.fallback_time_zone, source_slug: 'manual', updated_at: iso(u.fallback_time_zone_updated_at as Date) } : null,
      fallback_birth_date: u.fallback_birth_date ? { value: u.fallback_birth_date, source_slug: 'manual', updated_at: iso(u.fallback_birth_date_updated_at as Date) } : null,
      ingestion_start: u.ingestion_start,
      ingestion_end: u.ingestion_end,
    }));
    fs.writeFileSync(file, JSON.stringify({ users }, null, 2));
  });
}

// ---------------------------------------------------------------------------------------------
// default mode

interface ColdStart {
  freshMs: number;
  warmMs: number[];
}

async function coldStart(dataDir: string): Promise<{ cs: ColdStart; server: Server }> {
  buildRoster();
  const fresh = await startRoster({ name: 'roster-coldstart', dataDir });
  const freshMs = fresh.readyMs;
  await stopServer(fresh);
  const warmMs: number[] = [];
  let s: Server | null = null;
  for (let i = 0; i < 3; i++) {
    if (s) await stopServer(s);
    s = await startRoster({ name: 'roster-embedded', dataDir });
    warmMs.push(s.readyMs);
  }
  return { cs: { freshMs, warmMs }, server: s! };
}

async function defaultMode() {
  const rows: Row[] = [];
  const targets: Target[] = [];
  const dbVersions: Record<string, string> = {};
  let cs: ColdStart | null = null;
  let peers: PeerInstall | null = null;
  let serverReadyMs: number | null = null;
  const jsonDb = path.join(WORK, 'db.json');
  let jsonDbReady = false;
  const load0 = LOAD_AT_START;
  if (load0 > 0.7) notes.push(`the machine was busy when the benchmark started (load average ${load0.toFixed(2)} on ${os.cpus().length} cores): absolute numbers are low; ratios within one run still compare`);
  const est = estimateSeconds();
  log(`plan: primary ${PRIMARY.runs}×${PRIMARY.duration}s (+${PRIMARY.warmup}s warm-up), others ${SECONDARY.runs}×${SECONDARY.duration}s (+${SECONDARY.warmup}s), ${O.connections} connections; about ${Math.ceil(est / 60)} min`);

  if (!O.skipPeers) {
    peers = await phase('install peers', () => ensurePeers(PEERS_DIR, ['json-server', 'prism'], log));
    for (const [p, why] of Object.entries(peers.problems)) notes.push(`${p}: ${why}`);
  }

  // Embedded: Roster starts its own PostgreSQL (no DATABASE_URL), as `npm start` does.
  if (!O.skipEmbedded) {
    const dataDir = path.join(WORK, 'data');
    const started = await phase('cold start', () => coldStart(dataDir));
    cs = started.cs;
    log(`cold start to /readyz: fresh data dir ${(cs.freshMs / 1000).toFixed(2)} s; warm ${cs.warmMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s`);
    const url = embeddedUrl(dataDir);
    dbVersions.embedded = await pgVersion(url);
    const pm = postmasterPid(path.join(dataDir, 'pg'));
    const seeded = await dbPass('embedded', started.server, url, pm ? () => postgresPids(pm) : null, rows);
    if (!O.skipPeers) { await writeJsonServerDb(url, seeded.teamId, jsonDb); jsonDbReady = true; }
    await stopServer(started.server);
  }

  // Server PostgreSQL: a database of our own, dropped afterwards.
  if (!O.skipServer) {
    let url: string | null = null;
    try {
      url = await createServerDb(BENCH_DB);
    } catch (e) {
      notes.push(`server PostgreSQL at ${redact(O.serverUrl)} not measured: ${(e as Error).message}`);
      log(`server PostgreSQL unavailable: ${(e as Error).message}`);
    }
    if (url) {
      try {
        dbVersions.server = await pgVersion(url);
        const roster = await startRoster({ name: 'roster-server', databaseUrl: url });
        serverReadyMs = roster.readyMs;
        let seeded: Seeded | null = null;
        try {
          seeded = await dbPass('server', roster, url, await serverPgPids(url, BENCH_DB), rows);
          if (!O.skipPeers && !jsonDbReady) { await writeJsonServerDb(url, seeded.teamId, jsonDb); jsonDbReady = true; }
        } finally {
          await stopServer(roster);
        }
        if (seeded && !O.skipPgbouncer) await phase('roster pgbouncer', () => pgbouncerPass(url!, seeded!, rows));
      } finally {
        await dropServerDb(BENCH_DB);
      }
    }
  }

  const seededForPeers = sampleSeeded('seed', O.users, O.users);
  await phase('echo', async () => {
    const port = await freePort();
    const echo = await startServer({ name: 'echo', args: ['--import', 'tsx', 'bench/servers/echo.ts'], cwd: ROOT, port, env: { ...process.env, PORT: String(port) }, ready: { path: '/' }, logFile: path.join(WORK, 'echo.log') });
    live.add(echo);
    try {
      for (const sc of wanted(ECHO)) rows.push(await measure({ system: 'echo', db: '—', server: echo, pg: null, drain: { path: '/' } }, sc, { tier: SECONDARY, ids: seededForPeers.ids }));
    } finally {
      await stopServer(echo);
    }
  });

  if (peers) {
    await phase('json-server', async () => {
      const bin = peers!.bins['json-server'];
      if (!bin || !jsonDbReady) {
        for (const sc of wanted(JSON_SERVER)) rows.push(emptyRow({ system: 'json-server', db: '—', server: null as never, pg: null }, sc, SECONDARY, peers!.problems['json-server'] ?? 'no seeded records to serve'));
        return;
      }
      const port = await freePort();
      const s = await startServer({ name: 'json-server', args: [bin, '--port', String(port), '--host', HOST, '--quiet', jsonDb], cwd: WORK, port, ready: { path: '/users?_limit=1' }, logFile: path.join(WORK, 'json-server.log') });
      live.add(s);
      try {
        for (const sc of wanted(JSON_SERVER)) rows.push(await measure({ system: 'json-server', db: '—', server: s, pg: null, drain: { path: '/users?_limit=1' } }, sc, { tier: SECONDARY, ...seededForPeers }));
      } finally {
        await stopServer(s);
      }
    });
    await phase('prism', async () => {
      const bin = peers!.bins.prism;
      if (!bin || !fs.existsSync(JUNCTION_SPEC)) {
        for (const sc of wanted(PRISM)) rows.push(emptyRow({ system: 'prism', db: '—', server: null as never, pg: null }, sc, SECONDARY, peers!.problems.prism ?? `${JUNCTION_SPEC} missing`));
        return;
      }
      const port = await freePort();
      const s = await startServer({
        name: 'prism', args: [bin, 'mock', '-p', String(port), '-h', HOST, '-m', 'false', '-v', 'error', JUNCTION_SPEC], cwd: WORK, port,
        ready: { path: `/v2/user/${seededForPeers.ids[0]}`, headers: { 'x-vital-api-key': BENCH_KEY } }, logFile: path.join(WORK, 'prism.log'), timeoutMs: 120_000,
      });
      live.add(s);
      log(`prism ready in ${(s.readyMs / 1000).toFixed(1)} s`);
      try {
        for (const sc of wanted(PRISM)) rows.push(await measure({ system: 'prism', db: '—', server: s, pg: null, drain: { path: `/v2/user/${seededForPeers.ids[0]}`, headers: { 'x-vital-api-key': BENCH_KEY } } }, sc, { tier: SECONDARY, ...seededForPeers }));
      } finally {
        await stopServer(s);
      }
    });
  }

  // ---- ratios and targets ----
  const find = (system: string, db: string, op: string) => rows.find((r) => r.system === system && r.db === db && r.op === op && !r.skipped && r.rps.median > 0);
  const peerDb = !O.skipEmbedded ? 'embedded' : 'server';
  for (const r of rows) {
    if (r.skipped || r.rps.median === 0) continue;
    if (r.system === 'minimal') {
      const ro = find('roster', r.db, r.op);
      if (ro) r.ratio = ro.rps.median / r.rps.median;
    } else if (r.system === 'echo' || r.system === 'json-server' || r.system === 'prism') {
      const ro = find('roster', peerDb, r.op);
      if (ro) { r.ratio = ro.rps.median / r.rps.median; r.ratioOf = peerDb === 'embedded' ? '' : `(vs ${peerDb})`; }
    } else if (r.system.startsWith('roster/')) {
      const mi = find('minimal', r.db, r.op);
      if (mi) r.note = `this ÷ minimal = ${(r.rps.median / mi.rps.median).toFixed(2)}`;
    }
  }
  for (const db of ['embedded', 'server']) {
    const mc = find('minimal', db, 'create');
    const mg = find('minimal', db, 'get');
    if (!mc && !mg) continue;
    const ratio = (a?: Row, b?: Row) => (a && b ? a.rps.median / b.rps.median : null);
    const suffix = db === O.primaryDb ? '' : ` [${O.runs}×${O.secDuration}s runs]`;
    for (const [label, op, mi, bound] of [['creates', 'create', mc, 1.0], ['reads by id', 'get', mg, 0.9], ['resolve', 'resolve', mg, 0.9]] as const) {
      const ro = find('roster', db, op);
      targets.push(target(`${label}: Roster ÷ minimal${op === 'resolve' ? ' read by id' : ''} (${db})${suffix}`, ratio(ro, mi), bound, 'min', '×', [cpuRatioNote(ro, mi), errNote(ro)].filter(Boolean).join('; ') || undefined));
    }
    for (const h of HALF_RATE) {
      const r = find('roster', db, `${h.op}@50%`);
      const m = find('minimal', db, `${h.op}@50%`);
      const note = r ? `${Math.round(r.rate ?? 0)} req/s${m ? `; the minimal server at that rate: p99 ${m.p99.median.toFixed(1)} ms` : ''}` : undefined;
      targets.push(target(`p99 at 50% of Roster's peak, ${h.op === 'get' ? 'reads by id' : 'creates'} (${db})`, r ? r.p99.median : null, h.boundMs, 'max', 'ms', note));
    }
  }
  for (const w of webhookResults) {
    targets.push(target(`creates, team with one live webhook endpoint ÷ without (${w.db})`, w.ratio, 0.9, 'min', '×', 'issue 12; the dispatcher delivers meanwhile on the same cores'));
    targets.push(target(`webhook events delivered after those creates (${w.db})`, w.delivered, 1, 'min', '×', `${Math.round(w.rate)} deliveries/s, first to last; lag event → receipt p50 ${Math.round(w.lag.p50)} ms, p99 ${Math.round(w.lag.p99)} ms, max ${Math.round(w.lag.max)} ms`));
  }
  for (const peer of ['json-server', 'prism']) {
    for (const r of rows.filter((x) => x.system === peer && !x.skipped && x.ratio !== undefined)) {
      // Answers of different weight are named: Prism answers any list with one generated example.
      const ro = find('roster', peerDb, r.op);
      const weigh = ro?.bytesPerResponse && r.bytesPerResponse && Math.abs(ro.bytesPerResponse / r.bytesPerResponse - 1) > 0.5
        ? `answers of different size: Roster ${ro.bytesPerResponse.toLocaleString('en-US')} B, ${peer} ${r.bytesPerResponse.toLocaleString('en-US')} B per response` : undefined;
      targets.push(target(`Roster ahead of ${peer}: ${r.op} (Roster ÷ ${peer})`, r.ratio!, 1, 'min', '×', weigh));
    }
  }
  const rosterRows = rows.filter((r) => r.system.startsWith('roster') && !r.skipped);
  if (rosterRows.length) {
    const worst = rosterRows.reduce((a, b) => (b.rssPeakMb > a.rssPeakMb ? b : a));
    targets.push(target('Roster RSS under load (peak of all scenarios)', worst.rssPeakMb, 150, 'max', 'MB', `${worst.db}, ${worst.label}; PostgreSQL reported separately`));
  }
  if (cs) {
    targets.push(target('cold start to /readyz, fresh data dir', cs.freshMs / 1000, 5, 'max', 's', 'initdb included'));
    targets.push(target('cold start to /readyz, warm (median of 3)', stat(cs.warmMs).median / 1000, 2, 'max', 's'));
  }

  // ---- print ----
  const wall = elapsed();
  const lines: string[] = [];
  lines.push('');
  lines.push(`Roster benchmark ${new Date().toISOString().slice(0, 10)} · ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}) · Node ${process.version} · PostgreSQL ${Object.entries(dbVersions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`${O.connections} connections; primary scenarios (${O.primaryDb}) ${PRIMARY.runs}×${PRIMARY.duration} s after ${PRIMARY.warmup} s warm-up; others ${SECONDARY.runs}×${SECONDARY.duration} s after ${SECONDARY.warmup} s; values are medians of the runs. Roster LOG_LEVEL=${O.logLevel}.`);
  lines.push('');
  lines.push(...formatRows(rows));
  lines.push('');
  lines.push('Roster ÷ this: Roster\'s req/s on the same scenario (minimal: same database; echo and peers: Roster on ' + peerDb + ').');
  lines.push(`CPU µs/req: CPU time of the server process (+ its PostgreSQL processes) per request; they share ${os.cpus().length} cores with the load process.`);
  lines.push('other: CPU used meanwhile by unrelated processes on the machine, % of all cores. Above ~10% a row\'s absolute numbers are depressed; compare rows with similar values.');
  if (cs) lines.push(`Cold start (package.json's start command without npm → /readyz 200): fresh data dir ${(cs.freshMs / 1000).toFixed(2)} s, warm ${cs.warmMs.map((m) => (m / 1000).toFixed(2)).join(' / ')} s${serverReadyMs !== null ? `; with DATABASE_URL (server PostgreSQL) ${(serverReadyMs / 1000).toFixed(2)} s` : ''}.`);
  lines.push('');
  lines.push('Targets (issues 5, 12, 16)');
  lines.push(...formatTargets(targets).map((l) => '  ' + l));
  if (notes.length) {
    lines.push('');
    lines.push('Notes');
    for (const n of notes) lines.push(`  - ${n}`);
  }
  lines.push('');
  lines.push(`Finished in ${Math.floor(wall / 60)} min ${Math.round(wall % 60)} s (${Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}).`);
  process.stdout.write(lines.join('\n') + '\n');

  if (O.write) {
    const file = path.join(RESULTS, `${new Date().toISOString().slice(0, 10)}${O.quick ? '-quick' : ''}.json`);
    writeResults(file, { mode: O.quick ? 'quick' : 'default', rows, targets, coldStart: cs, serverReadyMs, dbVersions, wall, peers });
    log(`results written to ${path.relative(ROOT, file)}`);
  }
}

/** The same ratio from CPU time per request (server + PostgreSQL): steadier on a busy machine. */
function cpuRatioNote(ro?: Row, mi?: Row): string | undefined {
  if (!ro || !mi) return undefined;
  const a = ro.cpuUsPerReq + ro.pgCpuUsPerReq;
  const b = mi.cpuUsPerReq + mi.pgCpuUsPerReq;
  return a > 0 && b > 0 ? `by CPU µs/req ${(b / a).toFixed(2)}` : undefined;
}

function errNote(r?: Row): string | undefined {
  if (!r) return undefined;
  const n = r.non2xx + r.socketErrors;
  return n ? `${n} errors in the Roster runs` : undefined;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

function estimateSeconds(): number {
  const per = (t: Tier) => t.warmup + t.runs * (t.duration + 0.3) + 1.2;
  const dbs = (O.skipEmbedded ? 0 : 1) + (O.skipServer ? 0 : 1);
  let s = 0;
  for (const db of ['embedded', 'server'].slice(0, 2)) {
    if ((db === 'embedded' && O.skipEmbedded) || (db === 'server' && O.skipServer)) continue;
    const tier = (p?: boolean) => (p && db === O.primaryDb ? PRIMARY : SECONDARY);
    for (const sc of [...ROSTER, ...MINIMAL]) s += per(tier(sc.primary));
    s += 2 * HALF_RATE.length * per(SECONDARY) + (db === O.primaryDb ? FACES.length * 2 * per(SECONDARY) : 0) + 8;
  }
  s += per(SECONDARY) * ECHO.length;
  if (!O.skipPeers) s += per(SECONDARY) * (JSON_SERVER.length + PRISM.length) + 10;
  return s + 10 * dbs + 10;
}

function round(x: number, d = 1) {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function writeResults(file: string, r: { mode: string; rows: Row[]; targets: Target[]; coldStart: ColdStart | null; serverReadyMs: number | null; dbVersions: Record<string, string>; wall: number; peers: PeerInstall | null; scale?: unknown }) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const s3 = (s: { median: number; min: number; max: number }, d = 1) => [round(s.median, d), round(s.min, d), round(s.max, d)];
  const doc = {
    date: new Date().toISOString(),
    mode: r.mode,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.trim(), memGb: round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release(), loadAtStart: round(LOAD_AT_START, 2), loadAtEnd: round(os.loadavg()[0]!, 2) },
    roster: rosterCommit(),
    postgres: r.dbVersions,
    config: { connections: O.connections, primary: PRIMARY, secondary: SECONDARY, primaryDb: O.primaryDb, rosterLogLevel: O.logLevel, seededUsers: O.users },
    wallSeconds: round(r.wall),
    phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, round(v)])),
    peers: r.peers ? { installed: r.peers.installed, installSeconds: round(r.peers.installMs / 1000), problems: r.peers.problems } : null,
    coldStart: r.coldStart ? { freshSeconds: round(r.coldStart.freshMs / 1000, 2), warmSeconds: r.coldStart.warmMs.map((m) => round(m / 1000, 2)), serverPgSeconds: r.serverReadyMs !== null ? round(r.serverReadyMs / 1000, 2) : null } : null,
    // rps/p50/p99 are [median, min, max] over the runs; latencies in ms.
    results: r.rows.map((x) => x.skipped
      ? { system: x.system, db: x.db, op: x.op, label: x.label, skipped: x.skipped }
      : {
        system: x.system, db: x.db, op: x.op, label: x.label, runs: x.runs, seconds: x.duration,
        ...(x.rate ? { rate: x.rate } : {}),
        rps: s3(x.rps, 0), p50: s3(x.p50, 2), p99: s3(x.p99, 2),
        errors: x.non2xx + x.socketErrors,
        ...(x.non2xx + x.socketErrors ? { statusCodes: x.statusCodes, socketErrors: x.socketErrors } : {}),
        rssMb: round(x.rssPeakMb), hwmMb: round(x.rssHwmMb), pgMb: round(x.pgPeakMb),
        cpuUsPerReq: round(x.cpuUsPerReq, 0), pgCpuUsPerReq: round(x.pgCpuUsPerReq, 0), otherCpuPct: round(x.otherCpuPct, 0),
        ...(x.ratio !== undefined ? { rosterRatio: round(x.ratio, 2) } : {}),
        ...(x.pgWaits ? { pgActive: x.pgWaits } : {}),
        ...(x.note ? { note: x.note } : {}),
      }),
    targets: r.targets.map((t) => ({ name: t.name, value: t.value === null ? null : round(t.value, 2), bound: t.bound, kind: t.kind, unit: t.unit, met: t.met, gap: t.gap, ...(t.note ? { note: t.note } : {}) })),
    ...(r.scale ? { scale: r.scale } : {}),
    notes,
  };
  fs.writeFileSync(file, compactJson(doc) + '\n');
}

/** Pretty JSON with each result row and each number array on one line: small, diff-friendly. */
function compactJson(doc: unknown): string {
  return JSON.stringify(doc, null, 1)
    .replace(/\[\s*(-?[\d.e+]+(?:,\s*-?[\d.e+]+)*)\s*\]/g, (_m, g: string) => `[${g.replace(/\s+/g, '')}]`)
    .replace(/\n\s+\{\n((?:\s+"[^\n]*\n)+?)\s+\}/g, (m, body: string) => (/[{[]\s*$/m.test(body) ? m : `\n  {${body.trim().split('\n').map((l) => l.trim()).join(' ')}}`));
}

// ---------------------------------------------------------------------------------------------
// --scale: one team of a million users

const CONSOLE_TOKEN = 'bench-console-admin-token-0123456789';

/** Signs in to the console and names its users pages to measure (first, keyset `deep` rows down, prefix search). */
async function consolePages(base: string, pgUrl: string, teamId: string, deep: number) {
  const r = await fetch(`${base}/admin/console/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ token: CONSOLE_TOKEN }).toString(),
  });
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]!;
  if (r.status !== 303 || !cookie) throw new Error(`console sign-in failed: ${r.status}`);
  const after = await withClient(pgUrl, async (c) => (await c.query<{ id: string }>(
    'select id from users where team_id = $1 and deleted_at is null order by created_at desc, id desc offset $2 limit 1', [teamId, deep])).rows[0]!.id);
  const users = `/admin/console/t/${teamId}/users`;
  const headers = { cookie, accept: 'text/html' };
  return [
    { op: 'console-users', name: 'users page', label: `GET ${users} (first page)`, path: users, headers },
    { op: 'console-users-deep', name: `users page ${deep.toLocaleString('en-US')} down by keyset`, label: `GET ${users}?after=… (${deep.toLocaleString('en-US')} rows down)`, path: `${users}?after=${after}`, headers },
    { op: 'console-users-prefix', name: 'users page client-id prefix search', label: `GET ${users}?q=scale-12345 (prefix)`, path: `${users}?q=scale-12345`, headers },
  ];
}

async function scaleMode() {
  const rows: Row[] = [];
  const targets: Target[] = [];
  const dbVersions: Record<string, string> = {};
  const useServer = !O.skipServer && (opt('scale-db') ?? 'server') === 'server';
  let url: string;
  let roster: Server;
  let pgPids: (() => number[]) | null;
  const dbName = `${BENCH_DB}_scale`;
  if (useServer) {
    url = await createServerDb(dbName);
    roster = await startRoster({ name: 'roster-scale', databaseUrl: url, env: { ROSTER_ADMIN_TOKEN: CONSOLE_TOKEN } });
    pgPids = await serverPgPids(url, dbName);
  } else {
    const dataDir = path.join(WORK, 'data-scale');
    roster = await startRoster({ name: 'roster-scale', dataDir, env: { ROSTER_ADMIN_TOKEN: CONSOLE_TOKEN } });
    url = embeddedUrl(dataDir);
    const pm = postmasterPid(path.join(dataDir, 'pg'));
    pgPids = pm ? () => postgresPids(pm) : null;
  }
  const db = useServer ? 'server' : 'embedded';
  dbVersions[db] = await pgVersion(url);
  let seed = { insertMs: 0, vacuumMs: 0 };
  let sqlProbes: Record<string, number> = {};
  try {
    const teamId = await withClient(url, async (c) => {
      const id = await teamOfKey(c, BENCH_KEY);
      await liftTeamLimit(c, id);
      return id;
    });
    log(`${db}: seeding ${O.scaleUsers.toLocaleString('en-US')} users (insert … select generate_series, 250k per statement)`);
    seed = await phase('seed', () => withClient(url, async (c) => {
      const r = await seedUsers(c, { teamId, prefix: 'scale', n: O.scaleUsers, onProgress: (d) => log(`  ${d.toLocaleString('en-US')} rows`) });
      const t = performance.now();
      await c.query('vacuum (analyze) users');
      return { insertMs: r.insertMs, vacuumMs: performance.now() - t + r.analyzeMs };
    }));
    log(`seeded in ${(seed.insertMs / 1000).toFixed(1)} s + vacuum/analyze ${(seed.vacuumMs / 1000).toFixed(1)} s`);
    const { ids, cids } = sampleSeeded('scale', O.scaleUsers, 10_000);
    const t: Target_ = { system: 'roster', db, server: roster, pg: pgPids, drain: { path: '/readyz' }, pgUrl: url };
    const byOp = (op: string) => ROSTER.find((s) => s.op === op)!;
    const J = { 'x-vital-api-key': BENCH_KEY };
    await phase('scale load', async () => {
      for (const op of ['get', 'resolve']) {
        const sc = byOp(op);
        const peak = await measure(t, sc, { tier: SECONDARY, ids, cids });
        rows.push(peak);
        const half = await measure(t, { op: `${op}@50%`, label: `${sc.label} @ 50% peak`, requests: sc.requests }, { tier: SECONDARY, rate: Math.max(1, Math.round(peak.rps.median / 2)), ids, cids });
        rows.push(half);
        targets.push(target(`at scale: ${op === 'get' ? 'get by id' : 'resolve'} p99 at 50% of peak (${db})`, half.p99.median, 5, 'max', 'ms', `${half.rate} req/s; at full load p99 ${peak.p99.median.toFixed(1)} ms`));
      }
      // Single-client latency of the heavy reads: one connection, sequential requests.
      const single: Tier = { duration: Math.max(O.secDuration, 8), runs: 1, warmup: 1 };
      const deep = Math.max(0, Math.round(O.scaleUsers * 0.9));
      const heavy: { op: string; label: string; path: string; bound?: number; name?: string }[] = [
        { op: 'list-deep', label: `GET /v2/user?offset=${deep}&limit=100`, path: `/v2/user?offset=${deep}&limit=100`, bound: 150, name: `offset ${deep} listing` },
        { op: 'list', label: 'GET /v2/user?limit=100', path: '/v2/user?limit=100' },
        { op: 'metrics', label: 'GET /v2/user/metrics', path: '/v2/user/metrics', bound: 200, name: 'team metrics' },
      ];
      for (const h of heavy) {
        const r = await measure(t, { op: h.op, label: `${h.label} (1 connection)`, requests: [{ method: 'GET', path: h.path, headers: J }] }, { tier: single, connections: 1 });
        rows.push(r);
        if (h.bound) targets.push(target(`at scale: ${h.name} p99, one client (${db})`, r.p99.median, h.bound, 'max', 'ms', `p50 ${r.p50.median.toFixed(1)} ms`));
      }
      // The console's users page (issue 13): the first page, a page 90% down by keyset, a
      // client_user_id prefix search, each rendered by the server for one signed-in operator.
      for (const p of await consolePages(roster.url, url, teamId, deep)) {
        const r = await measure(t, { op: p.op, label: `${p.label} (1 connection)`, requests: [{ method: 'GET', path: p.path, headers: p.headers }] }, { tier: single, connections: 1 });
        rows.push(r);
        targets.push(target(`at scale: console ${p.name} p99, one client (${db})`, r.p99.median, 200, 'max', 'ms', `p50 ${r.p50.median.toFixed(1)} ms`));
      }
    });
    // The same deep page straight in SQL, as Roster's listing does it and with the skip done on
    // the index alone (a deferred join), and the count: evidence for docs/benchmark.md.
    sqlProbes = await phase('sql probes', () => withClient(url, async (c) => {
      const deep = Math.max(0, Math.round(O.scaleUsers * 0.9));
      const time = async (text: string, values: unknown[]) => {
        const ms: number[] = [];
        for (let i = 0; i < 4; i++) {
          const t0 = performance.now();
          await c.query(text, values);
          ms.push(performance.now() - t0);
        }
        return round(stat(ms.slice(1)).median, 1);
      };
      const live = 'team_id = $1 and deleted_at is null';
      const order = 'order by created_at desc, id desc';
      // Roster's listing selects each user's connections as a JSON array (a correlated subquery).
      const conns = `(select coalesce(json_agg(agg), '[]') from (select connections.* from connections
        where connections.team_id = users.team_id and connections.user_id = users.id
        order by connections.created_at, connections.provider) as agg) as conns`;
      return {
        [`offset ${deep}, select * only`]: await time(`select * from users where ${live} ${order} offset $2 limit 100`, [teamId, deep]),
        [`offset ${deep}, as Roster lists (+ connections subquery)`]: await time(`select users.*, ${conns} from users where ${live} ${order} offset $2 limit 100`, [teamId, deep]),
        [`offset ${deep}, deferred join (+ connections subquery)`]: await time(`select users.*, ${conns} from users where ${live} and (created_at, id) <= (select created_at, id from users where ${live} ${order} offset $2 limit 1) ${order} limit 100`, [teamId, deep]),
        'count(*) of the live users': await time(`select count(*) from users where ${live}`, [teamId]),
      };
    }));
  } finally {
    await stopServer(roster);
    if (useServer) await dropServerDb(dbName);
  }
  const wall = elapsed();
  const lines = [
    '',
    `Roster at scale ${new Date().toISOString().slice(0, 10)} · one team of ${O.scaleUsers.toLocaleString('en-US')} users on ${db} PostgreSQL ${dbVersions[db]} · ${os.cpus().length} cores`,
    `Seeding (bulk SQL, not the API): insert ${(seed.insertMs / 1000).toFixed(1)} s (${Math.round(O.scaleUsers / (seed.insertMs / 1000)).toLocaleString('en-US')} rows/s) + vacuum/analyze ${(seed.vacuumMs / 1000).toFixed(1)} s`,
    '',
    ...formatRows(rows),
    '',
    'Targets (issue 5, at scale)',
    ...formatTargets(targets).map((l) => '  ' + l),
    '',
    'The same queries straight in SQL (median of 3 after one unmeasured run, ms)',
    ...Object.entries(sqlProbes).map(([k, v]) => `  ${k.padEnd(60)} ${String(v).padStart(8)} ms`),
    ...(notes.length ? ['', 'Notes', ...notes.map((n) => `  - ${n}`)] : []),
    '',
    `Finished in ${Math.floor(wall / 60)} min ${Math.round(wall % 60)} s.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (O.write) {
    const file = path.join(RESULTS, `${new Date().toISOString().slice(0, 10)}-scale.json`);
    writeResults(file, { mode: 'scale', rows, targets, coldStart: null, serverReadyMs: null, dbVersions, wall, peers: null, scale: { users: O.scaleUsers, db, insertSeconds: round(seed.insertMs / 1000), vacuumAnalyzeSeconds: round(seed.vacuumMs / 1000), sqlMs: sqlProbes } });
    log(`results written to ${path.relative(ROOT, file)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// --profile: CPU profiles of Roster under the create and read loads, and the cost of its log line

async function profileMode() {
  const dataDir = path.join(WORK, 'data-profile');
  const profDir = PROFILES_DIR;
  fs.mkdirSync(profDir, { recursive: true });
  const first = await startRoster({ name: 'roster-profile-setup', dataDir });
  const url = embeddedUrl(dataDir);
  const seeded = await seedReadTeam(url);
  await stopServer(first);
  const tier: Tier = { duration: O.quick ? 3 : 10, runs: 1, warmup: 2 };
  const summaries: Record<string, ProfileSummary> = {};
  const rows: Row[] = [];
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
  // `--only` picks the loads to profile (any of ROSTER's operations, and `webhooks`: the creates of a
  // team with one live endpoint, webhookPass, the dispatcher's delivery of them included up to the
  // drain); get and create without it.
  const profiled: string[] = O.only
    ? [...ROSTER.filter((x) => O.only!.includes(x.op)).map((x) => x.op), ...(O.only.includes('webhooks') ? ['webhooks'] : [])]
    : ['get', 'create'];
  for (const op of profiled) {
    // One folder per load: Node writes a profile per thread (tsx's loader hooks run in a worker);
    // the main thread's file is the one with thread id 0 in its name.
    const dir = path.join(profDir, `${stamp}-${op}`);
    fs.mkdirSync(dir, { recursive: true });
    const s = await startRoster({ name: `roster-profile-${op}`, dataDir, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
    const pm = postmasterPid(path.join(dataDir, 'pg'));
    const t: Target_ = { system: 'roster', db: 'embedded', server: s, pg: pm ? () => postgresPids(pm) : null, drain: { path: '/readyz' }, pgUrl: url };
    let row: Row;
    if (op === 'webhooks') {
      const before = rows.length;
      await webhookPass(t, url, tier, rows);
      row = rows.slice(before).find((r) => r.op === 'create+webhook') ?? rows[rows.length - 1]!;
    } else {
      row = await measure(t, ROSTER.find((x) => x.op === op)!, { tier, ...seeded });
      rows.push(row);
    }
    await stopServer(s);
    const main = fs.readdirSync(dir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (!main) { notes.push(`no main-thread profile written for ${op} in ${dir}`); continue; }
    // The webhook profile is read whole: the dispatcher's work goes on after the creates' window.
    summaries[op] = analyzeProfile(JSON.parse(fs.readFileSync(path.join(dir, main), 'utf8')) as CpuProfile, O.rosterDir, op === 'webhooks' ? {} : { windowUs: row.windowUs });
    log(`profile: ${path.join(dir, main)}`);
  }
  // The per-request log line: the same loads at LOG_LEVEL=warn (no request lines) vs info.
  const ab: Tier = { duration: O.quick ? 3 : 5, runs: O.quick ? 1 : 3, warmup: 1 };
  const logOps = profiled.filter((o) => o === 'get' || o === 'create');
  for (const level of logOps.length ? ['info', 'warn'] : []) {
    const s = await startRoster({ name: `roster-log-${level}`, dataDir, logLevel: level });
    const pm = postmasterPid(path.join(dataDir, 'pg'));
    for (const op of logOps) {
      const r = await measure({ system: `roster (LOG_LEVEL=${level})`, db: 'embedded', server: s, pg: pm ? () => postgresPids(pm) : null, drain: { path: '/readyz' } }, ROSTER.find((x) => x.op === op)!, { tier: ab, ...seeded });
      rows.push(r);
    }
    await stopServer(s);
  }
  const lines = ['', `Roster CPU profiles (${tier.duration} s of load each, after ${tier.warmup} s warm-up; files in ${profDir}/; open them in Chrome DevTools or speedscope)`, ''];
  for (const [op, s] of Object.entries(summaries)) lines.push(...formatProfile(op === 'webhooks' ? 'POST /v2/user, team with 1 webhook endpoint (until delivered)' : ROSTER.find((x) => x.op === op)!.label, s), '');
  lines.push(...formatRows(rows), '');
  const info = (op: string) => rows.find((r) => r.system === 'roster (LOG_LEVEL=info)' && r.op === op);
  const warn = (op: string) => rows.find((r) => r.system === 'roster (LOG_LEVEL=warn)' && r.op === op);
  for (const op of ['get', 'create']) {
    const a = info(op);
    const b = warn(op);
    if (a && b && a.rps.median) lines.push(`per-request log line (${op}): LOG_LEVEL=warn gives ${((b.rps.median / a.rps.median - 1) * 100).toFixed(0)}% more req/s than info (${Math.round(a.rps.median)} → ${Math.round(b.rps.median)}), CPU ${Math.round(a.cpuUsPerReq)} → ${Math.round(b.cpuUsPerReq)} µs/req`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (O.write) {
    const file = path.join(RESULTS, `${new Date().toISOString().slice(0, 10)}-profile.json`);
    fs.mkdirSync(RESULTS, { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), profiles: summaries, rows: rows.map((r) => ({ system: r.system, op: r.op, rps: round(r.rps.median, 0), p99: round(r.p99.median, 2), cpuUsPerReq: round(r.cpuUsPerReq, 0), pgCpuUsPerReq: round(r.pgCpuUsPerReq, 0) })), notes }, null, 1) + '\n');
    log(`summary written to ${path.relative(ROOT, file)}`);
  }
}

// ---------------------------------------------------------------------------------------------

try {
  if (O.profile) await profileMode();
  else if (O.scale) await scaleMode();
  else await defaultMode();
} catch (e) {
  keepWork = true;
  log(`benchmark failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
  if (keepWork) log(`logs kept in ${WORK}`);
  else fs.rmSync(WORK, { recursive: true, force: true });
}
