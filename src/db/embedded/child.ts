// Child processes of the embedded server (initdb, postgres): a clean environment, their output
// kept for error messages, and a bounded stop.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { RunAs } from './os.ts';
import { settlesWithin } from './proc.ts';
import type { Log } from './layout.ts';

export const STOP_GRACE_MS = 15_000; // after SIGINT (fast shutdown), before SIGQUIT
export const QUIT_GRACE_MS = 5_000; // after SIGQUIT (immediate shutdown), before SIGKILL

/** Keeps the last 16 kB of a child's output for error messages and forwards lines at debug level. */
class OutputTail {
  private text = '';
  private partial = '';
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly max = 16_384,
  ) {}

  push(chunk: Buffer): void {
    const s = chunk.toString('utf8');
    this.text = (this.text + s).slice(-this.max);
    const lines = (this.partial + s).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') this.onLine(line);
  }

  toString(): string {
    return this.text.trim() || '(no output)';
  }
}

export interface Proc {
  child: ChildProcess;
  output: OutputTail;
  /** Resolves once the process has exited (or failed to spawn), with all its output read. */
  ended: Promise<void>;
  hasEnded(): boolean;
  /** "exit code 1", "signal SIGKILL" or the spawn error. */
  endReason(): string;
}

// Environment for initdb/postgres: nothing of ours (DATABASE_URL, PG* variables) leaks in,
// and messages are in English so that we can recognise them (LC_MESSAGES=C).
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LC_MESSAGES: 'C' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

export function launch(file: string, args: string[], cwd: string, runAs: RunAs | null, detached: boolean, log: Log): Proc {
  const child = spawn(file, args, {
    cwd, // our own cwd may be closed to the postgres user
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  const name = path.basename(file);
  // Server log lines can contain data (key values in error messages): debug level only.
  const output = new OutputTail((line) => log('debug', `${name}: ${line}`));
  child.stdout?.on('data', (c: Buffer) => output.push(c));
  child.stderr?.on('data', (c: Buffer) => output.push(c));

  let spawnError: Error | undefined;
  let exited = false;
  const ended = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      exited = true;
      resolve();
    });
    child.once('exit', () => {
      exited = true;
      // Let the pipes drain so the error message has the last words, but do not wait on
      // server children that may still hold them open.
      const closed = new Promise<void>((r) => child.once('close', () => r()));
      void settlesWithin(closed, 1000).then(() => resolve());
    });
  });
  return {
    child,
    output,
    ended,
    hasEnded: () => exited,
    endReason: () =>
      spawnError ? `could not start ${file}: ${spawnError.message}`
      : child.signalCode ? `signal ${child.signalCode}`
      : `exit code ${child.exitCode}`,
  };
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL, each bounded. */
export async function stopProc(proc: Proc, log: Log): Promise<void> {
  const steps: [NodeJS.Signals, number][] = [
    ['SIGINT', STOP_GRACE_MS],
    ['SIGQUIT', QUIT_GRACE_MS],
    ['SIGKILL', QUIT_GRACE_MS],
  ];
  for (const [sig, graceMs] of steps) {
    if (proc.hasEnded()) return;
    if (sig !== 'SIGINT') log('warn', `PostgreSQL (pid ${proc.child.pid}) did not stop in time; sending ${sig}`);
    proc.child.kill(sig);
    await settlesWithin(proc.ended, graceMs);
  }
}
