// Hot-path queries built once with Kysely and then run as fixed SQL text.
//
// Why: building a Kysely query (the operation tree, then compiling it to text) costs more CPU than
// PostgreSQL spends answering a primary-key lookup; the profile of GET /v2/user/{id} put the
// builder at 12% self and a third of the stack (docs/benchmark.md). The SQL of a hot path never
// changes, so it is compiled once here and each call only binds its arguments.
//
// Inside a request-scoped transaction (src/db/request-tx.ts) the query runs through that
// transaction's Kysely handle; otherwise straight on the pool of the database the request reads
// from (primary, or the replica chosen by read routing), under a stable statement name
// (src/db/pool.ts) as every other query.
import { CompiledQuery, type Compilable, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { currentScope, rootOf } from '../../db/request-tx.ts';
import { directQueryOf } from '../../db/pool.ts';

/** A placeholder that cannot be a real argument: a NUL byte is rejected by PostgreSQL text. */
const slot = (i: number) => `\u0000arg${i}\u0000`;

export type Precompiled<A extends unknown[], R> = (db: Kysely<Database>, ...args: A) => Promise<{ rows: R[] }>;

/**
 * Compiles `build(slots…)` once. `build` receives one placeholder per argument and must pass each
 * to the query as a value (where/values/offset/limit); constants it uses are kept as they are.
 */
export function precompile<A extends unknown[], R>(db: Kysely<Database>, arity: A['length'], build: (db: Kysely<Database>, ...slots: never[]) => Compilable<R>): Precompiled<A, R> {
  const slots = Array.from({ length: arity }, (_, i) => slot(i));
  const c = build(db, ...(slots as never[])).compile();
  const bind: ((args: unknown[]) => unknown)[] = c.parameters.map((p) => {
    const i = typeof p === 'string' ? slots.indexOf(p) : -1;
    return i >= 0 ? (args) => args[i] : () => p;
  });
  const used = new Set(c.parameters.filter((p): p is string => typeof p === 'string' && slots.includes(p)));
  if (used.size !== arity) throw new Error(`precompile: ${arity - used.size} argument(s) not used as values in: ${c.sql}`);
  const text = c.sql;
  return (runner, ...args) => {
    const params = bind.map((b) => b(args));
    // Outside a request transaction the statement goes straight to the pool (the replica's when
    // the request reads from one): Kysely's execution layer would only hand it through.
    const scope = currentScope();
    if (!scope?.trx) {
      const direct = directQueryOf(scope?.read ?? rootOf(runner));
      if (direct) return direct(text, params) as Promise<{ rows: R[] }>;
    }
    return runner.executeQuery<R>(CompiledQuery.raw(text, params));
  };
}
