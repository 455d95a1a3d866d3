// Webhooks across crashes (issue 12): Roster runs as `npm start` runs it, on embedded PostgreSQL,
// with a standard endpoint on a slow receiver, under a load of creates. It is killed with SIGKILL
// while deliveries are in flight (alone; then together with its PostgreSQL) and started again on
// the same DATA_DIR. Every create committed before the kill must reach the receiver at least once,
// and nothing may ever be sent for a user that does not exist (a refused or rolled-back write).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cleanupAll, createLoad, delay, listAll, startRoster, tempDir, type RosterProcess } from './fixtures/harness.ts';
import { startReceiver, type Receiver } from '../support/receiver.ts';

const ADMIN = 'reliability-admin-token-0123456789';
const ENV = {
  ROSTER_ADMIN_TOKEN: ADMIN,
  ROSTER_WEBHOOK_ALLOW_HTTP: '1',
  ROSTER_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
  ROSTER_WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 30 }, () => '1').join(','),
  ROSTER_WEBHOOK_LEASE_S: '16',
};

describe('SIGKILL with webhook deliveries in flight, embedded PostgreSQL', { timeout: 400_000 }, () => {
  let dataDir: string;
  let roster: RosterProcess;
  let rx: Receiver;
  const created = new Set<string>();

  const admin = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`${roster.baseUrl}/admin${p}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, body: await r.json() as any };
  };
  const receivedCids = () => new Set(rx.received.map((r) => JSON.parse(r.body)).filter((e) => e.type === 'user.created').map((e) => e.data.client_user_id as string));

  before(async () => {
    dataDir = path.join(tempDir(), 'data');
    rx = await startReceiver();
    // Slow enough that deliveries are in flight when the kill comes.
    rx.respond = () => ({ status: 204, delayMs: 150 });
    roster = await startRoster({ dataDir, env: ENV });
    const teams = (await admin('GET', '/teams')).body.teams;
    const r = await admin('POST', `/teams/${teams[0].team_id}/webhooks`, { url: rx.url, format: 'standard' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  after(async () => {
    await cleanupAll();
    await rx?.close();
  });

  for (const mode of ['roster alone', 'roster and its PostgreSQL'] as const) {
    test(`SIGKILL of ${mode}: every committed create is delivered at least once after restart; nothing else is`, async (t) => {
      const prefix = mode === 'roster alone' ? 'wk1' : 'wk2';
      const load = createLoad(roster.baseUrl, { loops: 8, prefix });
      const deadline = Date.now() + 30_000;
      while ((load.acked.size < 40 || rx.received.length < 5) && Date.now() < deadline) await delay(50);
      assert.ok(load.acked.size >= 40, `the load got going (${load.acked.size})`);
      const receivedAtKill = rx.received.length;
      if (mode === 'roster alone') roster.signal('SIGKILL'); else roster.signalGroup('SIGKILL');
      await roster.exited;
      await load.stop();
      roster = await startRoster({ dataDir, env: ENV });

      // What committed: every user that exists now (acknowledged, or in flight and committed anyway).
      const { users } = await listAll(roster.baseUrl);
      const mine = users.filter((u) => u.client_user_id.startsWith(`${prefix}-`)).map((u) => u.client_user_id);
      for (const c of load.acked.keys()) assert.ok(mine.includes(c), `acknowledged create ${c} is stored`);
      for (const c of mine) created.add(c);
      await rx.waitFor(() => mine.every((c) => receivedCids().has(c)), 120_000, `every committed create of ${prefix} delivered`);
      await delay(1000);
      const got = receivedCids();
      const phantom = [...got].filter((c) => !created.has(c));
      assert.deepEqual(phantom, [], 'no event for a user that does not exist');
      const ids = rx.received.map((r) => String(r.headers['webhook-id']));
      const dupes = ids.length - new Set(ids).size;
      t.diagnostic(`${mode}: ${load.acked.size} acknowledged, ${mine.length} committed, ${receivedAtKill} received before the kill, ${dupes} duplicate deliveries so far (at-least-once)`);
    });
  }
});
