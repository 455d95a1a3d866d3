// One pg pool and one Kysely instance per process. Type parsers are set here, once.
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.ts';

// `date` stays a 'YYYY-MM-DD' string: it is a floating calendar date (no zone), and turning it into
// a JS Date would shift it by the process's offset.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);
// int8 (count(*)) as a JS number: our counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

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
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
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
