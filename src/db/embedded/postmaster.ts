// The postmaster: clearing what a crashed run left (postmaster.pid, an orphaned server), spawning
// it, waiting until it is ready and ours, retrying on a port race.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { RunAs } from './os.ts';
import { delay, isRunning, procState, realpathOrSelf, servesDataDir, settlesWithin, signal, waitUntilNotRunning } from './proc.ts';
import { QUIT_GRACE_MS, STOP_GRACE_MS, launch, stopProc, type Proc } from './child.ts';
import { pickPort } from './port.ts';
import { SUPERUSER, type Binaries, type Layout, type Log } from './layout.ts';

const READY_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 5;

// Server output that means "try again": our port was taken between picking and binding it,
// or processes of a SIGKILLed server are still attached to its shared memory.
const PORT_TAKEN = /could not bind IPv4 address|Address already in use|could not create any TCP\/IP sockets/;
const SHMEM_BUSY = /pre-existing shared memory block/;

interface PostmasterPid {
  pid: number;
  port: number | null;
  status: string; // "starting", "ready", "stopping"...
}

/** postmaster.pid: line 1 pid, line 4 port, line 8 status. */
export function readPostmasterPid(pgdata: string): PostmasterPid | null {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return {
    pid: Number.isInteger(pid) && pid > 0 ? pid : 0,
    port: Number.isInteger(port) && port > 0 ? port : null,
    status: (lines[7] ?? '').trim(),
  };
}

/**
 * Makes way for our server after a crash. postmaster.pid may name a dead process, a zombie
 * (PostgreSQL's own check counts those as alive and refuses to start), or an unrelated
 * process that reused the pid: remove the file. Or it names a live server on our data dir,
 * orphaned by a Roster killed with SIGKILL (we hold the DATA_DIR lock, so nobody else owns
 * it): stop that server first.
 */
export async function clearStalePostmaster(pgdata: string, log: Log): Promise<void> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  const info = readPostmasterPid(pgdata);
  if (info === null) return;
  const pgdataReal = realpathOrSelf(pgdata);
  if (info.pid !== 0 && isRunning(info.pid) && servesDataDir(info.pid, pgdataReal)) {
    log('warn', `stopping an orphaned PostgreSQL (pid ${info.pid}) left running on ${pgdata} by a Roster that did not stop it`);
    await stopOrphan(info.pid, log);
  } else {
    log('info', `removing stale ${pidFile} (pid ${info.pid} is ${procState(info.pid)})`);
  }
  fs.rmSync(pidFile, { force: true });
}

async function stopOrphan(pid: number, log: Log): Promise<void> {
  const steps: [NodeJS.Signals, number][] = [
    ['SIGINT', STOP_GRACE_MS],
    ['SIGQUIT', QUIT_GRACE_MS],
    ['SIGKILL', QUIT_GRACE_MS],
  ];
  for (const [sig, graceMs] of steps) {
    if (sig !== 'SIGINT') log('warn', `orphaned PostgreSQL (pid ${pid}) did not stop in time; sending ${sig}`);
    signal(pid, sig);
    // "gone or a zombie": its parent is now process 1, which may reap it late or never.
    if (await waitUntilNotRunning(pid, graceMs)) return;
  }
  throw new Error(`could not stop the orphaned PostgreSQL (pid ${pid}); stop it by hand`);
}

export interface StartContext {
  lay: Layout;
  pgdataReal: string;
  bins: Binaries;
  runAs: RunAs | null;
  password: string;
  log: Log;
}

function spawnPostmaster(ctx: StartContext, port: number): Proc {
  const args = [
    '-D', ctx.pgdataReal,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=', // TCP only: no socket/lock files in /tmp or /var/run
    '-c', 'max_connections=100',
    // Keep data out of the log: no statement text, terse messages.
    '-c', 'log_error_verbosity=terse',
    '-c', 'log_min_error_statement=panic',
    '-c', 'log_min_messages=warning',
    '-c', 'logging_collector=off',
  ];
  return launch(ctx.bins.postgres, args, ctx.lay.dataDir, ctx.runAs, true, ctx.log);
}

