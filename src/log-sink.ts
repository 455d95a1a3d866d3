// Where the server's log lines go: stdout, buffered (written once 4 KB wait, and at least every
// second, and at exit) instead of one write(2) per line (docs/benchmark.md). A SIGKILL can lose the
// last second.
//
// A log that cannot be written (a full disk: ENOSPC; a closed pipe: EPIPE; any write error) never
// stops the service: lines wait in a bounded buffer (LOG_BUFFER_MAX_BYTES) and are written once the
// destination takes them again (tried every second); past the bound new lines are dropped and counted
// (roster_log_lines_dropped_total and roster_log_write_errors_total in /metrics), and stderr says so
// once. At exit one synchronous attempt is made, never a wait (SonicBoom's flushSync, used before,
// retries a full disk forever and so hung the exit).
import fs from 'node:fs';

export const LOG_BUFFER_MAX_BYTES = 1_048_576;
const MIN_WRITE_BYTES = 4096;

export interface LogSinkStats {
  /** Lines dropped because the destination refused writes and the buffer was full. */
  droppedLines: number;
  /** Failed write(2) calls (what they carried stays buffered and is tried again). */
  writeErrors: number;
}

export interface LogSink {
  /** A pino destination (anything with write()). */
  dest: { write(line: string): boolean };
  stats: LogSinkStats;
  /** One synchronous attempt to write what is buffered (at exit); never throws, never waits. */
  flushSync(): void;
  /**
   * Waits until what is buffered has been written (a clean stop, before process.exit): flushSync
   * cannot write behind an async write still in flight without reordering lines, so the last
   * lines ("stopped cleanly") were lost when one was. Bounded by `timeoutMs`; never throws.
   */
  drain(timeoutMs?: number): Promise<void>;
}

/** Says something on stderr without ever throwing (stderr may be on the same full disk). */
export function tellStderr(line: string): void {
  try { fs.writeSync(2, `${line}\n`); } catch { /* nowhere left to say it */ }
}

export function createLogSink(fd = 1, say: (line: string) => void = tellStderr, maxBytes = LOG_BUFFER_MAX_BYTES): LogSink {
  const stats: LogSinkStats = { droppedLines: 0, writeErrors: 0 };
  let queue: Buffer[] = [];
  let queued = 0;
  let inFlight = 0; // bytes being written by the one fs.write in progress
  let failing = false; // the last write failed: wait for the timer instead of trying on every line
  let written: (() => void)[] = []; // drain() calls waiting for the write in flight
  let told = false;

  const failed = (err: NodeJS.ErrnoException) => {
    stats.writeErrors++;
    failing = true;
    if (!told) {
      told = true;
      say(`roster: log lines cannot be written (${err.code ?? err.message}); Roster keeps serving, holds up to ${maxBytes} bytes of lines and drops the rest (counted in /metrics: roster_log_lines_dropped_total). This is said once.`);
    }
  };

  const flush = () => {
    if (inFlight || queued === 0) return;
    const out = queue.length === 1 ? queue[0]! : Buffer.concat(queue, queued);
    queue = [];
    queued = 0;
    inFlight = out.length;
    fs.write(fd, out, 0, out.length, null, (err, n) => {
      inFlight = 0;
      const waiting = written;
      written = [];
      for (const w of waiting) w();
      const rest = err ? out : out.subarray(n);
      if (rest.length) { queue.unshift(rest); queued += rest.length; }
      if (err) return failed(err);
      failing = false;
      if (queued >= MIN_WRITE_BYTES) flush();
    });
  };

  const timer = setInterval(flush, 1000);
  timer.unref();

  return {
    stats,
    dest: {
      write(line: string) {
        const b = Buffer.from(line, 'utf8');
        if (queued + inFlight + b.length > maxBytes) { stats.droppedLines++; return true; }
        queue.push(b);
        queued += b.length;
        if (!failing && queued >= MIN_WRITE_BYTES) flush();
        return true;
      },
    },
    async drain(timeoutMs = 2000) {
      const end = Date.now() + timeoutMs;
      while ((inFlight || queued) && !failing && Date.now() < end) {
        if (!inFlight) flush();
        if (inFlight) await new Promise<void>((r) => { written.push(r); setTimeout(r, Math.max(0, end - Date.now())).unref(); });
      }
    },
    flushSync() {
      if (inFlight || queued === 0) return; // an async write is out: writing now would reorder lines
      const out = Buffer.concat(queue, queued);
      try {
        const n = fs.writeSync(fd, out);
        queue = n < out.length ? [out.subarray(n)] : [];
        queued = out.length - n;
      } catch (e) {
        failed(e as NodeJS.ErrnoException);
      }
    },
  };
}
