// One pg pool and one Kysely instance per process. Type parsers are set here, once.
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.ts';
import { newRetryStats, retry, type RetryStats } from '../kernel/retry.ts';
import { parseIsoTimestamptz } from './timestamptz.ts';

// `date` stays a 'YYYY-MM-DD' string: it is a floating calendar date (no zone), and turning it into
// a JS Date would shift it by the process's offset.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);
// timestamptz: the common shape read digit by digit (timestamptz.ts says why), the rest as before.
const defaultTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ);
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => parseIsoTimestamptz(v) ?? defaultTimestamptz(v));
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

/**
 * After a client-side query timeout (`query_timeout`: the server did not answer at all, e.g. it is
 * frozen or the network is partitioned) the connection's state is unknown: the statement may still
 * run and a transaction may still be open (the ROLLBACK that follows times out unsent). Reusing it
 * could commit that request's half-done work under the next request, so it is never reused: marked
 * not queryable, its next query fails at once and the pool destroys it on release.
 */
function discardOnReadTimeout(client: pg.PoolClient, r: unknown): unknown {
  if (typeof (r as Promise<unknown> | null)?.then !== 'function') return r;
  return (r as Promise<unknown>).then(undefined, (e: unknown) => {
    if (e instanceof Error && e.message === 'Query read timeout') (client as unknown as { _queryable: boolean })._queryable = false;
    throw e;
  });
}

const TX_CONTROL = /^\s*(begin|start|commit|end|rollback|abort|savepoint|release|prepare|set)\b/i;

/**
 * A statement sent outside any transaction (autocommit) that lost a serialization or deadlock
 * conflict had no effect, so it is sent again (bounded, with jitter: src/kernel/retry.ts), as the
 * store's withRetry does for whole transactions: on an engine that runs everything serializable
 * even a single read can get 40001. Counted in the Db's own retryStats.
 */
const retryAutocommit = (send: () => unknown, stats: RetryStats): Promise<unknown> => retry(send, { stats });

const BEGIN = /^\s*(begin|start\s+transaction)\b[^;]*$/i;

/**
 * How the pool talks to the server. `direct`: one server session per connection, so short texts
 * become named prepared statements and statement_timeout is a startup parameter. `transaction`
 * (DATABASE_POOLER=transaction: PgBouncer in transaction mode, a managed service's pooler): every
 * transaction may land on another server session, so nothing may outlive a transaction there: no
 * named statements, no startup parameters; the timeout is `set local` in each explicit
 * transaction, sent in the same round trip as its `begin`.
 */
export type PoolerMode = 'direct' | 'transaction';

function preparingPool(pool: pg.Pool, stats: RetryStats, pooler: PoolerMode, statementTimeoutMs: number): pg.Pool {
  const named = pooler === 'direct';
  const beginSuffix = `; set local statement_timeout = ${Math.trunc(statementTimeoutMs)}`;
  const wrapClient = (client: pg.PoolClient): pg.PoolClient => new Proxy(client, {
    get(target, prop) {
      if (prop === 'query') {
        return (text: unknown, values?: unknown[]) => {
          const send = () => {
            if (typeof text === 'string' && Array.isArray(values) && values.length > 0) {
              const name = named ? statementName(text, values.length) : undefined;
              if (name) return discardOnReadTimeout(target, target.query({ name, text, values }));
            } else if (!named && typeof text === 'string' && (!values || values.length === 0) && BEGIN.test(text)) {
              // Simple protocol (no parameters): both statements in one message, one round trip.
              return discardOnReadTimeout(target, target.query(text + beginSuffix));
            }
            return discardOnReadTimeout(target, (target.query as (...a: unknown[]) => unknown)(text, values));
          };
          if (typeof text === 'string' && target.getTransactionStatus() === 'I' && !TX_CONTROL.test(text)) return retryAutocommit(send, stats);
          return send();
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

/**
 * The pool behind each Kysely instance made by createDb, as a plain query function: for hot-path
 * statements compiled once (src/store/users/compiled.ts), which need none of Kysely's execution layer.
 * Same statement names and the same retry of autocommit statements as queries through Kysely; a
 * failed query's client (a read timeout included) is discarded by pg-pool's query().
 */
export type DirectQuery = (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>;
const directQueries = new WeakMap<object, DirectQuery>();
export const directQueryOf = (kysely: object): DirectQuery | undefined => directQueries.get(kysely);

export interface DbOptions {
  url: string;
  /** Max connections in this process's pool. */
  max?: number;
  /** How long a checkout may wait for a free connection before failing (ms). */
  connectionTimeoutMillis?: number;
  /** Server-side statement_timeout (ms), so no query can hang a request forever. */
  statementTimeoutMillis?: number;
  /**
   * Client-side bound (ms) on waiting for the server's answer to a query, for when the server
   * cannot even cancel it (frozen, partitioned). Default: statement_timeout + 5 s.
   */
  queryTimeoutMillis?: number;
  applicationName?: string;
  /** 'transaction' behind a transaction-mode pooler (see PoolerMode); default 'direct'. */
  pooler?: PoolerMode;
}

export interface Db {
  kysely: Kysely<Database>;
  pool: pg.Pool;
  /** Autocommit statements this Db's pool sent again after a serialization or deadlock conflict. */
  retryStats: RetryStats;
  /** How `pool` reaches the server (see PoolerMode). */
  pooler: PoolerMode;
  close(): Promise<void>;
}

export function createDb(opts: DbOptions): Db {
  const pooler = opts.pooler ?? 'direct';
  const statementTimeout = opts.statementTimeoutMillis ?? 15_000;
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 20,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
    // A transaction pooler refuses startup parameters it does not track (PgBouncer: "unsupported
    // startup parameter: statement_timeout"); application_name is one it tracks.
    ...(pooler === 'direct' ? { statement_timeout: statementTimeout } : {}),
    query_timeout: opts.queryTimeoutMillis ?? statementTimeout + 5_000,
    application_name: opts.applicationName ?? 'roster',
  });
  // An idle client losing its connection (database restart) must not crash the process: the pool
  // drops it and the next checkout reconnects.
  pool.on('error', () => {});
  // A checked-out client has no listener of the pool's: a connection the server ends between two
  // queries (restart, failover: 57P01) would emit an unhandled 'error' and crash the process.
  // With this one the client just becomes unusable: its next query fails (→ 503), and the pool
  // drops it on release. (test/reliability/pg-restart.test.ts)
  pool.on('connect', (client) => client.on('error', () => {}));
  const retryStats = newRetryStats();
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool, retryStats, pooler, statementTimeout) }) });
  directQueries.set(kysely, (text, values) => retryAutocommit(() => {
    const name = pooler === 'direct' ? statementName(text, values.length) : undefined;
    return pool.query(name ? { name, text, values } : { text, values });
  }, retryStats) as Promise<{ rows: unknown[] }>);
  let closed = false;
  return {
    kysely,
    pool,
    retryStats,
    pooler,
    async close() {
      if (closed) return;
      closed = true;
      await kysely.destroy();
      // Kysely only ends the pool if it ever ran a query itself; a process that used the raw pool
      // alone (`roster migrate`) would otherwise keep an idle connection, and linger, for 30 s.
      if (!pool.ended) await pool.end();
    },
  };
}