class PostgresExitedError extends Error {
  constructor(
    readonly output: string,
    reason: string,
  ) {
    super(`PostgreSQL exited while starting (${reason}): ${output}`);
  }
}

export function newClient(port: number, password: string, database: string, user = SUPERUSER): pg.Client {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => {}); // a dropped connection must not crash the process
  return client;
}

/** Connects and checks, through data_directory, that the server is ours: after a port race another server may answer. */
async function connectToOurs(ctx: StartContext, client: pg.Client): Promise<boolean> {
  await client.connect();
  const { rows } = await client.query<{ dir: string }>(`select current_setting('data_directory') as dir`);
  return realpathOrSelf(rows[0]?.dir ?? '') === ctx.pgdataReal;
}

/**
 * Polls until a real connection to OUR server succeeds; resolves with the open client. We do
 * not wait for the "ready to accept connections" log line, which depends on log settings.
 * Every attempt is cut short if our server exits (after a port race the port's real owner may
 * accept the connection and never answer).
 */
async function waitUntilReady(ctx: StartContext, proc: Proc, port: number): Promise<pg.Client> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'none';
  for (;;) {
    const client = newClient(port, ctx.password, 'postgres');
    const attempt = connectToOurs(ctx, client).then(
      (ours) => (ours ? 'ours' : 'foreign'),
      (err: unknown) => err,
    );
    const outcome = await Promise.race([attempt, proc.ended.then(() => 'ended' as const)]);
    if (outcome === 'ours') return client;
    void client.end().catch(() => {});
    if (outcome === 'ended' || proc.hasEnded()) {
      await proc.ended;
      throw new PostgresExitedError(String(proc.output), proc.endReason());
    }
    if (outcome === 'foreign') {
      lastError = `127.0.0.1:${port} is answered by another PostgreSQL`;
    } else if (['28P01', '28000'].includes((outcome as { code?: string }).code ?? '')) {
      // Wrong password: either a foreign server took the port (ours will exit shortly,
      // which we then retry) or embedded.json does not match the cluster.
      if (!(await settlesWithin(proc.ended, 1000))) {
        throw new Error(
          `PostgreSQL in ${ctx.lay.pgdata} rejected the password stored in ${ctx.lay.secrets}; ` +
            `restore the matching embedded.json, or delete ${ctx.lay.pgdata} to start over with an empty database`,
        );
      }
      continue;
    } else {
      lastError = (outcome as Error).message;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000} s ` +
          `(last error: ${lastError}); server output: ${proc.output}`,
      );
    }
    await settlesWithin(proc.ended, 50);
  }
}

export interface Running {
  proc: Proc;
  port: number;
  client: pg.Client;
}

/** Starts the postmaster, retrying on a port race or on shared memory still held by a killed server. */
export async function startPostgres(ctx: StartContext, preferredPort: number | null): Promise<Running> {
  for (let attempt = 1; ; attempt++) {
    const port = await pickPort(attempt === 1 ? preferredPort : null);
    const proc = spawnPostmaster(ctx, port);
    try {
      const client = await waitUntilReady(ctx, proc, port);
      return { proc, port, client };
    } catch (err) {
      await stopProc(proc, ctx.log); // never leave a half-started server behind
      if (!(err instanceof PostgresExitedError) || attempt >= START_ATTEMPTS) throw err;
      if (PORT_TAKEN.test(err.output)) {
        ctx.log('debug', `port ${port} was taken before PostgreSQL could bind it; retrying with another`);
      } else if (SHMEM_BUSY.test(err.output)) {
        ctx.log('debug', 'shared memory of a killed PostgreSQL is still in use; retrying shortly');
        await delay(250 * 2 ** attempt);
      } else {
        throw err;
      }
    }
  }
}
