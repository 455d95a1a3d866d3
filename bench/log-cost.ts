// What the per-request log line costs (issue 7 item 3: no more than a fifth of throughput).
// Starts Roster twice over one database — LOG_LEVEL=info (one JSON line per request, to a file,
// as a container runtime or journald would take it) and LOG_LEVEL=silent — and runs autocannon on
// GET /v2/user/{id} against each in turn, alternating, and prints requests/s and the ratio, and
// the Roster process's CPU time per request in each mode (from /proc), which is steadier than
// requests/s when other work shares the machine. Exits 1 when both say the line costs > 20%.
//
//   node --import tsx bench/log-cost.ts [--duration S] [--rounds N] [--connections N] [--database-url URL]
//
// Database: --database-url / $DATABASE_URL (a scratch database is created there and dropped),
// else an embedded PostgreSQL in a temporary directory. Only 127.0.0.1 is ever contacted.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import autocannon from 'autocannon';
import { HOST, freePort, rosterStartArgs, startServer } from './lib/proc.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const KEY = `sk_logcost_${randomBytes(16).toString('hex')}`;

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
};
const DURATION = Number(opt('duration', '5'));
const ROUNDS = Number(opt('rounds', '3'));
const CONNECTIONS = Number(opt('connections', '50'));
const WARMUP = 1;
const MAX_COST = 0.2;

interface Roster { level: string; url: string; child: ChildProcess; logFile: string; stop(): Promise<void> }

/** Roster as `npm start` runs it (package.json's start command), on `databaseUrl`. */
async function startRoster(level: string, databaseUrl: string, dir: string): Promise<Roster> {
  const port = await freePort();
  const logFile = path.join(dir, `roster-${level}.log`);
  const s = await startServer({
    name: `Roster (${level})`,
    args: rosterStartArgs(ROOT),
    cwd: ROOT,
    port,
    logFile,
    ready: { path: '/healthz' },
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      HOST,
      PORT: String(port),
      LOG_LEVEL: level,
      ROSTER_BOOTSTRAP_API_KEY: KEY,
      // The measurement is of the log line, not of the per-key limit.
      ROSTER_RATE_LIMIT_PER_MINUTE: '10000000',
      REDIS_URL: '',
      ROSTER_METRICS_TOKEN: '',
    },
  });
  return { level, url: s.url, child: s.child, logFile, stop: () => s.stop() };
}

