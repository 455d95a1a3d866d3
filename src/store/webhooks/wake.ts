// Waking the dispatchers once events have committed (docs/webhooks.md). The writing instance pokes
// its own dispatcher in process; the others hear one NOTIFY per WINDOW_MS at most, sent after the
// commit by a statement of its own, with a trailing one so that no committed event waits longer
// than the window to be announced. A NOTIFY in every writing transaction cost more than the
// message: PostgreSQL serialises the commits of transactions that NOTIFY (`Lock:object` on the
// notification queue, held through the commit's WAL flush), so grouped creates queued behind each
// other's commits (docs/benchmark.md, 2026-12-08).
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { rootOf } from '../../db/request-tx.ts';
import { EVENTS_CHANNEL } from './outbox.ts';

/** At most one NOTIFY per this many milliseconds per instance. */
export const WINDOW_MS = 50;

export class EventsWake {
  /** The payload of this instance's NOTIFYs: its own listener ignores them (it was poked already). */
  readonly instance = randomUUID();
  private last = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    /** Sends the NOTIFY with this payload (notifyEvents). */
    private readonly notify: (payload: string) => Promise<void>,
    /** This instance's dispatchers, poked at once. */
    private readonly local: () => void,
    private readonly onError: (e: unknown) => void = () => {},
    private readonly windowMs = WINDOW_MS,
  ) {}

  /** Events written by this instance have committed. */
  committed(): void {
    this.local();
    if (this.closed || this.timer) return; // the trailing NOTIFY already due covers these
    const wait = this.last + this.windowMs - Date.now();
    if (wait <= 0) { this.fire(); return; }
    this.timer = setTimeout(() => { this.timer = null; this.fire(); }, wait);
  }

  private fire(): Promise<void> {
    this.last = Date.now();
    // If it fails, the other instances find the events at their next poll.
    return this.notify(this.instance).then(() => {}, this.onError);
  }

  /** Sends the trailing NOTIFY now if one is due; no more after this. */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    await this.fire();
  }
}

/** The NOTIFY on the events channel, in its own autocommit statement. */
export const notifyEvents = (db: Kysely<Database>) => async (payload: string): Promise<void> => {
  await sql`select pg_notify(${EVENTS_CHANNEL}, ${payload})`.execute(rootOf(db));
};
