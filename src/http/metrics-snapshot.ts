// A value that is expensive to compute (the registry's team sizes: an aggregate over every live
// user, security review C5), computed at most once per `everyMs` and shared by every caller in
// between: N scrapes within the interval cost one aggregate, not N. Concurrent callers while it is
// computed wait for the same computation (one query in flight, never a pile of them). A failure is
// not cached: the next caller tries again.

export interface Snapshot<T> {
  value: T;
  /** When it was computed (ms, the clock handed in). */
  at: number;
}

export class EveryAtMost<T> {
  private last: Snapshot<T> | null = null;
  private inFlight: Promise<Snapshot<T>> | null = null;

  constructor(private readonly compute: () => Promise<T>, private readonly everyMs: number, private readonly now: () => number = Date.now) {}

  /** The last value when it is younger than `everyMs`, else a fresh one (one computation at a time). */
  get(): Promise<Snapshot<T>> {
    const last = this.last;
    if (last && this.now() - last.at < this.everyMs) return Promise.resolve(last);
    if (!this.inFlight) {
      this.inFlight = this.compute().then(
        (value) => { this.last = { value, at: this.now() }; this.inFlight = null; return this.last; },
        (e: unknown) => { this.inFlight = null; throw e; },
      );
    }
    return this.inFlight;
  }
}