/** utime + stime of a process so far, in ms (USER_HZ = 100). */
function cpuMs(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface Run { rps: number; p99: number; non2xx: number; errors: number; total: number; cpuUsPerReq: number }

async function load(server: Roster, p: string, seconds: number): Promise<Run> {
  const cpu0 = cpuMs(server.child.pid!);
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url: server.url, connections: CONNECTIONS, duration: seconds, requests: [{ method: 'GET', path: p, headers: { 'x-vital-api-key': KEY } }] }, (err, res) => (err ? reject(err) : resolve(res)));
  });
  const cpu = cpuMs(server.child.pid!) - cpu0;
  const total = r['2xx'] + r.non2xx;
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors, total, cpuUsPerReq: total ? (cpu * 1000) / total : 0 };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-logcost-'));
  fs.chmodSync(tmp, 0o755);
  let dropDb: (() => Promise<void>) | null = null;
  let stopEmbedded: (() => Promise<void>) | null = null;
  const servers: Roster[] = [];
  try {
    let databaseUrl: string;
    const serverUrl = opt('database-url', process.env.DATABASE_URL ?? '');
    if (serverUrl) {
      const name = `roster_logcost_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const u = new URL(serverUrl);
      u.pathname = `/${name}`;
      databaseUrl = u.toString();
      dropDb = async () => {
        const a = new pg.Client({ connectionString: serverUrl });
        await a.connect();
        await a.query(`drop database if exists ${name} with (force)`);
        await a.end();
      };
    } else {
      const { startEmbedded } = await import('../src/db/embedded/index.ts');
      const emb = await startEmbedded({ dataDir: path.join(tmp, 'data') });
      databaseUrl = emb.url;
      stopEmbedded = () => emb.stop();
    }

    // Migrations and the bootstrap team happen on the first start; the second reuses them.
    const info = await startRoster('info', databaseUrl, tmp);
    servers.push(info);
    const silent = await startRoster('silent', databaseUrl, tmp);
    servers.push(silent);
    const created = await fetch(`${info.url}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: `logcost-${Date.now()}` }) });
    if (created.status !== 200) throw new Error(`create user: ${created.status} ${await created.text()}`);
    const userPath = `/v2/user/${((await created.json()) as { user_id: string }).user_id}`;

    console.log(`GET ${userPath.replace(/[0-9a-f-]{36}$/, '{id}')}: ${CONNECTIONS} connections, ${DURATION} s per run, ${ROUNDS} rounds (info, silent alternating), ${os.cpus().length} CPUs, node ${process.version}`);
    const rps: Record<string, number[]> = { info: [], silent: [] };
    const cpu: Record<string, number[]> = { info: [], silent: [] };
    // Warm both up first (JIT, connection pools, PostgreSQL's caches): round 1's first run would
    // otherwise pay for it, and it is always the same server.
    for (const s of [info, silent]) await load(s, userPath, 3);
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first so drift (CPU heat, cache, autovacuum) does not favour one.
      const order = round % 2 ? [info, silent] : [silent, info];
      for (const s of order) {
        await load(s, userPath, WARMUP);
        const r = await load(s, userPath, DURATION);
        if (r.non2xx || r.errors) throw new Error(`${s.level}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        rps[s.level]!.push(r.rps);
        cpu[s.level]!.push(r.cpuUsPerReq);
        console.log(`  round ${round}  LOG_LEVEL=${s.level.padEnd(6)} ${r.rps.toFixed(0).padStart(6)} req/s  p99 ${String(r.p99).padStart(4)} ms  Roster CPU ${r.cpuUsPerReq.toFixed(0).padStart(4)} µs/request`);
      }
    }
    const lines = fs.readFileSync(info.logFile, 'utf8').split('\n').filter((l) => l.includes('"msg":"request"')).length;
    const mi = median(rps.info!);
    const ms = median(rps.silent!);
    const ci = median(cpu.info!);
    const cs = median(cpu.silent!);
    const cost = 1 - mi / ms;
    // Roster's event loop is the bottleneck on this path, so its CPU per request bounds throughput;
    // that ratio holds even when other load on the machine makes req/s noisy.
    const cpuCost = 1 - cs / ci;
    // Each round's own info/silent ratio (both measured back to back) is steadier than the ratio
    // of medians when other work on the machine comes and goes.
    const paired = median(rps.info!.map((x, i) => x / rps.silent![i]!));
    console.log(`median throughput: info ${mi.toFixed(0)} req/s, silent ${ms.toFixed(0)} req/s → info/silent ${(mi / ms).toFixed(3)}, the log line costs ${(cost * 100).toFixed(1)}% of throughput`);
    console.log(`median Roster CPU:  info ${ci.toFixed(0)} µs/req, silent ${cs.toFixed(0)} µs/req → the log line costs ${(ci - cs).toFixed(0)} µs/req, ${(cpuCost * 100).toFixed(1)}% of the CPU-bound throughput`);
    console.log(`median of the rounds' own info/silent ratios: ${paired.toFixed(3)} → ${((1 - paired) * 100).toFixed(1)}% of throughput`);
    console.log(`limit: ${MAX_COST * 100}%   (${lines} request lines written by the info server; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
    if (Math.min(cost, cpuCost) > MAX_COST) process.exitCode = 1;
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    await dropDb?.().catch(() => {});
    await stopEmbedded?.().catch(() => {});
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
