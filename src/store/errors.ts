// The store's retry policy for whole transactions. SQLSTATE names and the classification of driver
// errors live in src/kernel/sqlstate.ts (every floor shares them); re-exported here for the store.
import { currentScope } from '../db/request-tx.ts';
import { RETRY_ATTEMPTS, newRetryStats, retry, type RetryStats } from '../kernel/retry.ts';
import { isRetryable, sqlState, SQLSTATE } from '../kernel/sqlstate.ts';

export { SQLSTATE, sqlState, isUniqueViolation, isRetryable, isUnavailable } from '../kernel/sqlstate.ts';
export { RETRY_ATTEMPTS } from '../kernel/retry.ts';

/**
 * Counts of withRetry's work for the store's transactions (the pool counts its autocommit retries
 * in its own Db.retryStats). Read by /metrics through the app's DbStats port.
 */
export const transactionRetryStats: RetryStats = newRetryStats();

/**
 * Runs `fn` again (bounded, with jitter) when it fails with a serialization or deadlock error.
 * Inside a request's own transaction (idempotent writes: `fn` is then a savepoint) a serialization
 * failure is not retried: PostgreSQL wants the whole transaction again, and the same snapshot would
 * fail the same way. It reaches the face as a 503, which rolls the request back, and the client
 * sends it again with the same Idempotency-Key.
 */
export function withRetry<T>(fn: () => Promise<T>, attempts = RETRY_ATTEMPTS, stats: RetryStats = transactionRetryStats): Promise<T> {
  const inRequestTx = Boolean(currentScope()?.trx);
  return retry(fn, {
    attempts,
    stats,
    shouldRetry: (e) => isRetryable(e) && !(inRequestTx && sqlState(e) === SQLSTATE.serializationFailure),
  });
}
