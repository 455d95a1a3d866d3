// DATA_DIR/roster.pid: says which Roster process owns a DATA_DIR (and so its PostgreSQL).
// Created exclusively ('wx'); a lock whose pid is dead or a zombie is stale and taken over.
import fs from 'node:fs';
import { delay, isRunning } from './proc.ts';

export class EmbeddedLockedError extends Error {
  pid: number;
  constructor(pid: number, dataDir: string, detail = '') {
    super(
      `DATA_DIR ${dataDir} is in use by another Roster process (pid ${pid})${detail}; ` +
        'stop it, or use a different DATA_DIR',
    );
    this.name = 'EmbeddedLockedError';
    this.pid = pid;
  }
}

// Lock files this process holds. Needed because the pid in the file being our own pid means
// two different things: we hold it (a second start in this process must fail), or a
// previous holder had the same pid (containers restart with the same pids) and it is stale.
const heldByUs = new Set<string>();

/** Pid recorded in a lock file, or null if the file is missing or not a pid. */
async function readLockPid(lockPath: string): Promise<number | null> {
  // The holder writes its pid right after creating the file; an empty read may be that
  // instant, so look again briefly before calling the content garbage.
  for (let attempt = 0; attempt < 5; attempt++) {
    let text: string;
    try {
      text = fs.readFileSync(lockPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    if (text.trim() !== '') {
      const pid = Number(text.trim().split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    }
    await delay(20);
  }
  return null;
}

/** Pid of the live process holding the lock (possibly us), or null if free or stale. */
export async function liveLockHolder(lockPath: string): Promise<number | null> {
  const pid = await readLockPid(lockPath);
  if (pid === null) return null;
  if (pid === process.pid) return heldByUs.has(lockPath) ? pid : null;
  return isRunning(pid) ? pid : null;
}

/** Takes the lock or throws EmbeddedLockedError naming the live holder. */
export async function acquireLock(lockPath: string, dataDir: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      heldByUs.add(lockPath);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const stalePid = await readLockPid(lockPath);
    const holder = await liveLockHolder(lockPath);
    if (holder !== null) throw new EmbeddedLockedError(holder, dataDir);
    // Stale. Re-read right before removing so we do not delete a lock another starter
    // has just taken over (this narrows, but cannot fully close, that window without flock).
    if ((await readLockPid(lockPath)) === stalePid) fs.rmSync(lockPath, { force: true });
  }
  throw new Error(`could not take the lock ${lockPath}: it keeps changing hands`);
}

/** Removes the lock if it is ours. Safe to call more than once. */
export function releaseLock(lockPath: string): void {
  if (!heldByUs.delete(lockPath)) return;
  try {
    const pid = Number(fs.readFileSync(lockPath, 'utf8').trim());
    if (pid === process.pid) fs.rmSync(lockPath, { force: true });
  } catch {
    // already gone
  }
}
