// A server PostgreSQL restarted under load (issue 6, item 3): Roster (`npm start` as a child
// process) on a private PostgreSQL cluster made here from the machine's binaries — never the
// shared server other suites use. Under a read and write load the cluster is stopped (fast, then
// immediate), kept down, and started again: while it is away every request gets a 503 with a
// clear JSON body in bounded time (no hang, no crash), /readyz says 503, and Roster recovers by
// itself once the database is back.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_KEY, cleanupAll, delay, isAnswer, send, startCluster, startRoster, verifyCreates, waitExit,
  type Answer, type Outcome, type PgCluster, type RosterProcess,
} from './fixtures/harness.ts';
import { reportReliability } from './fixtures/report.ts';
import pg from 'pg';
import { buildApp, type BuiltApp } from '../../src/app.ts';
import { createDb, type Db } from '../../src/db/pool.ts';

type Kind = 'create' | 'create-idempotent' | 'get' | 'list' | 'onvy-list' | 'basic-list';
interface Rec { kind: Kind; t0: number; t1: number; o: Outcome; cid?: string }

/**
 * Writers create users (every fourth with an Idempotency-Key); readers get acknowledged users and
 * list them on every face (Junction, Onvy, basic). Loops go on through errors, slowed on non-200.
 */
function mixedLoad(baseUrl: string, o: { writers: number; readers: number; prefix: string }) {
  const recs: Rec[] = [];
  const acked = new Map<string, string>();
  const unanswered = new Set<string>();
  let stopped = false;
  const ids: string[] = [];
  const writers = Array.from({ length: o.writers }, async (_, w) => {
    const keyed = w % 4 === 0;
    for (let i = 0; !stopped; i++) {
      const cid = `${o.prefix}-${w}-${i}`;
      const t0 = Date.now();
      const r = await send(baseUrl, 'POST', '/v2/user', { client_user_id: cid }, keyed ? { 'idempotency-key': `k-${cid}` } : {});
      recs.push({ kind: keyed ? 'create-idempotent' : 'create', t0, t1: Date.now(), o: r, cid });
      if (r.status === 200) { acked.set(cid, (r as Answer).body.user_id); ids.push((r as Answer).body.user_id); }
      else { if (!isAnswer(r)) unanswered.add(cid); await delay(25); }
    }
  });
  const readers = Array.from({ length: o.readers }, async (_, n) => {
    for (let i = 0; !stopped; i++) {
      const t0 = Date.now();
      const k = (i + n) % 4;
      const kind: Kind = k === 1 ? 'list' : k === 2 ? 'onvy-list' : k === 3 ? 'basic-list' : ids.length ? 'get' : 'list';
      const r = kind === 'get' ? await send(baseUrl, 'GET', `/v2/user/${ids[Math.floor(Math.random() * ids.length)]}`)
        : kind === 'list' ? await send(baseUrl, 'GET', '/v2/user?limit=10')
        : kind === 'onvy-list' ? await send(baseUrl, 'GET', '/onvy/users', undefined, { 'x-api-key': API_KEY })
        : await send(baseUrl, 'GET', '/basic/users', undefined, { authorization: `Bearer ${API_KEY}` });
      recs.push({ kind, t0, t1: Date.now(), o: r });
      if (r.status !== 200) await delay(25);
    }
  });
  const all = Promise.all([...writers, ...readers]);
  return { recs, acked, unanswered, async stop() { stopped = true; await all; } };
}

/** A 503 in the face's own error shape, saying what is wrong, with Retry-After. */
function clear503(r: Rec): boolean {
  const o = r.o;
  if (!isAnswer(o) || o.status !== 503 || o.headers.get('retry-after') === null || typeof o.body !== 'object' || o.body === null) return false;
  const message = r.kind === 'onvy-list' ? o.body.error?.message : r.kind === 'basic-list' ? o.body.message : o.body.detail;
  return typeof message === 'string' && /unavailable|cannot be reached|try again|retry/i.test(message);
}

