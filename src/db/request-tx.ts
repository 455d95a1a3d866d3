// A request-scoped transaction that the store follows without being told: repositories hold a
// Kysely handle made by scopedKysely(); while a request runs inside runInRequestScope() with a
// transaction attached, every query of that request goes through it, and a repository's own
// `transaction().execute(fn)` becomes a savepoint inside it. Used by idempotent writes, whose key
// row must commit or roll back together with the change it protects.
import { AsyncLocalStorage } from 'node:async_hooks';
import { sql, type ControlledTransaction, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

export interface RequestScope {
  trx: ControlledTransaction<Database> | null;
  /** A read replica this request may read from (set only for reads that tolerate lag). */
  read?: Kysely<Database> | null;
  /** The Idempotency-Key row `trx` holds (src/store/idempotency.ts). */
  idem?: { teamId: string; key: string } | null;
  /** What to do once `trx` has committed (afterCommit); dropped if it rolls back. */
  afterCommit?: (() => void)[];
}

const als = new AsyncLocalStorage<RequestScope>();
let savepoints = 0;

export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return als.run(scope, fn);
}

export const currentScope = (): RequestScope | undefined => als.getStore();

/**
 * Runs `fn` once what was just written has committed: at once outside a request's transaction
 * (call it after the statement or the transaction that wrote), else when that transaction commits
 * (settleAfterCommit), never if it rolls back. For signals that must not precede the commit (a
 * dispatcher's wake-up).
 */
export function afterCommit(fn: () => void): void {
  const s = als.getStore();
  if (s?.trx) (s.afterCommit ??= []).push(fn);
  else fn();
}

/** The committer of `s.trx` calls this after its commit (with `commit: false` after a rollback). */
export function settleAfterCommit(s: RequestScope, commit: boolean): void {
  const fns = s.afterCommit;
  s.afterCommit = undefined;
  if (commit) for (const fn of fns ?? []) fn();
}

const roots = new WeakMap<object, Kysely<Database>>();
/** The Kysely instance a scopedKysely() proxy stands for (the instance itself otherwise). */
export const rootOf = (k: Kysely<Database>): Kysely<Database> => roots.get(k) ?? k;

export function scopedKysely(root: Kysely<Database>): Kysely<Database> {
  const proxy = new Proxy(root, {
    get(target, prop) {
      const scope = als.getStore();
      const trx = scope?.trx;
      if (!trx) {
        const db = scope?.read ?? target;
        const v = Reflect.get(db, prop, db);
        return typeof v === 'function' ? v.bind(db) : v;
      }
      if (prop === 'transaction') return () => savepointBuilder(trx);
      const v = Reflect.get(trx, prop, trx);
      return typeof v === 'function' ? v.bind(trx) : v;
    },
  });
  roots.set(proxy, root);
  return proxy;
}

function savepointBuilder(trx: ControlledTransaction<Database>) {
  const builder = {
    setIsolationLevel: () => builder,
    setAccessMode: () => builder,
    async execute<T>(fn: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
      const name = sql.id(`sp_${++savepoints}`);
      await sql`savepoint ${name}`.execute(trx);
      try {
        const r = await fn(trx);
        await sql`release savepoint ${name}`.execute(trx);
        return r;
      } catch (e) {
        await sql`rollback to savepoint ${name}`.execute(trx).catch(() => {});
        throw e;
      }
    },
  };
  return builder;
}
