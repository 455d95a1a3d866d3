// Crash safety with real processes (issue 6, item 3): Roster runs as `npm start` would run it,
// on embedded PostgreSQL, under a load of creates; it is killed with SIGKILL (alone, leaving its
// PostgreSQL orphaned; then together with its PostgreSQL, as a container kill would) and started
// again on the same DATA_DIR with no manual step. Every create that was answered 200 must be
// there exactly once. Then Idempotency-Key under concurrency and across such a crash.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  cleanupAll, createLoad, delay, isAlive, isAnswer, listAll, mapLimit, postmasterPid, send, startRoster, tempDir, verifyCreates,
  type CreateLoad, type Outcome, type RosterProcess,
} from './fixtures/harness.ts';
import { reportReliability } from './fixtures/report.ts';

const LOOPS = 30;
const LOAD_MS = 1500;

/** Lets the load run until it has some answers, then a fixed time more (bounded). */
async function loadFor(load: CreateLoad, ms: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (load.acked.size < 20 && Date.now() < deadline) await delay(50);
  assert.ok(load.acked.size >= 20, `the load got going (${load.acked.size} creates answered 200)`);
  await delay(ms);
}

describe('SIGKILL under a load of creates, embedded PostgreSQL', { timeout: 300_000 }, () => {
  let dataDir: string;
  let roster: RosterProcess;

  before(async () => {
    dataDir = path.join(tempDir(), 'data');
    roster = await startRoster({ dataDir });
  });
  after(cleanupAll);

  test('SIGKILL of the Roster process alone (its PostgreSQL orphaned): restart, every acknowledged create is there once', async (t) => {
    const prefix = 'kill-roster';
    const load = createLoad(roster.baseUrl, { loops: LOOPS, prefix });
    await loadFor(load, LOAD_MS);
    const pgPid = postmasterPid(dataDir)!;
    roster.signal('SIGKILL');
    await roster.exited;
    await load.stop();
    const orphaned = isAlive(pgPid);

    const t0 = Date.now();
    roster = await startRoster({ dataDir });
    const restartMs = Date.now() - t0;
    const v = await verifyCreates(roster.baseUrl, load, prefix);
    const ok = v.missing.length === 0 && v.wrongId.length === 0 && v.duplicates === 0 && v.phantoms.length === 0 && load.timeouts === 0;
    reportReliability(t, {
      fault: 'sigkill-roster-embedded',
      title: `SIGKILL of the Roster process under ${LOOPS} concurrent create loops; its embedded PostgreSQL left running (orphaned); restart on the same DATA_DIR`,
      kind: 'fault',
      backend: 'embedded',
      runs: 1,
      expected: 'restarts with no manual step; every create answered 200 resolves to the same user, exactly once; nothing stored that was refused',
      observed: {
        sent: load.sent(), acknowledged: v.acknowledged, found: v.found, duplicates: v.duplicates, phantoms: v.phantoms.length,
        inFlightAtKill: load.unanswered.size, committedButUnanswered: v.committedUnanswered, orphanStopped: !isAlive(pgPid), maxRestartMs: restartMs,
      },
      ok,
    });
    assert.ok(orphaned, 'the PostgreSQL of the killed Roster was still running (a real orphan)');
    assert.ok(!isAlive(pgPid), 'the restarted Roster stopped the orphaned PostgreSQL');
    assert.notEqual(postmasterPid(dataDir), pgPid);
    assert.equal(load.timeouts, 0, 'no request hung before the kill');
    assert.deepEqual(v.missing, [], 'every acknowledged create is stored');
    assert.deepEqual(v.wrongId, [], 'each resolves to the user that was acknowledged');
    assert.equal(v.duplicates, 0);
    assert.deepEqual(v.phantoms, [], 'no refused create was stored');
    assert.equal(v.total, v.listed);
  });

  // Shared by the next two tests: the idempotent traffic rides along with the plain load of the
  // "kill everything" case, so one crash and one restart serve both.
  const same = { client_user_id: 'idem-same' };
  const fireCopies = () => Promise.all(Array.from({ length: 20 }, () => send(roster.baseUrl, 'POST', '/v2/user', same, { 'idempotency-key': 'idem-same-key' })));
  const checkCopies = (answers: Outcome[], body: string) => {
    const bad = answers.filter((a) => !isAnswer(a) || (a.status !== 200 && a.status !== 409) || (a.status === 200 && a.text !== body));
    return { ok200: answers.filter((a) => a.status === 200).length, in409: answers.filter((a) => a.status === 409).length, bad: bad.length };
  };
  let copiesBefore: Outcome[] | null = null;
  let keyedLoad: CreateLoad | null = null;
  const KEYED = 'idem-load';

  test('SIGKILL of every process (Roster and its PostgreSQL, as a container kill): restart, every acknowledged create is there once', async (t) => {
    // The same idempotent create 20 times at once (checked in the next test).
    copiesBefore = await fireCopies();
    const prefix = 'kill-all';
    const before = (await listAll(roster.baseUrl)).total;
    const load = createLoad(roster.baseUrl, { loops: LOOPS, prefix });
    const keyed = createLoad(roster.baseUrl, { loops: 10, prefix: KEYED, idempotent: true });
    await loadFor(load, LOAD_MS);
    const pgPid = postmasterPid(dataDir)!;
    // PostgreSQL runs in its own process group: kill both groups at once.
    roster.signalGroup('SIGKILL');
    try { process.kill(-pgPid, 'SIGKILL'); } catch { /* gone */ }
    await roster.exited;
    await Promise.all([load.stop(), keyed.stop()]);
    keyedLoad = keyed;

    const t0 = Date.now();
    roster = await startRoster({ dataDir });
    const restartMs = Date.now() - t0;
    const v = await verifyCreates(roster.baseUrl, load, prefix);
    const keyedStored = v.users.filter((u) => u.client_user_id.startsWith(`${KEYED}-`)).length;
    const expectedTotal = before + v.acknowledged + v.committedUnanswered + keyedStored;
    const ok = v.missing.length === 0 && v.wrongId.length === 0 && v.duplicates === 0 && v.phantoms.length === 0 && load.timeouts === 0
      && v.total === expectedTotal;
    reportReliability(t, {
      fault: 'sigkill-all-embedded',
      title: `SIGKILL of Roster and its embedded PostgreSQL together under ${LOOPS} concurrent create loops (PostgreSQL crash recovery); restart on the same DATA_DIR`,
      kind: 'fault',
      backend: 'embedded',
      runs: 1,
      expected: 'restarts with no manual step; every create answered 200 resolves to the same user, exactly once; the total is the earlier total plus acknowledged plus committed-but-unanswered',
      observed: {
        sent: load.sent(), acknowledged: v.acknowledged, found: v.found, duplicates: v.duplicates, phantoms: v.phantoms.length,
        inFlightAtKill: load.unanswered.size, committedButUnanswered: v.committedUnanswered, maxRestartMs: restartMs,
      },
      ok,
    });
    assert.equal(load.timeouts, 0, 'no request hung before the kill');
    assert.deepEqual(v.missing, [], 'every acknowledged create is stored');
    assert.deepEqual(v.wrongId, [], 'each resolves to the user that was acknowledged');
    assert.equal(v.duplicates, 0, 'no duplicates');
    assert.deepEqual(v.phantoms, [], 'no refused create was stored');
    assert.equal(v.total, expectedTotal, 'nothing else was stored');
  });

  test('Idempotency-Key: 20 concurrent copies before and after that crash; keyed creates killed mid-flight, sent again with their keys', async (t) => {
    assert.ok(copiesBefore && keyedLoad, 'the previous test ran its idempotent traffic');
    const firstBody = copiesBefore.find((a) => a.status === 200) as { text: string; body: { user_id: string } } | undefined;
    assert.ok(firstBody, 'at least one copy was answered 200');
    const c1 = checkCopies(copiesBefore, firstBody.text);
    const load = keyedLoad;

    const attempted = [...new Set([...load.acked.keys(), ...load.unanswered, ...load.refused.keys()])];
    let replayedSame = 0;
    let changedReplay = 0;
    let notOk = 0;
    let alreadyExists = 0;
    await mapLimit(attempted, 16, async (cid) => {
      const r = await send(roster.baseUrl, 'POST', '/v2/user', { client_user_id: cid }, { 'idempotency-key': `key-${cid}` });
      if (!isAnswer(r) || r.status !== 200) {
        notOk++;
        if (isAnswer(r) && r.status === 400) alreadyExists++;
        return;
      }
      const original = load.ackedBodies.get(cid);
      if (original !== undefined) {
        if (r.text === original && r.headers.get('idempotent-replayed') === 'true') replayedSame++;
        else changedReplay++;
      }
    });
    const { users } = await listAll(roster.baseUrl);
    const stored = users.filter((u) => u.client_user_id.startsWith(`${KEYED}-`));
    const distinct = new Set(stored.map((u) => u.client_user_id)).size;

    // The 20 copies again, after the crash: all replays of the same user.
    const c2 = checkCopies(await fireCopies(), firstBody.text);
    const sameUsers = users.filter((u) => u.client_user_id === same.client_user_id);

    const ok = c1.bad === 0 && c2.bad === 0 && c2.ok200 === 20 && notOk === 0 && changedReplay === 0 && replayedSame === load.acked.size
      && stored.length === attempted.length && distinct === stored.length && sameUsers.length === 1 && sameUsers[0]!.user_id === firstBody.body.user_id;
    reportReliability(t, {
      fault: 'idempotency-concurrent-and-crash',
      title: 'Idempotency-Key: one create sent 20× concurrently (before and after a crash); 10 loops of keyed creates killed with every process (SIGKILL) and all sent again with their keys after restart',
      kind: 'fault',
      backend: 'embedded',
      runs: 1,
      expected: 'exactly one user per key; each copy answers the same 200 body, or 409 while the first is in flight (only then); after the crash every re-sent request answers 200, acknowledged ones replay their first body byte for byte; never "already exists"',
      observed: {
        copies: 40, copies200: c1.ok200 + c2.ok200, copies409: c1.in409 + c2.in409, copiesOther: c1.bad + c2.bad,
        keyedSent: attempted.length, acknowledgedBeforeKill: load.acked.size, replayedIdentical: replayedSame, replayChanged: changedReplay,
        resentNot200: notOk, alreadyExists, usersPerKeyMax: Math.max(sameUsers.length, stored.length - distinct + 1),
      },
      ok,
    });
    assert.equal(c1.bad, 0, 'before the crash: every copy is the same 200 or a 409');
    assert.equal(c2.bad, 0, 'after the crash: every copy is the same 200 or a 409');
    assert.equal(c2.ok200, 20, 'copies of a request that completed before are all replays, never 409');
    assert.equal(sameUsers.length, 1, 'one user for the key');
    assert.equal(sameUsers[0]!.user_id, firstBody.body.user_id, 'the user of the first answer');
    assert.equal(notOk, 0, `every keyed create sent again answers 200 (${alreadyExists} said "already exists")`);
    assert.equal(changedReplay, 0, 'acknowledged creates replay their first answer');
    assert.equal(replayedSame, load.acked.size, 'every acknowledged create replayed');
    assert.equal(stored.length, attempted.length, 'one user per keyed create');
    assert.equal(distinct, stored.length, 'no key made two users');
  });
});
