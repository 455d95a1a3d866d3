// Every SQLSTATE the application reacts to is named here, once, with the classification of driver
// errors every floor shares (the pool retries, the store retries, the faces answer 503). A leaf:
// imports nothing from src/.

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
 * settle within the retries' attempts): the request cannot be served now, but it is not the
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
