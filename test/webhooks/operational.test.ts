// Operational webhooks (contract §4 "Exhaustion"): the operator's endpoint
// (ROSTER_OPERATIONAL_WEBHOOK_URL, Standard Webhooks, verified here with `standardwebhooks`) hears
// Svix's message.attempt.failing (after the 4th failure), message.attempt.exhausted,
// message.attempt.recovered and endpoint.disabled, in svix-server's shapes; a refused operational
// POST is retried (at least once); a hanging operational receiver holds no delivery back.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { adminClient, eventually, startReceiver, TEST_WEBHOOKS, type Receiver, type Received } from '../support/receiver.ts';
import { generateSecret } from '../../src/domain/webhooks/render.ts';

const ADMIN = 'admin-token-for-webhook-tests';
// Five attempts, 0.2 s apart: failing after the 4th, exhausted after the 5th.
const SCHEDULE = [0.2, 0.2, 0.2, 0.2];
const OP_SECRET = generateSecret('standard');
const hdrs = (r: Received) => Object.fromEntries(['id', 'timestamp', 'signature'].map((k) => [`webhook-${k}`, String(r.headers[`webhook-${k}`])]));

for (const backend of backends()) {
  describe(`operational webhooks (${backend.name})`, { timeout: 120_000 }, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let op: Receiver;
    let admin: ReturnType<typeof adminClient>;
    /** The operational messages received, verified with standardwebhooks (throws when one does not verify). */
    const ops = () => op.received.map((r) => ({ id: String(r.headers['webhook-id']), ...(new StandardWebhook(OP_SECRET).verify(r.body, hdrs(r)) as { type: string; timestamp: string; data: any }) }));
    const createUser = (apiKey: string, cid: string) => fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: cid }) });

    before(async () => {
      tdb = await freshDatabase(backend);
      op = await startReceiver();
      srv = await startServer(tdb, { logLevel: 'silent', adminToken: ADMIN, webhooks: { ...TEST_WEBHOOKS, retrySchedule: SCHEDULE, operational: { url: op.url, secret: OP_SECRET } } });
      admin = adminClient(srv.baseUrl, ADMIN);
    });
    after(async () => {
      // The operational receiver first: it drops what it still holds, so the server's close does not wait for it.
      await op?.close();
      await srv?.close();
      await tdb?.drop();
    });

    test('failing after 4 failures, exhausted after the last, recovered after recover; a refused operational POST is sent again', async () => {
      const rx = await startReceiver();
      let status = 500;
      rx.respond = () => ({ status });
      // The operator's endpoint refuses its first message once: it comes again, same id.
      op.respond = (_r, n) => ({ status: n === 0 ? 503 : 204 });
      try {
        const t = await srv.newTeam();
        const ep = (await admin('POST', `/teams/${t.teamId}/webhooks`, { url: rx.url, format: 'standard' })).body;
        assert.equal((await createUser(t.apiKey, 'op-1')).status, 200);
        // No order is promised: the refused failing message may come again after the exhausted one.
        await op.waitFor(() => ops().some((m) => m.type === 'message.attempt.exhausted') && ops().filter((m) => m.type === 'message.attempt.failing').length >= 2, 20_000, 'failing twice and exhausted');
        assert.equal(rx.received.length, 5);
        const msgId = String(rx.received[0]!.headers['webhook-id']);
        const failing = ops().filter((m) => m.type === 'message.attempt.failing');
        const exhausted = ops().filter((m) => m.type === 'message.attempt.exhausted');
        assert.ok(failing.length >= 2 && new Set(failing.map((m) => m.id)).size === 1, 'the refused first message was sent again with its id');
        assert.equal(exhausted.length, 1);
        const [d] = (await admin('GET', `/teams/${t.teamId}/webhooks/${ep.id}/deliveries`)).body.deliveries;
        const attempts = (await admin('GET', `/teams/${t.teamId}/webhook-deliveries/${d.id}`)).body.attempts as any[];
        // svix-server's MessageAttemptEvent, camelCase, in a Standard Webhooks envelope.
        assert.deepEqual(failing[0]!.data, {
          appId: t.teamId, appUid: null, msgId, msgEventId: null, endpointId: ep.id,
          lastAttempt: { id: attempts[3].id, responseStatusCode: 500, timestamp: attempts[3].started_at },
        });
        assert.equal(exhausted[0]!.data.lastAttempt.id, attempts[4].id);
        assert.equal(exhausted[0]!.data.msgId, msgId);
        assert.match(exhausted[0]!.timestamp, /^\d{4}-\d\d-\d\dT/);
        assert.match(exhausted[0]!.id, /^msg_[0-9A-HJKMNP-TV-Z]{26}$/);

        status = 200;
        assert.deepEqual((await admin('POST', `/teams/${t.teamId}/webhooks/${ep.id}/recover`, { since: new Date(Date.now() - 60_000).toISOString() })).body, { requeued: 1 });
        await op.waitFor(() => ops().some((m) => m.type === 'message.attempt.recovered'), 20_000, 'recovered');
        const rec = ops().find((m) => m.type === 'message.attempt.recovered')!;
        assert.equal(rec.data.msgId, msgId);
        assert.equal(rec.data.lastAttempt.responseStatusCode, 200);
        // A delivery that never needed an alert sends none when it succeeds.
        const before = op.received.length;
        assert.equal((await createUser(t.apiKey, 'op-2')).status, 200);
        await rx.waitFor((all) => all.some((r) => JSON.parse(r.body).data.client_user_id === 'op-2'));
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(op.received.length, before);
      } finally { await rx.close(); }
    });

    test('endpoint.disabled when an endpoint is disabled automatically (410 Gone)', async () => {
      const rx = await startReceiver();
      rx.respond = () => ({ status: 410 });
      try {
        const t = await srv.newTeam();
        const ep = (await admin('POST', `/teams/${t.teamId}/webhooks`, { url: rx.url, format: 'standard' })).body;
        assert.equal((await createUser(t.apiKey, 'gone-op')).status, 200);
        await op.waitFor(() => ops().some((m) => m.type === 'endpoint.disabled' && m.data.endpointId === ep.id), 20_000, 'endpoint.disabled');
        const m = ops().find((x) => x.type === 'endpoint.disabled' && x.data.endpointId === ep.id)!;
        assert.deepEqual(Object.keys(m.data).sort(), ['appId', 'appUid', 'endpointId', 'endpointUid', 'failSince', 'trigger']);
        assert.equal(m.data.appId, t.teamId);
        assert.equal(m.data.trigger, 'automatic');
        assert.ok(Date.parse(m.data.failSince) <= Date.parse(m.timestamp));
        assert.ok(ops().some((x) => x.type === 'message.attempt.exhausted' && x.data.endpointId === ep.id), 'its delivery failed for good');
        assert.equal((await admin('GET', `/teams/${t.teamId}/webhooks/${ep.id}`)).body.disabled_reason, 'gone');
      } finally { await rx.close(); }
    });

    test('a hanging operational endpoint holds no delivery back', async () => {
      const bad = await startReceiver();
      const good = await startReceiver();
      bad.respond = () => ({ status: 410 });
      let held = 0;
      // Held far longer than the test takes; answered only when the receiver closes.
      op.respond = () => { held++; return { status: 204, delayMs: 60_000 }; };
      try {
        const t = await srv.newTeam();
        await admin('POST', `/teams/${t.teamId}/webhooks`, { url: bad.url, format: 'standard' });
        assert.equal((await createUser(t.apiKey, 'hang-1')).status, 200);
        // The operational POSTs (exhausted, endpoint.disabled) are in flight and unanswered…
        await eventually(async () => held >= 1, 'an operational request');
        const answered = op.received.length;
        // …while another team's deliveries go on.
        const u = await srv.newTeam();
        await admin('POST', `/teams/${u.teamId}/webhooks`, { url: good.url, format: 'standard' });
        for (let i = 0; i < 3; i++) assert.equal((await createUser(u.apiKey, `flow-${i}`)).status, 200);
        await good.waitFor((all) => all.length === 3, 20_000);
        assert.equal(op.received.length, answered, 'delivered while the operational endpoint still had not answered');
      } finally { op.respond = () => ({ status: 204 }); await bad.close(); await good.close(); }
    });
  });
}
