// SIGTERM drains (issue 6, item 3): Roster (`npm start` as a child process, embedded PostgreSQL)
// gets SIGTERM while requests are in flight. None of the requests it accepted is cut off; it exits
// 0 within a bound, saying "stopped cleanly"; its PostgreSQL is gone and DATA_DIR's lock released,
// so a new start succeeds at once.
//   1. Deterministic: the test holds a lock on the users table (through the embedded server's
//      own superuser) so 30 creates are provably inside the database when SIGTERM arrives.
//   2. Realistic: 200 creates at once, SIGTERM in the middle of them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  cleanupAll, delay, embeddedClient, isAlive, isAnswer, listAll, postmasterPid, send, startRoster, tempDir, waitExit,
  type Outcome, type RosterProcess,
} from './fixtures/harness.ts';
import { reportReliability } from './fixtures/report.ts';
import { MAX_IN_FLIGHT } from '../../src/store/users/create-group.ts';

const EXIT_BOUND_MS = 15_000;

describe('SIGTERM drains in-flight requests, then stops cleanly (embedded PostgreSQL)', { timeout: 240_000 }, () => {
  let dataDir: string;
  let roster: RosterProcess;
  const opts = () => ({ dataDir, logLevel: 'info', env: { DB_POOL_MAX: '40' } });

  before(async () => {
    dataDir = path.join(tempDir(), 'data');
    roster = await startRoster(opts());
  });
  after(cleanupAll);

  /** After exit: the embedded PostgreSQL is gone, both lock files are gone, a new start works at once. */
  async function afterExit(pgPid: number) {
    const pgGone = !isAlive(pgPid);
    const locksGone = !fs.existsSync(path.join(dataDir, 'roster.pid')) && !fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid'));
    const t0 = Date.now();
    roster = await startRoster(opts());
    return { pgGone, locksGone, restartMs: Date.now() - t0 };
  }

  test('requests held inside the database when SIGTERM arrives all complete; exit 0; PostgreSQL stopped; restart at once', async (t) => {
    assert.equal((await send(roster.baseUrl, 'POST', '/v2/user', { client_user_id: 'drain-warmup' })).status, 200);
    const locker = await embeddedClient(dataDir);
    let held: Outcome[] = [];
    try {
      await locker.query('begin');
      await locker.query('lock table users in share row exclusive mode'); // blocks inserts, not reads
      // 30 creates, a third with Idempotency-Key (their request transaction is open too).
      const inFlight = Array.from({ length: 30 }, (_, i) => send(roster.baseUrl, 'POST', '/v2/user', { client_user_id: `drain-${i}` }, i % 3 === 0 ? { 'idempotency-key': `drain-${i}` } : {}));
      // The 10 idempotent creates each wait in their own request transaction; the 20 others are
      // grouped (src/store/users/create-group.ts): MAX_IN_FLIGHT group statements wait inside
      // PostgreSQL and the rest queue behind them in Roster. All 30 are in flight at SIGTERM.
      const INSIDE = 10 + MAX_IN_FLIGHT;
      let waiting = 0;
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await delay(50)) {
        // Inside a transaction pg_stat_activity is a snapshot taken at first read: clear it each time.
        await locker.query('select pg_stat_clear_snapshot()');
        const r = await locker.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where application_name = 'roster' and wait_event_type = 'Lock'`);
        waiting = r.rows[0]!.n;
        if (waiting >= INSIDE) break;
      }
      if (waiting !== INSIDE) {
        const act = await locker.query(`select application_name, state, wait_event_type, wait_event, left(query, 50) as q, count(*)::int as n from pg_stat_activity group by 1, 2, 3, 4, 5`);
        assert.fail(`${INSIDE} statements of the 30 creates are waiting inside PostgreSQL (${waiting}): ${JSON.stringify(act.rows)} ${roster.output().slice(-3000)}`);
      }

      const pgPid = postmasterPid(dataDir)!;
      const tTerm = Date.now();
      roster.signal('SIGTERM');
      await delay(700);
      const drainingAfterMs = Date.now() - tTerm;
      const stillRunning = roster.running();
      const late = await send(roster.baseUrl, 'GET', '/v2/user?limit=1');
      await locker.query('commit');
      held = await Promise.all(inFlight);
      const exit = await waitExit(roster, EXIT_BOUND_MS);
      const exitMs = Date.now() - tTerm;
      const out = roster.output();
      const a = await afterExit(pgPid);
      const { users } = await listAll(roster.baseUrl);
      const stored = users.filter((u) => u.client_user_id.startsWith('drain-')).length;

      const complete200 = held.filter((o) => o.status === 200).length;
      const lateRefused = late.status === 503 || late.status === 'neterror';
      const ok = stillRunning && complete200 === 30 && lateRefused && exit !== 'timeout' && exit.code === 0 && /stopped cleanly/.test(out)
        && a.pgGone && a.locksGone && stored === 31;
      reportReliability(t, {
        fault: 'sigterm-drain-held',
        title: 'SIGTERM while 30 creates are in flight (10 with Idempotency-Key, each inside PostgreSQL; 20 grouped, 4 group statements inside PostgreSQL, the rest queued behind them), held by a table lock, released 0.7 s later',
        kind: 'fault',
        backend: 'embedded',
        runs: 1,
        expected: 'still draining while they wait; a request arriving after SIGTERM is refused (503 or connection refused); all 30 answered 200; exit 0 within 15 s with "stopped cleanly"; PostgreSQL stopped, locks released, restart at once; all stored',
        observed: {
          inFlight: 30, answered200: complete200, cutOff: held.filter((o) => !isAnswer(o)).length, stillDrainingAfterMs: stillRunning ? drainingAfterMs : 0,
          lateRequest: String(late.status), exitCode: exit === 'timeout' ? 'timeout' : String(exit.code), maxExitMs: exitMs,
          stoppedCleanly: /stopped cleanly/.test(out), postgresStopped: a.pgGone, locksReleased: a.locksGone, maxRestartMs: a.restartMs, stored,
        },
        ok,
      });
      assert.ok(stillRunning, 'Roster waits for the in-flight requests');
      assert.ok(lateRefused, `a request after SIGTERM is refused (got ${late.status})`);
      assert.deepEqual(held.map((o) => o.status), held.map(() => 200), 'every in-flight request completes');
      assert.notEqual(exit, 'timeout', `exited within ${EXIT_BOUND_MS} ms`);
      assert.equal(exit !== 'timeout' && exit.code, 0, out.slice(-2000));
      assert.match(out, /stopped cleanly/);
      assert.ok(a.pgGone, 'the embedded PostgreSQL stopped with it');
      assert.ok(a.locksGone, 'roster.pid and postmaster.pid are gone');
      assert.equal(stored, 31);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end().catch(() => {});
    }
  });

  test('SIGTERM in the middle of 200 concurrent creates: each answered (200, or 503 once closing) or never accepted; exit 0; nothing lost', async (t) => {
    const N = 200;
    const acked = new Map<string, string>();
    let answered = 0;
    const outcomes: Outcome[] = [];
    const pgPid = postmasterPid(dataDir)!;
    let tTerm = 0;
    const all = Promise.all(Array.from({ length: N }, async (_, i) => {
      const cid = `burst-${i}`;
      const o = await send(roster.baseUrl, 'POST', '/v2/user', { client_user_id: cid });
      outcomes[i] = o;
      if (o.status === 200) acked.set(cid, (o as { body: { user_id: string } }).body.user_id);
      if (++answered === 20) { tTerm = Date.now(); roster.signal('SIGTERM'); }
    }));
    await all;
    if (!tTerm) { tTerm = Date.now(); roster.signal('SIGTERM'); }
    const exit = await waitExit(roster, EXIT_BOUND_MS);
    const exitMs = Date.now() - tTerm;
    const out = roster.output();
    const a = await afterExit(pgPid);
    const { users } = await listAll(roster.baseUrl);
    const stored = new Map(users.filter((u) => u.client_user_id.startsWith('burst-')).map((u) => [u.client_user_id, u.user_id]));
    const s = (st: Outcome['status']) => outcomes.filter((o) => o.status === st).length;
    // A create with no answer that was stored anyway was accepted and then cut off.
    const cutOff = outcomes.map((o, i) => (!isAnswer(o) && stored.has(`burst-${i}`) ? 1 : 0) as number).reduce((x, y) => x + y, 0);
    const refusedButStored = outcomes.map((o, i) => (isAnswer(o) && o.status !== 200 && stored.has(`burst-${i}`) ? 1 : 0) as number).reduce((x, y) => x + y, 0);
    const lost = [...acked].filter(([cid, id]) => stored.get(cid) !== id).length;
    const other = outcomes.filter((o) => isAnswer(o) && o.status !== 200 && o.status !== 503).length;
    const ok = cutOff === 0 && refusedButStored === 0 && lost === 0 && other === 0 && s('timeout') === 0 && exit !== 'timeout' && exit.code === 0
      && /stopped cleanly/.test(out) && a.pgGone && a.locksGone;
    reportReliability(t, {
      fault: 'sigterm-drain-burst',
      title: `SIGTERM after 20 of ${N} concurrent creates were answered`,
      kind: 'fault',
      backend: 'embedded',
      runs: 1,
      expected: 'each create answered 200, or 503 / connection refused if it arrived after closing began; none accepted and cut off; every 200 stored; exit 0 within 15 s with "stopped cleanly"; PostgreSQL stopped, locks released',
      observed: {
        requests: N, answered200: s(200), answered503: s(503), neverAccepted: s('neterror') - cutOff, cutOff, refusedButStored, otherStatuses: other, hangs: s('timeout'),
        lostAcknowledged: lost, exitCode: exit === 'timeout' ? 'timeout' : String(exit.code), maxExitMs: exitMs, postgresStopped: a.pgGone, locksReleased: a.locksGone, maxRestartMs: a.restartMs,
      },
      ok,
    });
    assert.equal(s('timeout'), 0, 'no request hung');
    assert.equal(other, 0, 'only 200 or 503');
    assert.equal(cutOff, 0, 'no accepted create was cut off');
    assert.equal(refusedButStored, 0);
    assert.equal(lost, 0, 'every 200 is stored');
    assert.notEqual(exit, 'timeout');
    assert.equal(exit !== 'timeout' && exit.code, 0, out.slice(-2000));
    assert.match(out, /stopped cleanly/);
    assert.ok(a.pgGone && a.locksGone, 'PostgreSQL stopped and the locks released');
  });
});
