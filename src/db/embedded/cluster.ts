// The cluster on disk: DATA_DIR and its embedded.json (passwords, last port), initdb, and the
// application database.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { assertReachable, mkdirTraversable, type RunAs } from './os.ts';
import { launch } from './child.ts';
import { APP_DATABASE, SUPERUSER, type Binaries, type Layout, type Log } from './layout.ts';

export interface Secrets {
  user: string;
  password: string;
  port: number | null;
}

export function readSecrets(file: string): Secrets | null {
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
export function writeSecrets(file: string, secrets: Secrets): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600); // in case a stale tmp file existed with another mode
  fs.renameSync(tmp, file);
}

export function connectionUrl(password: string, port: number): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${APP_DATABASE}`;
}

/** Creates DATA_DIR and checks that the user PostgreSQL runs as can reach it. */
export function prepareDataDir(dataDir: string, runAs: RunAs | null): void {
  // Check ancestors before creating anything, so a bad DATA_DIR leaves no trace.
  if (runAs) assertReachable(dataDir, runAs);
  mkdirTraversable(dataDir);
  if (runAs) assertReachable(dataDir, runAs); // DATA_DIR itself may exist with mode 0700
}

function chownTo(p: string, runAs: RunAs | null): void {
  if (runAs) fs.chownSync(p, runAs.uid, runAs.gid);
}

/** Returns the cluster's superuser password, running initdb first if there is no cluster yet. */
export async function ensureCluster(lay: Layout, bins: Binaries, runAs: RunAs | null, log: Log): Promise<Secrets> {
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

export async function ensureAppDatabase(client: pg.Client): Promise<void> {
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [APP_DATABASE]);
  if (rowCount) return;
  try {
    await client.query(`create database ${client.escapeIdentifier(APP_DATABASE)}`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // 42P04: created concurrently
  }
}
