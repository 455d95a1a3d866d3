// Forward-only SQL migrations: src/db/migrations/NNNN_name.sql, applied in order, each in its own
// transaction, under an advisory lock so several instances starting at once apply each file once.
// Behind a transaction pooler they run over DATABASE_DIRECT_URL (src/db/open.ts).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

const PgPool = pg.Pool;
import { packageRoot } from '../paths.ts';

const MIGRATIONS_DIR = path.join(packageRoot(), 'src', 'db', 'migrations');
/** Arbitrary constant: the advisory lock id that serialises migration runs. */
export const MIGRATION_LOCK_ID = 7_301_955_001;
const LOCK_ID = MIGRATION_LOCK_ID;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  const out: Migration[] = [];
  for (const file of files) {
    out.push({ version: Number(file.slice(0, 4)), name: file.replace(/\.sql$/, ''), sql: await readFile(path.join(dir, file), 'utf8') });
  }
  return out;
}

const BOOKKEEPING = `create table if not exists schema_migrations (
      version integer primary key, name text not null, applied_at timestamptz not null)`;

/** The migrations recorded in the connected database, in order ([] when it has never been migrated). */
export async function appliedMigrations(client: pg.ClientBase): Promise<{ version: number; name: string }[]> {
  const exists = await client.query<{ t: string | null }>(`select to_regclass('schema_migrations')::text as t`);
  if (!exists.rows[0]?.t) return [];
  return (await client.query<{ version: number; name: string }>('select version, name from schema_migrations order by version')).rows;
}

/**
 * Applies `migrations` inside the caller's open transaction (which should hold
 * pg_advisory_xact_lock(MIGRATION_LOCK_ID)), recording each; used by `roster restore`, which
 * migrates, loads and migrates again as one transaction.
 */
export async function applyInTransaction(client: pg.ClientBase, migrations: readonly Migration[]): Promise<string[]> {
  await client.query(BOOKKEEPING);
  for (const m of migrations) {
    try {
      await client.query(m.sql);
    } catch (err) {
      throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
    }
    await client.query('insert into schema_migrations (version, name, applied_at) values ($1, $2, $3)', [m.version, m.name, new Date()]);
  }
  return migrations.map((m) => m.name);
}

/**
 * Applies pending migrations; returns the names applied by this call. Each migration is one
 * transaction that takes the migration lock (transaction-scoped, so nothing is left behind on a
 * server session when a transaction pooler sits in between) and reads what is applied after
 * taking it: several instances starting at once apply each file once.
 */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<string[]> {
  const all = migrations ?? (await loadMigrations());
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    for (;;) {
      await client.query('begin');
      let next: Migration | undefined;
      try {
        await client.query('select pg_advisory_xact_lock($1)', [LOCK_ID]);
        await client.query(BOOKKEEPING);
        const done = new Set((await client.query<{ version: number }>('select version from schema_migrations')).rows.map((r) => r.version));
        next = all.find((m) => !done.has(m.version));
        if (next) {
          try {
            await client.query(next.sql);
          } catch (err) {
            throw new Error(`migration ${next.name} failed: ${(err as Error).message}`, { cause: err });
          }
          await client.query('insert into schema_migrations (version, name, applied_at) values ($1, $2, $3)', [next.version, next.name, new Date()]);
        }
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw err;
      }
      if (!next) break;
      applied.push(next.name);
    }
  } finally {
    client.release();
  }
  return applied;
}

/** migrate() over a short-lived connection of its own to `url` (the direct URL behind a pooler). */
export async function migrateAt(url: string, migrations?: Migration[]): Promise<string[]> {
  const pool = new PgPool({ connectionString: url, max: 1, application_name: 'roster-migrate', connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {});
  try {
    return await migrate(pool, migrations);
  } finally {
    await pool.end();
  }
}
