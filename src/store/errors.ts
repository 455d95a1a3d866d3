// Every SQLSTATE the application reacts to is named here, once.
import { currentScope } from '../db/request-tx.ts';

export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  tooManyConnections: '53300',
  /** Class 53, insufficient resources (53100 disk_full, 53200 out_of_memory, 53300, 53400): unavailable, never a 500. */
  insufficientResourcesClass: '53',
} as const;

export const sqlState = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;

export const isUniqueViolation = (e: unknown, constraint?: string): boolean =>
  sqlState(e) === SQLSTATE.uniqueViolation && (constraint === undefined || (e as { constraint?: string }).constraint === constraint);

/** Errors a transaction may simply run again (distributed engines raise them under contention). */
export const isRetryable = (e: unknown): boolean => {
  const s = sqlState(e);
  return s === SQLSTATE.serializationFailure || s === SQLSTATE.deadlockDetected;
};

/**
 * The database is away or refusing work (restart, failover, connection refused, no answer in time,
 * a statement cancelled by statement_timeout, a conflict with concurrent transactions that did not
 * settle within withRetry's attempts): the request cannot be served now, but it is not the
 * caller's fault. Faces answer 503 with Retry-After.
 */
export function isUnavailable(e: unknown): boolean {
  const s = sqlState(e);
  if (isRetryable(e) || s === SQLSTATE.queryCanceled || s === SQLSTATE.adminShutdown || s === SQLSTATE.crashShutdown || s === SQLSTATE.cannotConnectNow || s?.startsWith(SQLSTATE.insufficientResourcesClass)) return true;
  const code = (e as { code?: string } | null)?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EPIPE' || code === 'ENOTFOUND') return true;
  const msg = e instanceof Error ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is closed|Query read timeout/i.test(msg);
}

/**
 * Attempts per transaction. Under heavy contention on a serializable engine every concurrent
 * transaction on the same rows (or the same index page) can conflict; SSI guarantees one of them
 * commits each round, so the bound must cover a few rounds (test/reliability/retries.test.ts).
 */
export const RETRY_ATTEMPTS = 10;

/** Pause before attempt i + 1: random (full jitter) up to 10·2^i ms, at most 1 s; about 4 s in all at worst. */
export const retryPause = (i: number) => new Promise<void>((r) => setTimeout(r, Math.random() * Math.min(1000, 10 * 2 ** i)));

/** Process-wide counts of withRetry's work (for tests and diagnostics). */
export const retryStats = { retried: 0, exhausted: 0 };

/**
 * Runs `fn` again (bounded, with jitter) when it fails with a serialization or deadlock error.
 * Inside a request's own transaction (idempotent writes: `fn` is then a savepoint) a serialization
 * failure is not retried: PostgreSQL wants the whole transaction again, and the same snapshot would
 * fail the same way. It reaches the face as a 503, which rolls the request back, and the client
 * sends it again with the same Idempotency-Key.
 */
export async function withRetry<T>(fn: () => Promise<T>, attempts = RETRY_ATTEMPTS): Promise<T> {
  const inRequestTx = Boolean(currentScope()?.trx);
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!isRetryable(e) || (inRequestTx && sqlState(e) === SQLSTATE.serializationFailure)) throw e;
      if (i >= attempts) { retryStats.exhausted++; throw e; }
      retryStats.retried++;
      await retryPause(i);
    }
  }
}
