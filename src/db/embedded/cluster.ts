// The cluster on disk: DATA_DIR and its embedded.json (passwords, last port), initdb, and the
// application database.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { assertReachable, mkdirTraversable, type RunAs } from './os.ts';
import { launch } from './child.ts';
import { APP_DATABASE, APP_ROLE, SUPERUSER, type Binaries, type Layout, type Log } from './layout.ts';

export interface Secrets {
  /** The superuser and its password (initdb's). */
  user: string;
  password: string;
  port: number | null;
  /** The application's role (APP_ROLE) and its password; added at start to clusters made before it existed. */
  app_user: string;
  app_password: string;
}

export const newPassword = (): string => crypto.randomBytes(24).toString('base64url');

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
  return {
    user: parsed.user ?? SUPERUSER,
    password: parsed.password,
    port: parsed.port ?? null,
    app_user: parsed.app_user ?? APP_ROLE,
    app_password: typeof parsed.app_password === 'string' ? parsed.app_password : '',
  };
}

/** Written to a temporary file then renamed, so readers never see half a file. */
export function writeSecrets(file: string, secrets: Secrets): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600); // in case a stale tmp file existed with another mode
  fs.renameSync(tmp, file);
}

export function connectionUrl(user: string, password: string, port: number, database = APP_DATABASE): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
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
    if (!secrets.app_password) {
      // A cluster made before the application had its own role: the role is made at this start.
      secrets.app_password = newPassword();
      writeSecrets(lay.secrets, secrets);
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
    password: newPassword(),
    port: readSecrets(lay.secrets)?.port ?? null,
    app_user: APP_ROLE,
    app_password: newPassword(),
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

/**
 * Security review C15: the application connects as APP_ROLE, which logs in, owns APP_DATABASE (so
 * its public schema, PostgreSQL 15+) and every object in it, and is nothing more: no superuser (no
 * COPY … PROGRAM, no reading server files), no CREATEDB, no CREATEROLE. The superuser is used here,
 * at start, and by initdb; never by the application. Runs with a superuser client on `postgres`;
 * every step is idempotent, and the password is set from embedded.json at every start.
 */
export async function ensureAppRole(client: pg.Client, appPassword: string): Promise<void> {
  const role = client.escapeIdentifier(APP_ROLE);
  const attrs = `login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password ${client.escapeLiteral(appPassword)}`;
  const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [APP_ROLE]);
  if (!rowCount) {
    try {
      await client.query(`create role ${role} ${attrs}`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '42710') throw err; // 42710: created concurrently
    }
  }
  await client.query(`alter role ${role} ${attrs}`);
}

/** Creates APP_DATABASE owned by APP_ROLE, or hands an existing one (and what is in it) to APP_ROLE. */
export async function ensureAppDatabase(client: pg.Client): Promise<'created' | 'existed'> {
  const db = client.escapeIdentifier(APP_DATABASE);
  const role = client.escapeIdentifier(APP_ROLE);
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [APP_DATABASE]);
  if (!rowCount) {
    try {
      await client.query(`create database ${db} owner ${role}`);
      return 'created';
    } catch (err) {
      if ((err as { code?: string }).code !== '42P04') throw err; // 42P04: created concurrently
    }
  }
  await client.query(`alter database ${db} owner to ${role}`);
  return 'existed';
}

/**
 * In APP_DATABASE (superuser client): every table, view, sequence, routine, type and schema the
 * superuser owns outside the system schemas goes to APP_ROLE. A no-op on clusters made with the
 * role; on older ones (where the application ran as the superuser) it runs once.
 */
export async function adoptObjects(client: pg.Client): Promise<void> {
  await client.query(`do $$
declare r record;
begin
  for r in select n.nspname from pg_namespace n
            where n.nspowner = '${SUPERUSER}'::regrole and n.nspname not in ('information_schema') and n.nspname not like 'pg\_%' loop
    execute format('alter schema %I owner to %I', r.nspname, '${APP_ROLE}');
  end loop;
  -- Tables first: their indexes and owned sequences (serial, identity) follow them.
  for r in select c.oid::regclass as obj, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relowner = '${SUPERUSER}'::regrole and n.nspname not in ('information_schema') and n.nspname not like 'pg\_%'
              and c.relkind in ('r', 'p', 'v', 'm', 'f') loop
    execute format('alter %s %s owner to %I',
      case r.relkind when 'v' then 'view' when 'm' then 'materialized view' when 'f' then 'foreign table' else 'table' end, r.obj, '${APP_ROLE}');
  end loop;
  for r in select c.oid::regclass as obj from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relowner = '${SUPERUSER}'::regrole and n.nspname not in ('information_schema') and n.nspname not like 'pg\_%'
              and c.relkind = 'S' loop
    execute format('alter sequence %s owner to %I', r.obj, '${APP_ROLE}');
  end loop;
  for r in select p.oid::regprocedure as obj from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where p.proowner = '${SUPERUSER}'::regrole and n.nspname not in ('information_schema') and n.nspname not like 'pg\_%' loop
    execute format('alter routine %s owner to %I', r.obj, '${APP_ROLE}');
  end loop;
  for r in select t.oid::regtype as obj from pg_type t join pg_namespace n on n.oid = t.typnamespace
            where t.typowner = '${SUPERUSER}'::regrole and n.nspname not in ('information_schema') and n.nspname not like 'pg\_%'
              and t.typtype in ('e', 'd', 'r', 'm') loop
    execute format('alter type %s owner to %I', r.obj, '${APP_ROLE}');
  end loop;
end $$`);
}
