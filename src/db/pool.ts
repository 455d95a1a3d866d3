// One pg pool and one Kysely instance per process. Type parsers are set here, once.
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.ts';

// `date` stays a 'YYYY-MM-DD' string: it is a floating calendar date (no zone), and turning it into
// a JS Date would shift it by the process's offset.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);
// int8 (count(*)) as a JS number: our counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * Kysely sends every query unnamed, so PostgreSQL parses and plans it each time. Wrapping the pool
 * gives each short query text a stable name, so the pg driver prepares it once per connection and
 * then only binds and executes (selects by key roughly double in rate on these machines). Long
 * texts and queries with many parameters (variable IN lists, multi-row inserts) stay unnamed so the
 * number of prepared statements per connection stays bounded.
 */
const MAX_NAMED_TEXT = 4000;
const MAX_NAMED_PARAMS = 24;
const names = new Map<string, string>();

function statementName(text: string, params: number): string | undefined {
  if (text.length > MAX_NAMED_TEXT || params > MAX_NAMED_PARAMS) return undefined;
  let n = names.get(text);
  if (!n) {
    if (names.size >= 2000) return undefined;
    n = `r${names.size.toString(36)}`;
    names.set(text, n);
  }
  return n;
}

function preparingPool(pool: pg.Pool): pg.Pool {
  const wrapClient = (client: pg.PoolClient): pg.PoolClient => new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') {
        return (text: unknown, values?: unknown[]) => {
          if (typeof text === 'string' && Array.isArray(values) && values.length > 0) {
            const name = statementName(text, values.length);
            if (name) return target.query({ name, text, values });
          }
          return (target.query as (...a: unknown[]) => unknown)(text, values);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return new Proxy(pool, {
    get(target, prop) {
      if (prop === 'connect') return async () => wrapClient(await target.connect());
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export interface DbOptions {
  url: string;
  /** Max connections in this process's pool. */
  max?: number;
  /** How long a checkout may wait for a free connection before failing (ms). */
  connectionTimeoutMillis?: number;
  /** Server-side statement_timeout (ms), so no query can hang a request forever. */
  statementTimeoutMillis?: number;
  applicationName?: string;
}

export interface Db {
  kysely: Kysely<Database>;
  pool: pg.Pool;
  close(): Promise<void>;
}

export function createDb(opts: DbOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 20,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: opts.statementTimeoutMillis ?? 15_000,
    application_name: opts.applicationName ?? 'roster',
  });
  // An idle client losing its connection (database restart) must not crash the process: the pool
  // drops it and the next checkout reconnects.
  pool.on('error', () => {});
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
  let closed = false;
  return {
    kysely,
    pool,
    async close() {
      if (closed) return;
      closed = true;
      await kysely.destroy();
    },
  };
}
