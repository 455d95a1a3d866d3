// Storage exhaustion (issue 15, "Full disk, part 2"): PostgreSQL answering with SQLSTATE class 53
// (insufficient resources: 53100 disk_full, 53200 out_of_memory, 53300 too_many_connections, 53400
// configuration_limit_exceeded) is a condition of the server, not a bug. The faces answer 503 with
// Retry-After in their own shapes (kernel/sqlstate.ts isUnavailable); this counts it for /metrics and
// lets /readyz tell the truth: 503 from a storage failure until a write succeeds again, for at most
// HOLD_MS after the last failure (then traffic is let back in to find out; another failure marks
// it again). Nothing here acknowledges anything: a failed write was answered 503 and not stored.
import { sqlState, SQLSTATE } from '../kernel/sqlstate.ts';

export const STORAGE_HOLD_MS = 30_000;

export class StorageState {
  /** Failures by SQLSTATE, since start. */
  readonly counts = new Map<string, number>();
  private failedAt = 0;

  constructor(private readonly now: () => number = Date.now, private readonly holdMs = STORAGE_HOLD_MS) {}

  /** Looks at an error; true when it was storage exhaustion (class 53). */
  note(err: unknown): boolean {
    const s = sqlState(err);
    if (!s || !/^[0-9A-Z]{5}$/.test(s) || !s.startsWith(SQLSTATE.insufficientResourcesClass)) return false;
    this.counts.set(s, (this.counts.get(s) ?? 0) + 1);
    this.failedAt = this.now();
    return true;
  }

  /** A write went through. */
  ok(): void {
    this.failedAt = 0;
  }

  /** The database recently could not write, and nothing has been written since. */
  exhausted(): boolean {
    return this.failedAt !== 0 && this.now() - this.failedAt < this.holdMs;
  }
}
