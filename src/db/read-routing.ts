// Reads that tolerate replica lag go to DATABASE_READ_URL, with read-your-writes per API key:
// after a key writes, its reads go to the primary for a window (ROSTER_READ_YOUR_WRITES_MS). The
// mark lives in this process and, with Redis, in Redis too, so a read that lands on another
// instance also goes to the primary. A replica whose replay lag exceeds half that window (or that
// cannot be asked) gets no reads at all until it catches up. See docs/scaling.md.
import { sql, type Kysely } from 'kysely';
import type { Redis } from 'ioredis';
import type { Database } from './schema.ts';

export interface ReadRoutingOptions {
  replica: Kysely<Database>;
  windowMs: number;
  redis: Redis | null;
  /** Replay lag above which the replica gets no reads (default: half the window). */
  maxLagMs?: number;
  /** How often the replica's replay lag is measured. */
  lagCheckMs?: number;
  onError?: (e: unknown) => void;
}

export class ReadRouter {
  private readonly local = new Map<string, number>();
  private lagOk = false;
  private timer: NodeJS.Timeout;
  /** Last measured replay lag in ms (null = unknown). */
  lagMs: number | null = null;

  constructor(private readonly o: ReadRoutingOptions) {
    void this.checkLag();
    this.timer = setInterval(() => void this.checkLag(), o.lagCheckMs ?? 1000);
    this.timer.unref();
  }

  /** Call once a write by `keyId` has committed, before its response is sent. */
  async noteWrite(keyId: string): Promise<void> {
    const until = Date.now() + this.o.windowMs;
    this.local.set(keyId, until);
    if (this.local.size > 100_000) this.prune();
    if (this.o.redis) {
      try {
        await this.o.redis.set(`roster:ryw:${keyId}`, '1', 'PX', this.o.windowMs);
      } catch (e) {
        this.o.onError?.(e);
      }
    }
  }

  /** The replica to read from for this key, or null for the primary. */
  async replicaFor(keyId: string): Promise<Kysely<Database> | null> {
    if (!this.lagOk) return null;
    const until = this.local.get(keyId);
    if (until !== undefined) {
      if (until > Date.now()) return null;
      this.local.delete(keyId);
    }
    if (this.o.redis) {
      try {
        if ((await this.o.redis.exists(`roster:ryw:${keyId}`)) === 1) return null;
      } catch (e) {
        // Cannot tell whether another instance saw a write: read from the primary.
        this.o.onError?.(e);
        return null;
      }
    }
    return this.o.replica;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async checkLag(): Promise<void> {
    try {
      // On a standby with nothing to replay, pg_last_xact_replay_timestamp() is old although the
      // replica is current: count it as caught up when received and replayed positions match.
      const r = await sql<{ standby: boolean; lag_ms: number | null; caught_up: boolean | null }>`
        select pg_is_in_recovery() as standby,
               extract(epoch from (now() - pg_last_xact_replay_timestamp())) * 1000 as lag_ms,
               pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() as caught_up`.execute(this.o.replica);
      const row = r.rows[0];
      // Not a standby at all (a pooler in front of the primary, say): no lag by definition.
      const lag = !row?.standby || row.caught_up ? 0 : row.lag_ms == null ? null : Number(row.lag_ms);
      this.lagMs = lag;
      this.lagOk = lag !== null && lag <= (this.o.maxLagMs ?? this.o.windowMs / 2);
    } catch (e) {
      this.lagMs = null;
      this.lagOk = false;
      this.o.onError?.(e);
    }
  }

  private prune(): void {
    const now = Date.now();
    for (const [k, until] of this.local) if (until <= now) this.local.delete(k);
  }
}