describe('server PostgreSQL stopped and started under load', { timeout: 240_000 }, () => {
  let cluster: PgCluster;
  let roster: RosterProcess;

  before(async () => {
    cluster = await startCluster();
    roster = await startRoster({ databaseUrl: cluster.url });
  });
  after(cleanupAll);

  for (const mode of ['fast', 'immediate'] as const) {
    test(`pg_ctl stop -m ${mode}: 503 with a clear body while it is away, no hang, no crash; recovers by itself`, async (t) => {
      const load = mixedLoad(roster.baseUrl, { writers: 8, readers: 8, prefix: `restart-${mode}` });
      await delay(800);
      await cluster.stop(mode);
      const tStop1 = Date.now();
      await delay(300);
      const readyDown = await send(roster.baseUrl, 'GET', '/readyz');
      await delay(1200);
      const aliveWhileDown = roster.running();
      const tStart0 = Date.now();
      await cluster.start();
      const tStart1 = Date.now();

      // Recovered: a create and /readyz answer 200 again (bounded).
      let recoveredAt = 0;
      let readyUp: Outcome | null = null;
      for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
        const c = await send(roster.baseUrl, 'POST', '/v2/user', { client_user_id: `probe-${mode}-${Date.now()}` });
        readyUp = await send(roster.baseUrl, 'GET', '/readyz');
        if (c.status === 200 && readyUp.status === 200) { recoveredAt = Date.now(); break; }
        await delay(100);
      }
      await delay(1000);
      await load.stop();

      const recs = load.recs;
      const down = recs.filter((r) => r.t0 >= tStop1 && r.t1 <= tStart0);
      const after = recs.filter((r) => recoveredAt && r.t0 >= recoveredAt + 200);
      const hangs = recs.filter((r) => r.o.status === 'timeout').length;
      const netErrors = recs.filter((r) => r.o.status === 'neterror').length;
      const unexpected = recs.filter((r) => isAnswer(r.o) && r.o.status !== 200 && r.o.status !== 503);
      const unclear503 = recs.filter((r) => r.o.status === 503 && !clear503(r)).length;
      const downNot503 = down.filter((r) => r.o.status !== 503);
      const afterNot200 = after.filter((r) => r.o.status !== 200);
      const maxDownMs = Math.max(0, ...down.map((r) => r.t1 - r.t0));
      const v = roster.running() ? await verifyCreates(roster.baseUrl, load, `restart-${mode}`).catch(() => null) : null;

      const ok = aliveWhileDown && roster.running() && hangs === 0 && netErrors === 0 && unexpected.length === 0 && unclear503 === 0
        && downNot503.length === 0 && readyDown.status === 503 && recoveredAt > 0 && afterNot200.length === 0
        && v !== null && v.missing.length === 0 && v.duplicates === 0;
      reportReliability(t, {
        fault: `server-pg-stop-${mode}`,
        title: `Server PostgreSQL stopped (pg_ctl stop -m ${mode}) under 8 create loops (2 with Idempotency-Key) and 8 read loops on the Junction, Onvy and basic faces, down about 1.5 s, started again`,
        kind: 'fault',
        backend: `private PostgreSQL ${cluster.version}`,
        runs: 1,
        expected: 'while down: every request on every face a 503 in that face\'s error shape, with Retry-After, in bounded time (10 s), /readyz 503, the process alive; afterwards 200s again without intervention; acknowledged creates all stored',
        observed: {
          requests: recs.length, whileDown: down.length, whileDown503: down.length - downNot503.length, hangs, connectionErrors: netErrors,
          otherStatuses: unexpected.length, unclear503, maxDownAnswerMs: maxDownMs, readyzWhileDown: readyDown.status,
          maxRecoveryMs: recoveredAt ? recoveredAt - tStart1 : -1, afterRecoveryNot200: afterNot200.length,
          acknowledged: load.acked.size, found: v?.found ?? -1, processAlive: roster.running(),
        },
        ok,
      });
      assert.ok(aliveWhileDown && roster.running(), `Roster did not crash: ${roster.output().slice(-2000)}`);
      assert.equal(hangs, 0, 'no request hung (10 s bound)');
      assert.equal(netErrors, 0, 'no connection was dropped');
      assert.deepEqual(unexpected.map((r) => `${r.kind} ${r.o.status} ${(r.o as Answer).text}`), [], 'only 200 or 503');
      assert.equal(unclear503, 0, 'every 503 is in the face\'s shape, says the service is unavailable, and has Retry-After');
      assert.deepEqual(downNot503.map((r) => r.o.status), [], 'every request while down is a 503');
      assert.equal(readyDown.status, 503);
      assert.equal((readyDown as Answer).body?.status, 'unavailable');
      assert.ok(recoveredAt > 0, `recovered within 20 s of the database being back (readyz ${readyUp?.status})`);
      assert.deepEqual(afterNot200.map((r) => `${r.kind} ${r.o.status}`), [], 'all 200 after recovery');
      assert.ok(v, 'the users could be listed afterwards');
      assert.deepEqual(v.missing, []);
      assert.equal(v.duplicates, 0);
    });
  }

  // In process, with short timeouts (statement 2 s, client-side 3 s) so the bounds show quickly;
  // Roster's defaults are 15 s and 20 s.
  async function inProcess(): Promise<{ built: BuiltApp; baseUrl: string; db: Db }> {
    const db = createDb({ url: cluster.url, max: 20, statementTimeoutMillis: 2000, queryTimeoutMillis: 3000 });
    const built = await buildApp({ db, databaseUrl: cluster.url, logLevel: 'silent', rateLimitPerMinute: 10_000_000, basicRateLimit: { max: 10_000_000, windowMs: 60_000 } });
    await built.services.teams.ensureBootstrap(API_KEY);
    return { built, db, baseUrl: await built.app.listen({ port: 0, host: '127.0.0.1' }) };
  }

  test('a frozen server PostgreSQL (every process SIGSTOPped, like a network partition): bounded 503s, recovery after SIGCONT', async (t) => {
    const { built, baseUrl, db } = await inProcess();
    try {
      const load = mixedLoad(baseUrl, { writers: 8, readers: 8, prefix: 'freeze' });
      await delay(800);
      cluster.freeze(true);
      const tFrozen = Date.now();
      const readyDown = await send(baseUrl, 'GET', '/readyz');
      await delay(Math.max(0, tFrozen + 7000 - Date.now())); // longer than every client-side bound
      cluster.freeze(false);
      const tThawed = Date.now();
      let recoveredAt = 0;
      for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
        const c = await send(baseUrl, 'POST', '/v2/user', { client_user_id: `probe-freeze-${Date.now()}` });
        if (c.status === 200 && (await send(baseUrl, 'GET', '/readyz')).status === 200) { recoveredAt = Date.now(); break; }
        await delay(100);
      }
      await delay(1000);
      await load.stop();
      const recs = load.recs;
      // Started and answered while the database was frozen (the probe of /readyz is one of them).
      const frozen = recs.filter((r) => r.t0 >= tFrozen && r.t1 <= tThawed);
      const hangs = recs.filter((r) => r.o.status === 'timeout').length;
      const unexpected = recs.filter((r) => r.o.status !== 200 && r.o.status !== 503);
      const unclear503 = recs.filter((r) => r.o.status === 503 && !clear503(r)).length;
      const after = recs.filter((r) => recoveredAt && r.t0 >= recoveredAt + 200 && r.o.status !== 200);
      const v = await verifyCreates(baseUrl, load, 'freeze').catch(() => null);
      // Keyed creates refused while frozen, sent again with their keys: a real answer each (a
      // connection reused after a client-side timeout could have committed half of one).
      const keyedRefused = recs.filter((r) => r.kind === 'create-idempotent' && r.o.status !== 200);
      let keyedRetryBad = 0;
      for (const r of keyedRefused) {
        const a = await send(baseUrl, 'POST', '/v2/user', { client_user_id: r.cid }, { 'idempotency-key': `k-${r.cid}` });
        if (a.status !== 200 || typeof (a as Answer).body?.user_id !== 'string') keyedRetryBad++;
      }
      const ok = keyedRetryBad === 0 && hangs === 0 && unexpected.length === 0 && unclear503 === 0 && frozen.every((r) => r.o.status === 503)
        && readyDown.status === 503 && recoveredAt > 0 && after.length === 0 && v !== null && v.missing.length === 0 && v.duplicates === 0;
      reportReliability(t, {
        fault: 'server-pg-frozen',
        title: 'Server PostgreSQL frozen for 7 s (SIGSTOP of every process: connections open, nothing answers) under 8 create and 8 read loops, then SIGCONT',
        kind: 'fault',
        backend: `private PostgreSQL ${cluster.version}`,
        runs: 1,
        expected: 'every request answered within the 10 s bound (503 while frozen: client-side query timeout, connect timeout), /readyz 503; 200s again after the thaw; acknowledged creates stored; keyed creates refused while frozen succeed when sent again with their key (a plain create answered 503 may still have committed: the answer to a statement sent to a frozen server is unknowable)',
        observed: {
          requests: recs.length, whileFrozen: frozen.length, whileFrozen503: frozen.filter((r) => r.o.status === 503).length, hangs,
          otherStatuses: unexpected.length, unclear503, maxAnswerMs: Math.round(Math.max(...recs.map((r) => r.t1 - r.t0))), readyzWhileFrozen: readyDown.status,
          maxRecoveryMs: recoveredAt ? recoveredAt - tThawed : -1, afterRecoveryNot200: after.length, acknowledged: load.acked.size, found: v?.found ?? -1,
          committedDespite503: v?.phantoms.length ?? -1, keyedRefusedRetried: keyedRefused.length, keyedRetryNot200: keyedRetryBad,
        },
        ok,
      });
      assert.equal(hangs, 0, 'no request hung (10 s bound)');
      assert.equal(keyedRetryBad, 0, 'keyed creates refused while frozen succeed when sent again with their key');
      assert.deepEqual(unexpected.map((r) => `${r.kind} ${r.o.status} ${(r.o as Answer).text ?? ''}`), [], 'only 200 or 503');
      assert.equal(unclear503, 0);
      assert.deepEqual(frozen.filter((r) => r.o.status !== 503).map((r) => `${r.kind} ${r.o.status}`), [], 'every request while frozen is a 503');
      assert.equal(readyDown.status, 503);
      assert.ok(recoveredAt > 0, 'recovered after the thaw');
      assert.deepEqual(after.map((r) => `${r.kind} ${r.o.status}`), []);
      assert.ok(v, 'the users could be listed afterwards');
      assert.deepEqual(v.missing, []);
      assert.equal(v.duplicates, 0);
    } finally {
      cluster.freeze(false);
      await built.close();
      await db.close();
    }
  });

  test('a table lock held past statement_timeout: the requests behind it get a 503, not a 500', async (t) => {
    const { built, baseUrl, db } = await inProcess();
    const locker = new pg.Client({ connectionString: cluster.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table users in share row exclusive mode'); // blocks inserts, not reads
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(baseUrl, 'POST', '/v2/user', { client_user_id: `locked-${i}` }, i % 2 ? { 'idempotency-key': `locked-${i}` } : {})));
      await locker.query('rollback');
      const ok503 = answers.filter((a) => a.status === 503 && clear503({ kind: 'create', t0: 0, t1: 0, o: a })).length;
      const after = await send(baseUrl, 'POST', '/v2/user', { client_user_id: 'locked-0' });
      reportReliability(t, {
        fault: 'statement-timeout',
        title: 'Creates (half with Idempotency-Key) stuck behind a table lock held longer than statement_timeout',
        kind: 'fault',
        backend: `private PostgreSQL ${cluster.version}`,
        runs: 1,
        expected: '503 with Retry-After (the database could not do it in time), not 500; nothing stored; the same create succeeds once the lock is gone',
        observed: { requests: answers.length, answered503: ok503, statuses: [...new Set(answers.map((a) => a.status))].join('/'), createAfterwards: after.status },
        ok: ok503 === answers.length && after.status === 200,
      });
      assert.deepEqual(answers.map((a) => a.status), answers.map(() => 503));
      assert.equal(ok503, answers.length);
      assert.equal(after.status, 200, 'nothing was stored by the timed-out creates');
    } finally {
      await locker.end().catch(() => {});
      await built.close();
      await db.close();
    }
  });

  test('after the outages, SIGTERM still stops it cleanly', async () => {
    roster.signal('SIGTERM');
    const r = await waitExit(roster, 15_000);
    assert.notEqual(r, 'timeout', 'exited within 15 s');
    assert.equal((r as { code: number | null }).code, 0, roster.output().slice(-2000));
  });
});
