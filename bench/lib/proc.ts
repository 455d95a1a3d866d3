// Child processes for the benchmark: start a server and wait until it answers, stop it, and sample
// its memory and CPU (and PostgreSQL's) from /proc while a scenario runs.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';

export const HOST = '127.0.0.1';

export interface ReadyCheck {
  path: string;
  headers?: Record<string, string>;
  /** Statuses that mean "up" (default: 200). */
  ok?: number[];
}

export interface StartOptions {
  name: string;
  /** Arguments to `node`. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd: string;
  port: number;
  ready: ReadyCheck;
  logFile: string;
  timeoutMs?: number;
}

export interface Server {
  name: string;
  pid: number;
  port: number;
  url: string;
  child: ChildProcess;
  /** Milliseconds from spawn to the first ready answer. */
  readyMs: number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, HOST, () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function tail(file: string, n = 2000): string {
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s.slice(-n).trim();
  } catch {
    return '(no output)';
  }
}

/**
 * The node arguments of package.json's "start" (e.g. `--max-semi-space-size=8 scripts/start.mjs`),
 * so benchmarks run Roster as users do. A checkout from before the bundle ran src/main.ts via tsx.
 */
export function rosterStartArgs(rosterDir: string): string[] {
  const start = (JSON.parse(fs.readFileSync(path.join(rosterDir, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts?.start ?? '';
  const m = /^node\s+(.*\bscripts\/start\.mjs)\s*$/.exec(start.trim());
  return m ? m[1]!.split(/\s+/) : ['--import', 'tsx', 'src/main.ts'];
}

/** Spawns `node ARGS` and resolves once `ready.path` answers; rejects if the process exits first. */
export async function startServer(o: StartOptions): Promise<Server> {
  const fd = fs.openSync(o.logFile, 'a');
  const t0 = performance.now();
  const child = spawn(process.execPath, o.args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  let exited: string | null = null;
  const ended = new Promise<void>((resolve) => {
    child.on('exit', (code, sig) => { exited = sig ? `signal ${sig}` : `exit code ${code}`; resolve(); });
    child.on('error', (e) => { exited = e.message; resolve(); });
  });
  const url = `http://${HOST}:${o.port}`;
  const ok = o.ready.ok ?? [200];
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  let readyMs = -1;
  while (readyMs < 0) {
    if (exited) throw new Error(`${o.name} exited before it was ready (${exited}):\n${tail(o.logFile)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${o.name} was not ready within ${(o.timeoutMs ?? 60_000) / 1000} s:\n${tail(o.logFile)}`);
    }
    try {
      const r = await fetch(url + o.ready.path, { headers: o.ready.headers ?? {}, signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (ok.includes(r.status)) readyMs = performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (readyMs < 0) await sleep(10);
  }
  return {
    name: o.name,
    pid: child.pid!,
    port: o.port,
    url,
    child,
    readyMs,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await ended;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// /proc sampling

function readStatusKb(pid: number, field: string): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function pssKb(pid: number): number {
  try {
    const m = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux
/** utime + stime of a process, in ms. */
export function cpuMs(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

function ppidOf(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The postmaster and its children; client backends only when they serve `database` (if given). */
export function postgresPids(postmasterPid: number, database?: string): number[] {
  const out = [postmasterPid];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (ppidOf(pid) !== postmasterPid) continue;
    if (database) {
      const c = cmdline(pid);
      // "postgres: 15/main: USER DB 127.0.0.1(port) idle" is a client backend
      const backend = /^postgres: (?:[^:]+: )?\S+ (\S+) [\d.:]+\(\d+\)/.exec(c);
      if (backend && backend[1] !== database) continue;
    }
    out.push(pid);
  }
  return out;
}

/** Reads the postmaster's pid from DATADIR/postmaster.pid. */
export function postmasterPid(pgdata: string): number | null {
  try {
    const n = Number(fs.readFileSync(`${pgdata}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Busy jiffies of the whole machine (all CPUs) from /proc/stat, in ms. */
function machineBusyMs(): number {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) * TICK_MS;
  } catch {
    return 0;
  }
}

export interface Usage {
  /** Peak VmRSS sampled while the scenario ran, MB. */
  rssPeakMb: number;
  /** VmHWM (peak resident since the process started) at the end of the scenario, MB. */
  rssHwmMb: number;
  /** Peak of the summed PSS of the PostgreSQL processes, MB (0 when not sampled). */
  pgPeakMb: number;
  /** CPU time used during the scenario, ms. */
  serverCpuMs: number;
  pgCpuMs: number;
  /** Machine-wide busy CPU time and wall time while sampling, ms (for the noise estimate). */
  machineBusyMs: number;
  wallMs: number;
  /** CPU used by this (orchestrating) process meanwhile, ms. */
  selfCpuMs: number;
}

/** Samples a server (and optionally PostgreSQL) from start() to stop(). */
export class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private pgTimer: NodeJS.Timeout | null = null;
  private rssPeak = 0;
  private pgPeak = 0;
  private cpu0 = 0;
  private pgCpu0 = new Map<number, number>();
  private pgCpu1 = new Map<number, number>();
  private busy0 = 0;
  private wall0 = 0;
  private self0 = 0;

  constructor(private readonly pid: number, private readonly pg: (() => number[]) | null) {}

  start(): void {
    this.busy0 = machineBusyMs();
    this.wall0 = performance.now();
    const u = process.cpuUsage();
    this.self0 = (u.user + u.system) / 1000;
    this.rssPeak = readStatusKb(this.pid, 'VmRSS');
    this.cpu0 = cpuMs(this.pid);
    if (this.pg) for (const p of this.pg()) this.pgCpu0.set(p, cpuMs(p));
    this.timer = setInterval(() => {
      this.rssPeak = Math.max(this.rssPeak, readStatusKb(this.pid, 'VmRSS'));
    }, 100);
    const samplePg = () => {
      if (!this.pg) return;
      let sum = 0;
      for (const p of this.pg()) {
        sum += pssKb(p);
        this.pgCpu1.set(p, cpuMs(p));
        if (!this.pgCpu0.has(p)) this.pgCpu0.set(p, 0); // a backend born during the scenario
      }
      this.pgPeak = Math.max(this.pgPeak, sum);
    };
    samplePg();
    this.pgTimer = setInterval(samplePg, 1000);
  }

  stop(): Usage {
    if (this.timer) clearInterval(this.timer);
    if (this.pgTimer) clearInterval(this.pgTimer);
    let pgCpu = 0;
    if (this.pg) {
      for (const p of this.pg()) this.pgCpu1.set(p, cpuMs(p));
      for (const [p, end] of this.pgCpu1) pgCpu += end - (this.pgCpu0.get(p) ?? end);
    }
    this.rssPeak = Math.max(this.rssPeak, readStatusKb(this.pid, 'VmRSS'));
    const u = process.cpuUsage();
    return {
      machineBusyMs: machineBusyMs() - this.busy0,
      wallMs: performance.now() - this.wall0,
      selfCpuMs: (u.user + u.system) / 1000 - this.self0,
      rssPeakMb: this.rssPeak / 1024,
      rssHwmMb: readStatusKb(this.pid, 'VmHWM') / 1024,
      pgPeakMb: this.pgPeak / 1024,
      serverCpuMs: cpuMs(this.pid) - this.cpu0,
      pgCpuMs: pgCpu,
    };
  }
}
