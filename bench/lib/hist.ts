// A latency histogram with 1% relative precision (log buckets over microseconds). autocannon's own
// histogram keeps whole milliseconds, too coarse for "p99 ≤ 5 ms" targets, so the load process
// records every 2xx response time here as well.

const GROWTH = Math.log(1.01);
const MAX_US = 120_000_000; // 120 s

export class LatencyHistogram {
  private counts = new Float64Array(Math.ceil(Math.log(MAX_US + 1) / GROWTH) + 2);
  total = 0;
  max = 0;

  /** `ms` may be fractional. */
  record(ms: number): void {
    const us = Math.min(Math.max(ms * 1000, 0), MAX_US);
    this.counts[Math.floor(Math.log(us + 1) / GROWTH)]! += 1;
    this.total += 1;
    if (ms > this.max) this.max = ms;
  }

  /** Percentile in ms (geometric middle of the bucket), 0 when empty. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const want = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= want) {
        const lo = Math.exp(i * GROWTH) - 1;
        const hi = Math.exp((i + 1) * GROWTH) - 1;
        return Math.min(Math.sqrt(Math.max(lo, 0.5) * hi) / 1000, this.max);
      }
    }
    return this.max;
  }
}
