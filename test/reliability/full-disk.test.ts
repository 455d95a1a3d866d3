// A full disk under the database (issue 15, "Full disk, part 2"), tried as an operator would:
// Roster (`npm start`, embedded PostgreSQL) with DATA_DIR on a small tmpfs, filled with a file while
// creates run. Creates the database cannot store are answered 503 (never 500); /readyz says 503;
// every acknowledged create is still there; once the file is deleted Roster recovers by itself.
// Needs root (mount); fails loudly without it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cleanupAll, createLoad, delay, send, startRoster, tempDir, verifyCreates, isAnswer, type RosterProcess } from './fixtures/harness.ts';

describe('a full DATA_DIR answers 503, loses nothing acknowledged, and recovers (embedded PostgreSQL, root)', { timeout: 300_000 }, () => {
  let mnt: string;
  let roster: RosterProcess;
  before(async () => {
    assert.equal(process.getuid?.(), 0, 'this test mounts a tmpfs: run it as root');
    mnt = path.join(tempDir('roster-datafs-'), 'fs');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m,mode=0755', 'tmpfs', mnt]);
    roster = await startRoster({ dataDir: path.join(mnt, 'data'), readyTimeoutMs: 120_000 });
  });
  after(async () => {
    await cleanupAll().catch(() => {});
    try { execFileSync('umount', ['-l', mnt]); } catch { /* already */ }
  });

  test('fill the disk during creates: 503s (no 500), readyz 503, acknowledged creates kept, recovery after freeing space', async () => {
    const warm = createLoad(roster.baseUrl, { loops: 4, prefix: 'warm' });
    await delay(1000);
    await warm.stop();
    assert.equal(warm.refused.size, 0);

    // Fill what is left, to the last block.
    const filler = path.join(mnt, 'filler');
    const fd = fs.openSync(filler, 'w');
    try { for (;;) fs.writeSync(fd, Buffer.alloc(1 << 20, 1)); } catch { /* ENOSPC */ }
    try { for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1)); } catch { /* ENOSPC */ }
    fs.closeSync(fd);

    const load = createLoad(roster.baseUrl, { loops: 6, prefix: 'full' });
    let readyDuring: number | string = 'not asked';
    for (let i = 0; i < 100 && ![...load.refused.values()].includes(503); i++) await delay(100);
    await delay(500);
    const r = await send(roster.baseUrl, 'GET', '/readyz');
    readyDuring = isAnswer(r) ? r.status : r.status;
    await load.stop();
    const statuses = [...load.refused.values()];
    assert.ok(statuses.includes(503), `some creates were refused with 503: ${JSON.stringify(statuses.slice(0, 20))} ${roster.output().slice(-1500)}`);
    assert.ok(statuses.every((s) => s === 503), `only 503s, never a 500: ${JSON.stringify([...new Set(statuses)])}`);
    assert.equal(readyDuring, 503, '/readyz tells the truth while the database cannot write');
    assert.ok(roster.running(), 'Roster still runs');

    // Space is back: Roster recovers by itself (no restart).
    fs.rmSync(filler);
    let ok = false;
    for (let i = 0; i < 120 && !ok; i++) {
      const c = await send(roster.baseUrl, 'POST', '/v2/user', { client_user_id: `after-${i}` });
      ok = isAnswer(c) && c.status === 200;
      if (!ok) await delay(500);
    }
    assert.ok(ok, `creates work again once space is freed: ${roster.output().slice(-1500)}`);
    const ready = await send(roster.baseUrl, 'GET', '/readyz');
    assert.equal(isAnswer(ready) && ready.status, 200);
    const v = await verifyCreates(roster.baseUrl, load, 'full');
    assert.deepEqual({ missing: v.missing, wrongId: v.wrongId, duplicates: v.duplicates, phantoms: v.phantoms }, { missing: [], wrongId: [], duplicates: 0, phantoms: [] }, 'every acknowledged create is there, nothing refused was stored');
    const w = await verifyCreates(roster.baseUrl, warm, 'warm');
    assert.equal(w.missing.length, 0);
  });
});
