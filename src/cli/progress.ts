// Progress on stderr for long CLI commands (import, backup, restore): on a terminal one line
// redrawn with \r (a bar, rows, rate, ETA); otherwise a plain line every few seconds.

export interface ProgressOptions {
  stream: NodeJS.WritableStream;
  /** A terminal: redraw one line with \r. Otherwise plain lines. */
  tty: boolean;
  /** Minimum time between plain lines (not a terminal). Default 5000. */
  intervalMs?: number;
}

/** What a plain (non-terminal) line is made from. */
export interface ProgressShown {
  /** Percent done, or null when the total is unknown. */
  pct: number | null;
  rows: number;
  /** Rows per second since the start. */
  rate: number;
  /** "ETA 3m05s", "ETA ?" or "done in 12s". */
  etaText: string;
}

export class Progress {
  private last = 0;
  private drawn = false;
  private readonly t0 = Date.now();

  /**
   * `total` is in the units of `done` (bytes of a file, estimated rows), or null when unknown;
   * `startDone`/`startRows` are where a resumed run started, so rates count this run only.
   */
  constructor(
    private readonly o: ProgressOptions,
    private readonly label: string,
    private readonly total: number | null,
    private readonly plainLine: (label: string, p: ProgressShown) => string = (l, p) => `${l}: ${p.pct === null ? '' : `${p.pct}% `}${p.rows} rows ${Math.round(p.rate)} rows/s ${p.etaText}`,
    private readonly startDone = 0,
    private readonly startRows = 0,
  ) {}

  update(done: number, rows: number, final = false): void {
    const now = Date.now();
    const every = this.o.tty ? 100 : this.o.intervalMs ?? 5000;
    if (!final && now - this.last < every) return;
    this.last = now;
    const secs = Math.max((now - this.t0) / 1000, 1e-3);
    const rate = (rows - this.startRows) / secs;
    const doneRate = (done - this.startDone) / secs;
    const total = this.total;
    const pct = final ? 100 : total === null ? null : total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const eta = total !== null && doneRate > 0 ? Math.max(0, (total - done) / doneRate) : NaN;
    const etaText = final ? `done in ${fmtDuration(secs)}` : `ETA ${Number.isFinite(eta) ? fmtDuration(eta) : '?'}`;
    if (this.o.tty) {
      const width = 24;
      let bar = '';
      if (pct !== null) {
        const fill = Math.round((pct / 100) * width);
        bar = ` [${'█'.repeat(fill) + '░'.repeat(width - fill)}] ${String(pct).padStart(3)}%`;
      }
      this.o.stream.write(`\r\x1b[K${this.label}${bar}  ${rows.toLocaleString('en-US')} rows  ${Math.round(rate).toLocaleString('en-US')} rows/s  ${etaText}${final ? '\n' : ''}`);
      this.drawn = !final;
    } else {
      this.o.stream.write(this.plainLine(this.label, { pct, rows, rate, etaText }) + '\n');
    }
  }

  /** Ends a half-drawn bar so the next message starts on its own line. */
  close(): void {
    if (this.drawn) this.o.stream.write('\n');
    this.drawn = false;
  }
}

export function fmtDuration(s: number): string {
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  const m = Math.floor(t / 60);
  return m < 60 ? `${m}m${String(t % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
