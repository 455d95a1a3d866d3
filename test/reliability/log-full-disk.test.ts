// A full disk must not stop Roster through its log (issue 15, "Full disk, part 1"). Roster runs as
// `npm start` with its stdout (the log) on a 1 MB tmpfs that is full: every log write fails with
// ENOSPC. It keeps answering, says so once on stderr, counts the failed writes in /metrics, and
// writes its buffered lines once space is freed. The bounded buffer's drops are tested in-process.
// Needs root (mount); fails loudly without it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cleanupAll, delay, startRoster, tempDir, send, type RosterProcess } from './fixtures/harness.ts';
import { createLogSink } from '../../src/log-sink.ts';

/** A tmpfs of `size` at a new directory, filled up to the last byte. */
function fullTmpfs(size: string): { dir: string; filler: string; umount(): void } {
  const dir = path.join(tempDir('roster-logfs-'), 'fs');
  fs.mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try { for (;;) fs.writeSync(fd, chunk); } catch (e) { assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC'); }
  try { for (;;) fs.writeSync(fd, chunk, 0, 512); } catch { /* full to the last block */ }
  fs.closeSync(fd);
  return { dir, filler, umount: () => { try { execFileSync('umount', ['-l', dir]); } catch { /* already */ } } };
}

describe('a log on a full disk never stops Roster (embedded PostgreSQL, root)', { timeout: 180_000 }, () => {
  let disk: ReturnType<typeof fullTmpfs>;
  let roster: RosterProcess;
  let logPath: string;
  before(async () => {
    assert.equal(process.getuid?.(), 0, 'this test mounts a tmpfs: run it as root');
    disk = fullTmpfs('1m');
    logPath = path.join(disk.dir, 'roster.log');
    const fd = fs.openSync(logPath, 'w');
    roster = await startRoster({ dataDir: path.join(tempDir(), 'data'), logLevel: 'info', stdout: fd, env: { ROSTER_METRICS_TOKEN: 'metrics-token-0123456789abcdef' } });
    fs.closeSync(fd);
  });
  after(async () => {
    await cleanupAll().catch(() => {});
    disk?.umount();
  });

  test('ENOSPC on every log write: requests still answered, stderr says so once, /metrics counts it; lines written once space is back', async () => {
    // ~150 bytes of request line each: far past the 4 KB write threshold.
    for (let i = 0; i < 300; i++) {
      const r = await send(roster.baseUrl, 'POST', '/v2/user', { client_user_id: `logfull-${i}` });
      assert.equal(r.status, 200, `request ${i}: ${JSON.stringify(r)} ${roster.output().slice(-2000)}`);
    }
    await delay(1500); // the periodic flush retries too
    assert.ok(roster.running(), `still running: ${roster.output().slice(-2000)}`);
    const said = roster.output().match(/log lines cannot be written/g) ?? [];
    assert.equal(said.length, 1, `said once on stderr: ${roster.output().slice(-2000)}`);
    assert.match(roster.output(), /ENOSPC/);
    const m = await fetch(`${roster.baseUrl}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456789abcdef' } });
    const text = await m.text();
    const errors = Number(/^roster_log_write_errors_total (\d+)/m.exec(text)?.[1] ?? 'NaN');
    assert.ok(errors >= 1, `write errors counted: ${errors}`);
    assert.match(text, /^roster_log_lines_dropped_total 0$/m, 'nothing dropped yet: the buffer holds them');
    assert.equal(fs.statSync(logPath).size, 0, 'nothing could be written');

    fs.rmSync(disk.filler);
    let size = 0;
    for (let i = 0; i < 50 && size === 0; i++) { await delay(200); size = fs.statSync(logPath).size; }
    assert.ok(size > 0, 'the buffered lines are written once there is space');
    const log = fs.readFileSync(logPath, 'utf8');
    assert.ok(log.split('\n').filter((l) => l.includes('"msg":"request"')).length >= 300, 'the request lines held in the buffer were not lost');
    assert.equal((await send(roster.baseUrl, 'GET', '/healthz')).status, 200);
  });
});

describe('the log buffer is bounded: past it lines are dropped and counted', () => {
  test('a destination that refuses writes: drops counted, stderr told once, no throw', async () => {
    assert.equal(process.getuid?.(), 0, 'this test mounts a tmpfs: run it as root');
    const disk = fullTmpfs('256k');
    try {
      const fd = fs.openSync(path.join(disk.dir, 'log'), 'w');
      const told: string[] = [];
      const sink = createLogSink(fd, (l) => told.push(l));
      const line = `${JSON.stringify({ msg: 'x'.repeat(200) })}\n`;
      for (let i = 0; i < 8000; i++) sink.dest.write(line); // ~1.6 MB: past the 1 MB bound
      await delay(100);
      sink.flushSync();
      assert.ok(sink.stats.writeErrors >= 1);
      assert.ok(sink.stats.droppedLines > 1000, `dropped: ${sink.stats.droppedLines}`);
      assert.equal(told.length, 1);
      fs.closeSync(fd);
    } finally {
      disk.umount();
    }
  });
});

describe('a clean stop writes the last lines (drain)', () => {
  test('lines buffered while an async write is in flight are written by drain(); flushSync alone would skip them', async () => {
    const file = path.join(tempDir('roster-logdrain-'), 'log');
    const fd = fs.openSync(file, 'w');
    const sink = createLogSink(fd, () => {});
    const line = (i: number) => `${JSON.stringify({ i, msg: 'x'.repeat(100) })}\n`;
    for (let i = 0; i < 100; i++) sink.dest.write(line(i)); // past 4 KB: an async write is now in flight
    sink.dest.write(line(100)); // buffered behind it, like "stopped cleanly"
    sink.flushSync(); // refuses to write behind the write in flight (it would reorder lines)
    await sink.drain();
    fs.closeSync(fd);
    const got = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { i: number }).i);
    assert.deepEqual(got, Array.from({ length: 101 }, (_, i) => i), 'every line, in order');
  });
});
