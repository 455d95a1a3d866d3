// Waking the dispatchers after events commit (src/store/webhooks/wake.ts): this instance's at once
// on every commit; the others by one NOTIFY per window at most, the first at once and a trailing
// one for whatever committed after it within the window, so nothing waits longer than the window.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventsWake, WINDOW_MS } from '../../src/store/webhooks/wake.ts';

describe('EventsWake', () => {
  test('every commit pokes this instance; NOTIFYs: the first at once, then one trailing per window; close sends a due one', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const sent: { payload: string; at: number }[] = [];
    let pokes = 0;
    const w = new EventsWake(async (payload) => { sent.push({ payload, at: Date.now() }); }, () => { pokes++; });
    w.committed();
    assert.deepEqual(sent.map((s) => s.at), [1_000_000], 'the first at once');
    assert.equal(sent[0]!.payload, w.instance, 'its payload names this instance (its own listener skips it)');
    t.mock.timers.tick(10);
    w.committed();
    t.mock.timers.tick(10);
    w.committed();
    assert.equal(pokes, 3, 'this instance is poked on every commit');
    assert.equal(sent.length, 1, 'nothing more within the window');
    t.mock.timers.tick(WINDOW_MS - 20);
    assert.deepEqual(sent.map((s) => s.at), [1_000_000, 1_000_000 + WINDOW_MS], 'one trailing NOTIFY at the end of the window, covering both');
    t.mock.timers.tick(10 * WINDOW_MS);
    assert.equal(sent.length, 2, 'none while nothing commits');
    w.committed();
    assert.equal(sent.length, 3, 'after a quiet window, at once again');
    t.mock.timers.tick(1);
    w.committed();
    await w.close();
    assert.equal(sent.length, 4, 'close sends the trailing one that was due');
    w.committed();
    t.mock.timers.tick(10 * WINDOW_MS);
    assert.equal(sent.length, 4, 'none after close');
    assert.equal(pokes, 6);
  });

  test('a NOTIFY that fails is reported, and the next window tries again', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 5_000 });
    const errors: unknown[] = [];
    let fail = true;
    let sent = 0;
    const w = new EventsWake(async () => { if (fail) throw new Error('database down'); sent++; }, () => {}, (e) => errors.push(e));
    w.committed();
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(errors.length, 1);
    fail = false;
    t.mock.timers.tick(WINDOW_MS);
    w.committed();
    await Promise.resolve();
    assert.equal(sent, 1);
  });
});
