// The webhook rules that need no database: retry delays, what an answer means, SSRF address rules,
// signatures (checked against svix's and standardwebhooks' own signers), ids, filters.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { DEFAULT_RETRY_SCHEDULE, isRetriable, nextDelayMs, parseRetryAfter, parseRetrySchedule, disablesAtOnce } from '../../src/domain/webhooks/retry.ts';
import { AddressPolicy, canonicalIp, parseCidrs } from '../../src/domain/webhooks/ssrf.ts';
import { generateSecret, secretProblem, signedHeaders, renderOnvyBatch } from '../../src/domain/webhooks/render.ts';
import { endpointWants, newBatchId, newEventId, ulidTime } from '../../src/domain/webhooks/events.ts';
import { grantRequests } from '../../src/domain/webhooks/rate.ts';
import { Dispatcher, type AttemptRecord } from '../../src/domain/webhooks/dispatcher.ts';
import type { Delivery, Endpoint } from '../../src/domain/webhooks/ports.ts';
import { loadConfig } from '../../src/config.ts';

const answer = (statusCode: number, error: string | null = null, retryAfterS: number | null = null) => ({ statusCode, error, retryAfterS });

describe('retry schedule (contract §4)', () => {
  test('the Svix schedule, ±20 % jitter, then exhausted', () => {
    assert.deepEqual(DEFAULT_RETRY_SCHEDULE, [5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert.equal(nextDelayMs(DEFAULT_RETRY_SCHEDULE, 1, answer(500), () => 0.5), 5000);
    assert.equal(nextDelayMs(DEFAULT_RETRY_SCHEDULE, 1, answer(500), () => 0), 4000);
    assert.equal(nextDelayMs(DEFAULT_RETRY_SCHEDULE, 1, answer(500), () => 1), 6000);
    assert.equal(nextDelayMs(DEFAULT_RETRY_SCHEDULE, 7, answer(500), () => 0.5), 36_000_000);
    assert.equal(nextDelayMs(DEFAULT_RETRY_SCHEDULE, 8, answer(500)), null);
  });
  test('timeouts and 429 wait at least 60 s; Retry-After is honoured within [delay, 2 × delay]', () => {
    assert.equal(nextDelayMs([5], 1, answer(429), () => 0.5), 60_000);
    assert.equal(nextDelayMs([5], 1, answer(0, 'timeout'), () => 0.5), 60_000);
    assert.equal(nextDelayMs([300], 1, answer(503, null, 400), () => 0.5), 400_000);
    assert.equal(nextDelayMs([300], 1, answer(503, null, 10_000), () => 0.5), 600_000);
    assert.equal(nextDelayMs([300], 1, answer(503, null, 1), () => 0.5), 300_000);
    assert.equal(parseRetryAfter('120', new Date()), 120);
    assert.equal(parseRetryAfter(new Date(Date.now() + 30_000).toUTCString(), new Date())! > 25, true);
    assert.equal(parseRetryAfter('soon', new Date()), null);
  });
  test('what is retried per format; 410 disables standard only', () => {
    assert.ok(isRetriable('junction', answer(400)));
    assert.ok(!isRetriable('onvy', answer(400)));
    for (const s of [429, 500, 502, 503, 504]) assert.ok(isRetriable('onvy', answer(s)));
    assert.ok(isRetriable('onvy', answer(0, 'connection_error: ECONNREFUSED')));
    assert.ok(disablesAtOnce('standard', answer(410)));
    assert.ok(!disablesAtOnce('junction', answer(410)));
  });
  test('ROSTER_WEBHOOK_RETRY_SCHEDULE parsing', () => {
    assert.deepEqual(parseRetrySchedule('1, 2,3'), [1, 2, 3]);
    for (const bad of ['', 'a', '1,,2', '-1', '999999999']) assert.throws(() => parseRetrySchedule(bad));
  });
});

describe('SSRF address rules (contract §6)', () => {
  const p = new AddressPolicy({ allowHttp: false, allowCidrs: [] });
  test('private, loopback, link-local, metadata, reserved refused; public allowed', () => {
    for (const ip of ['10.0.0.1', '127.0.0.1', '169.254.169.254', '172.31.255.255', '192.168.0.1', '100.64.0.1', '0.0.0.0', '224.0.0.1', '240.0.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::a00:1', '2002:a00:1::1']) {
      assert.ok(p.addressProblem(ip), ip);
    }
    for (const ip of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(p.addressProblem(ip), null, ip);
    assert.equal(canonicalIp('::ffff:7f00:1'), '127.0.0.1');
  });
  test('allowed ranges exempt the address rule only; https unless allowed', () => {
    const dev = new AddressPolicy({ allowHttp: false, allowCidrs: parseCidrs('127.0.0.0/8, ::1/128') });
    assert.equal(dev.addressProblem('127.0.0.5'), null);
    assert.equal(dev.addressProblem('::1'), null);
    assert.ok(dev.addressProblem('10.0.0.1'));
    assert.match(dev.urlProblem('http://example.com/')!, /https/);
    assert.equal(new AddressPolicy({ allowHttp: true, allowCidrs: [] }).urlProblem('http://example.com/'), null);
    for (const u of ['https://user:pw@example.com/', 'https://localhost/', 'https://x.localhost/', 'https://metadata.google.internal/', 'ftp://example.com/', 'not a url']) assert.ok(p.urlProblem(u), u);
    assert.throws(() => parseCidrs('10.0.0.0/33'));
    assert.throws(() => parseCidrs('nonsense'));
  });
});

describe('signatures', () => {
  test('junction/standard headers equal what svix and standardwebhooks sign; onvy adds sha256 of the raw body', () => {
    const secret = generateSecret('junction');
    assert.equal(secretProblem('junction', secret), null);
    const body = '{"a":1}';
    const ts = Math.floor(Date.now() / 1000);
    const h = signedHeaders('junction', 'msg_1', ts, body, [secret]);
    assert.equal(h['svix-signature'], new SvixWebhook(secret).sign('msg_1', new Date(ts * 1000), body));
    const s = signedHeaders('standard', 'msg_2', ts, body, [secret]);
    assert.equal(s['webhook-signature'], new StandardWebhook(secret).sign('msg_2', new Date(ts * 1000), body));
    const o = signedHeaders('onvy', 'wh_1', ts, body, ['onvy-secret-0123456789']);
    assert.match(o['x-webhook-signature']!, /^sha256=[0-9a-f]{64}$/);
    assert.doesNotThrow(() => new StandardWebhook('onvy-secret-0123456789', { format: 'raw' }).verify(body, { 'webhook-id': o['webhook-id']!, 'webhook-timestamp': o['webhook-timestamp']!, 'webhook-signature': o['webhook-signature']! }));
    assert.ok(secretProblem('onvy', 'short'));
    assert.ok(secretProblem('junction', 'whsec_short'));
  });
  test('ids are ULIDs carrying their time; an Onvy batch body is the same bytes every time', () => {
    const t = Date.UTC(2026, 10, 24, 10, 0, 0);
    assert.match(newEventId(t), /^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
    const b = newBatchId(t);
    assert.equal(ulidTime(b), t);
    assert.equal(renderOnvyBatch(b, 'team', ['{"x":1}']), renderOnvyBatch(b, 'team', ['{"x":1}']));
    assert.equal(JSON.parse(renderOnvyBatch(b, 'team', ['{"x":1}'])).created_at, '2026-11-24T10:00:00Z');
  });
  test('filters: junction null = documented only; onvy lists; standard null = all', () => {
    assert.ok(endpointWants('junction', null, 'connection.created'));
    assert.ok(!endpointWants('junction', null, 'user.created'));
    assert.ok(endpointWants('junction', ['user.created'], 'user.created'));
    assert.ok(!endpointWants('onvy', null, 'user.created'));
    assert.ok(endpointWants('onvy', ['users:created'], 'user.restored'));
    assert.ok(!endpointWants('onvy', ['users:created'], 'device.created'));
    assert.ok(endpointWants('standard', null, 'device.created'));
  });
});

describe('rate_limit window and the operational webhook settings', () => {
  test('a one-second window per endpoint: what it allows, what it defers, a clock behind counts against the newer window', () => {
    const t = 1_700_000_000_500;
    const a = grantRequests(2, { window: null, used: 0 }, 5, t);
    assert.deepEqual([a.granted, a.next, a.deferUntilMs], [2, { window: 1_700_000_000, used: 2 }, 1_700_000_001_000]);
    assert.equal(grantRequests(2, a.next, 1, t + 400).granted, 0, 'the window is spent');
    assert.deepEqual(grantRequests(2, a.next, 3, t + 600).next, { window: 1_700_000_001, used: 2 }, 'a new second, a new window');
    const behind = grantRequests(2, { window: 1_700_000_001, used: 2 }, 1, t);
    assert.deepEqual([behind.granted, behind.deferUntilMs], [0, 1_700_000_002_000]);
  });

  test('ROSTER_OPERATIONAL_WEBHOOK_URL needs its secret, a whsec_ one; the secret alone is an error', () => {
    const secret = generateSecret('standard');
    assert.deepEqual(loadConfig({ ROSTER_OPERATIONAL_WEBHOOK_URL: 'http://alerts.internal:9000/roster', ROSTER_OPERATIONAL_WEBHOOK_SECRET: secret }).webhooks.operational,
      { url: 'http://alerts.internal:9000/roster', secret });
    assert.equal(loadConfig({}).webhooks.operational, null);
    assert.throws(() => loadConfig({ ROSTER_OPERATIONAL_WEBHOOK_URL: 'https://ops.example.com/' }), /ROSTER_OPERATIONAL_WEBHOOK_SECRET/);
    assert.throws(() => loadConfig({ ROSTER_OPERATIONAL_WEBHOOK_URL: 'https://ops.example.com/', ROSTER_OPERATIONAL_WEBHOOK_SECRET: 'short' }), /ROSTER_OPERATIONAL_WEBHOOK_SECRET/);
    assert.throws(() => loadConfig({ ROSTER_OPERATIONAL_WEBHOOK_URL: 'ftp://ops.example.com/', ROSTER_OPERATIONAL_WEBHOOK_SECRET: secret }), /http/);
    assert.throws(() => loadConfig({ ROSTER_OPERATIONAL_WEBHOOK_SECRET: secret }), /URL is not/);
    // The operator's own URL is exempt from the address rules a team's endpoint obeys.
    const op = new AddressPolicy({ allowHttp: true, allowCidrs: [], anyAddress: true });
    assert.equal(op.urlProblem('http://alerts.internal/x'), null);
    assert.equal(op.addressProblem('10.0.0.7'), null);
    assert.notEqual(op.urlProblem('http://u:p@alerts.internal/x'), null);
  });
});

describe('the dispatcher decides (contract §4): disabling after 5 days of failures, operational messages, audit entries', () => {
  const at = new Date('2026-12-07T12:00:00.000Z');
  const endpoint = (firstFailureAt: Date | null): Endpoint => ({
    teamId: '6b74423d-0504-4470-9afb-477252ccf67a', id: '0198f0a8-1c2d-7000-8000-0000000000aa', format: 'junction', url: 'https://hooks.example.com/x', description: '',
    filterTypes: null, headers: {}, secret: generateSecret('junction'), oldSecrets: [], rateLimit: null, disabled: false, disabledReason: null, firstFailureAt, createdAt: at, updatedAt: at,
  });
  const delivery = (attempts: number, alerted = false): Delivery => ({
    teamId: '6b74423d-0504-4470-9afb-477252ccf67a', id: '0198f0b0-0000-7000-8000-000000000001', eventId: newEventId(at.getTime()), eventType: 'connection.created', userId: '1449752e-0d8a-40e0-9206-91ab099b2537',
    endpointId: '0198f0a8-1c2d-7000-8000-0000000000aa', format: 'junction', batchId: null, payload: '{}', status: 'sending', attempts, manual: false, alerted, nextAttemptAt: at, lastStatusCode: null, createdAt: at, updatedAt: at,
  });
  const run = async (ep: Endpoint, d: Delivery, statusCode: number) => {
    const records: AttemptRecord[] = [];
    const store = { fanOut: async () => ({ events: 0, claimed: [], pending: 0 }), claim: async () => [], finish: async (r: AttemptRecord) => { records.push(r); } };
    const sender = { check: async () => null, post: async () => ({ statusCode, error: null, retryAfterS: null, durationMs: 5, excerpt: null }) };
    await new Dispatcher({ store, sender, schedule: DEFAULT_RETRY_SCHEDULE, now: () => at, operational: true }).deliver({ endpoint: ep, deliveries: [d], batchId: null });
    return records[0]!;
  };

  test('failing for 5 days disables (failing), fails the delivery, alerts and audits; less than 5 days only schedules the next attempt', async () => {
    const old = await run(endpoint(new Date(at.getTime() - 120 * 3600_000)), delivery(2), 500);
    assert.deepEqual(old.endpoint?.disabled, { reason: 'failing' });
    assert.equal(old.deliveries[0]!.status, 'failed');
    assert.deepEqual(old.operational!.map((m) => m.type), ['message.attempt.exhausted', 'endpoint.disabled']);
    assert.equal(JSON.parse(old.operational![1]!.payload).data.failSince, new Date(at.getTime() - 120 * 3600_000).toISOString());
    assert.deepEqual(old.audit!.map((a) => a.action), ['webhook.deliveryExhausted', 'webhook.endpointDisabled']);
    const recent = await run(endpoint(new Date(at.getTime() - 119 * 3600_000)), delivery(2), 500);
    assert.equal(recent.endpoint?.disabled, undefined);
    assert.equal(recent.deliveries[0]!.status, 'pending');
    assert.deepEqual([recent.operational, recent.audit], [[], []]);
  });

  test('the 4th failure sends failing; a success after an alert sends recovered and clears the failure clock', async () => {
    const fourth = await run(endpoint(at), delivery(4), 503);
    assert.deepEqual(fourth.operational!.map((m) => m.type), ['message.attempt.failing']);
    assert.equal(fourth.deliveries[0]!.alerted, true);
    const ok = await run(endpoint(at), delivery(5, true), 204);
    assert.deepEqual(ok.operational!.map((m) => m.type), ['message.attempt.recovered']);
    assert.deepEqual([ok.deliveries[0]!.status, ok.deliveries[0]!.alerted, ok.endpoint?.firstFailureAt], ['success', false, null]);
    const quiet = await run(endpoint(null), delivery(1), 204);
    assert.deepEqual([quiet.operational, quiet.endpoint], [[], null]);
  });
});

describe('custom headers shown back (headers.ts)', () => {
  test('credential-like values are masked; others shown as stored', async () => {
    const { maskedHeaders, HEADER_MASK } = await import('../../src/domain/webhooks/headers.ts');
    assert.deepEqual(maskedHeaders({ 'X-Team': 'north', Authorization: 'Bearer t', 'X-Api-Key': 'k', 'X-Session-Token': 's' }),
      { 'X-Team': 'north', Authorization: HEADER_MASK, 'X-Api-Key': HEADER_MASK, 'X-Session-Token': HEADER_MASK });
  });
  test('a mask sent back keeps the stored value of that header (any case); a new value or a plain header is taken as sent', async () => {
    const { unmaskHeaders, HEADER_MASK } = await import('../../src/domain/webhooks/headers.ts');
    const stored = { Authorization: 'Bearer t', 'X-Team': 'north' };
    assert.deepEqual(unmaskHeaders({ authorization: HEADER_MASK, 'X-Team': 'south' }, stored), { authorization: 'Bearer t', 'X-Team': 'south' });
    assert.deepEqual(unmaskHeaders({ Authorization: 'Bearer new' }, stored), { Authorization: 'Bearer new' });
    assert.deepEqual(unmaskHeaders({ 'X-Api-Key': HEADER_MASK }, stored), { 'X-Api-Key': HEADER_MASK }, 'nothing stored to keep');
    assert.deepEqual(unmaskHeaders({ 'X-Team': HEADER_MASK }, stored), { 'X-Team': HEADER_MASK }, 'not a credential: taken as typed');
  });
});
