// Process inspection through /proc (Linux). Used to tell a live process from a dead or
// zombie one (kill(pid, 0) succeeds on zombies, which is what trips PostgreSQL's own
// stale-lock check), and to recognise a PostgreSQL postmaster serving a given data dir.
import fs from 'node:fs';
import path from 'node:path';

export type ProcState = 'missing' | 'zombie' | 'running';

/** 'missing' if no such process, 'zombie' if it exited but was not reaped yet, else 'running'. */
export function procState(pid: number): ProcState {
  if (!Number.isInteger(pid) || pid <= 0) return 'missing';
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'missing';
  }
  // Field 2 (comm) is in parentheses and may itself contain spaces and ')':
  // the state letter is the first field after the LAST ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
  return state === 'Z' || state === 'X' ? 'zombie' : 'running';
}

export function isRunning(pid: number): boolean {
  return procState(pid) === 'running';
}

/** Real path of p, or p itself when it cannot be resolved (e.g. it no longer exists). */
export function realpathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Whether `pid` is a PostgreSQL server running on `pgdataReal` (a real path): its command
 * line has `-D <dir>` (or `-D<dir>` / `--pgdata=<dir>`) naming that directory, or its
 * working directory is it (the postmaster chdir()s into its data directory).
 * Deliberately lenient: wrongly answering "no" would make us delete the lock file of a live
 * server and start a second one on the same files, which corrupts data.
 */
export function servesDataDir(pid: number, pgdataReal: string): boolean {
  let cwd: string | undefined;
  try {
    cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    cwd = undefined; // not readable without privileges; the command line still decides
  }
  if (cwd !== undefined && realpathOrSelf(cwd) === pgdataReal) return true;

  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    let dir: string | undefined;
    if (arg === '-D' || arg === '--pgdata') dir = args[i + 1];
    else if (arg.startsWith('--pgdata=')) dir = arg.slice('--pgdata='.length);
    else if (arg.startsWith('-D')) dir = arg.slice(2);
    if (dir && realpathOrSelf(path.resolve(cwd ?? '/', dir)) === pgdataReal) return true;
  }
  return false;
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits for `p` at most `ms`; true if it settled in time. Unlike racing against delay(),
 * the timer is cleared, so a long grace period does not keep the process alive afterwards.
 */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    p.then(done, done);
  });
}

/** Polls /proc until `pid` is gone or a zombie. Returns false on timeout. */
export async function waitUntilNotRunning(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await delay(25);
  }
  return true;
}

/** Sends a signal, ignoring "no such process" (it may have exited in between). */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
