// The one retry loop (bounded, with full jitter), shared by the pool's autocommit statements
// (src/db/pool.ts) and the store's transactions (src/store/errors.ts). A leaf: imports nothing from src/.
import { isRetryable } from './sqlstate.ts';

/**
 * Attempts per transaction. Under heavy contention on a serializable engine every concurrent
 * transaction on the same rows (or the same index page) can conflict; SSI guarantees one of them
 * commits each round, so the bound must cover a few rounds (test/reliability/retries.test.ts).
 */
export const RETRY_ATTEMPTS = 10;

/** Pause before attempt i + 1: random (full jitter) up to 10·2^i ms, at most 1 s; about 4 s in all at worst. */
export const retryPause = (i: number) => new Promise<void>((r) => setTimeout(r, Math.random() * Math.min(1000, 10 * 2 ** i)));

/** Counts of a retry loop's work, owned by whoever runs it (a Db, the store): for metrics and tests. */
export interface RetryStats { retried: number; exhausted: number }
export const newRetryStats = (): RetryStats => ({ retried: 0, exhausted: 0 });

export interface RetryOptions {
  attempts?: number;
  /** Whether `e` may be tried again (default: serialization failure or deadlock). */
  shouldRetry?: (e: unknown) => boolean;
  stats?: RetryStats;
}

/** Runs `fn`, again (up to `attempts` in all, pausing with jitter) while it fails with an error `shouldRetry` accepts. */
export async function retry<T>(fn: () => Promise<T> | T, o: RetryOptions = {}): Promise<T> {
  const attempts = o.attempts ?? RETRY_ATTEMPTS;
  const shouldRetry = o.shouldRetry ?? isRetryable;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!shouldRetry(e)) throw e;
      if (i >= attempts) { if (o.stats) o.stats.exhausted++; throw e; }
      if (o.stats) o.stats.retried++;
      await retryPause(i);
    }
  }
}
