// Webhooks end to end (issue 12 "done when"): endpoints registered through the admin API, changes
// made through each face (Junction with the official SDK, Onvy, basic) and each record type, and
// receivers on 127.0.0.1 verifying every format with the real verifiers: `svix` (as a Junction
// customer's handler does), `standardwebhooks`, and Onvy's documented HMAC check.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { VitalClient } from '@tryvital/vital-node';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { startReceiver, TEST_WEBHOOKS, type Receiver, type Received } from '../support/receiver.ts';
import { insuranceBody } from '../support/records.ts';

const ADMIN = 'admin-token-for-webhook-tests';
const json = (r: Received) => JSON.parse(r.body) as Record<string, any>;

/** Onvy's documented verifier: "sha256=" + hex HMAC-SHA256(secret, raw body), constant-time compare. */
function onvyVerify(secret: string, raw: string, header: string | undefined): boolean {
  const want = Buffer.from(`sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(raw).digest('hex')}`);
  const got = Buffer.from(header ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}
/** As a Junction customer's handler does with svix 2.x: verify (throws when it does not hold), then parse. */
function svixVerify(secret: string, body: string, headers: Record<string, string>): Record<string, any> {
  new SvixWebhook(secret).verify(body, headers);
  return JSON.parse(body);
}
const svixHeaders = (r: Received) => ({ 'svix-id': String(r.headers['svix-id']), 'svix-timestamp': String(r.headers['svix-timestamp']), 'svix-signature': String(r.headers['svix-signature']) });
const stdHeaders = (r: Received) => ({ 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) });

for (const backend of backends()) {
  describe(`webhooks from every face, verified by the real verifiers (${backend.name})`, { timeout: 120_000 }, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let team: { teamId: string; apiKey: string };
    let other: { teamId: string; apiKey: string };
    const rx: Record<'junction' | 'junctionExt' | 'standard' | 'onvy' | 'otherJ' | 'otherS', Receiver> = {} as never;
    const secrets: Record<string, string> = {};

    const admin = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${srv.baseUrl}/admin${path}`, {
        method, headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    };
    const register = async (teamId: string, name: string, body: Record<string, unknown>) => {
      const r = await admin('POST', `/teams/${teamId}/webhooks`, body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      secrets[name] = r.body.secret;
      return r.body;
    };

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent', adminToken: ADMIN, webhooks: TEST_WEBHOOKS });
      team = await srv.newTeam('wh-team');
      other = await srv.newTeam('wh-other');
      for (const k of Object.keys({ junction: 1, junctionExt: 1, standard: 1, onvy: 1, otherJ: 1, otherS: 1 }) as (keyof typeof rx)[]) rx[k] = await startReceiver();
      await register(team.teamId, 'junction', { url: rx.junction.url, format: 'junction' });
      await register(team.teamId, 'junctionExt', { url: rx.junctionExt.url, format: 'junction', filter_types: ['user.created', 'user.updated', 'user.deleted', 'user.undeleted', 'provider.connection.created', 'provider.connection.deleted'] });
      await register(team.teamId, 'standard', { url: rx.standard.url, format: 'standard' });
      await register(team.teamId, 'onvy', { url: rx.onvy.url, format: 'onvy', secret: 'onvy-shared-secret-0123456789', filter_types: ['users:created', 'users:updated', 'users:deleted', 'users.data_syncs:updated'] });
      await register(other.teamId, 'otherJ', { url: rx.otherJ.url, format: 'junction', filter_types: null });
      await register(other.teamId, 'otherS', { url: rx.otherS.url, format: 'standard' });
    });
    after(async () => {
      await srv?.close();
      for (const r of Object.values(rx)) await r?.close();
      await tdb?.drop();
    });

    test('Junction SDK demo connection → provider.connection.created and provider.device.created, verified with svix', async () => {
      const client = new VitalClient({ apiKey: team.apiKey, baseUrl: srv.baseUrl, maxRetries: 0 });
      const { userId } = await client.user.create({ clientUserId: 'patient-42' });
      await client.link.connectDemoProvider({ userId, provider: 'oura' });
      await rx.junction.waitFor((all) => all.some((r) => json(r).event_type === 'provider.device.created') && all.some((r) => json(r).event_type === 'provider.connection.created'));
      // The handler as Junction's documentation writes it: new Webhook(secret).verify(payload, headers).
      const created = rx.junction.received.find((r) => json(r).event_type === 'provider.connection.created')!;
      const ev = svixVerify(secrets.junction!, created.body, svixHeaders(created));
      assert.equal(ev.event_type, 'provider.connection.created');
      assert.equal(ev.user_id, userId);
      assert.equal(ev.client_user_id, 'patient-42');
      assert.equal(ev.team_id, team.teamId);
      assert.equal(ev.data.user_id, userId);
      assert.deepEqual(ev.data.provider, { name: 'Oura', slug: 'oura', logo: 'https://storage.googleapis.com/vital-assets/oura.png' });
      assert.deepEqual(ev.data.source, ev.data.provider);
      assert.equal(ev.data.external_user_id, null);
      assert.deepEqual(ev.data.resource_availability.sleep, { status: 'available', scope_requirements: null });
      assert.match(String(created.headers['svix-id']), /^msg_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(created.headers['content-type'], 'application/json');
      assert.match(String(created.headers['user-agent']), /^Roster-Webhooks\//);

      const device = rx.junction.received.find((r) => json(r).event_type === 'provider.device.created')!;
      const d = svixVerify(secrets.junction!, device.body, svixHeaders(device));
      const devices = await client.user.getDevices(userId) as unknown as Array<{ id: string }>;
      assert.equal(d.data.id, devices[0]!.id);
      assert.equal(d.data.provider, 'oura');
      assert.equal(d.data.user_id, userId);
      assert.equal(d.data.source_type, 'ring');

      // Only Junction's documented types reach a junction endpoint that filters nothing.
      assert.ok(rx.junction.received.every((r) => ['provider.connection.created', 'provider.device.created', 'provider.connection.error'].includes(json(r).event_type)));
      // The extension endpoint asked for user.created: it gets it, with the SDK's ids.
      await rx.junctionExt.waitFor((all) => all.some((r) => json(r).event_type === 'user.created' && json(r).user_id === userId));
      const uc = rx.junctionExt.received.find((r) => json(r).event_type === 'user.created' && json(r).user_id === userId)!;
      assert.equal(svixVerify(secrets.junctionExt!, uc.body, svixHeaders(uc)).data.client_user_id, 'patient-42');

      // A repeated demo connection changes nothing and sends nothing new.
      const before = rx.junction.received.length;
      await client.link.connectDemoProvider({ userId, provider: 'oura' });
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(rx.junction.received.length, before);
    });

    test('a tampered body, an old timestamp or a wrong secret fail verification (svix and standardwebhooks)', async () => {
      const r = rx.junction.received[0]!;
      const wh = new SvixWebhook(secrets.junction!);
      assert.doesNotThrow(() => wh.verify(r.body, svixHeaders(r)));
      assert.throws(() => wh.verify(r.body.replace('"oura"', '"fitbit"'), svixHeaders(r)));
      assert.throws(() => wh.verify(`${r.body} `, svixHeaders(r)));
      const old = { ...svixHeaders(r), 'svix-timestamp': String(Math.floor(Date.now() / 1000) - 600) };
      assert.throws(() => wh.verify(r.body, old));
      assert.throws(() => new SvixWebhook(secrets.junctionExt!).verify(r.body, svixHeaders(r)));
      await rx.standard.waitFor((all) => all.length > 0);
      const s = rx.standard.received[0]!;
      const std = new StandardWebhook(secrets.standard!);
      assert.doesNotThrow(() => std.verify(s.body, stdHeaders(s)));
      assert.throws(() => std.verify(s.body.replace('"type":"', '"type":"x'), stdHeaders(s)));
      assert.throws(() => std.verify(s.body, { ...stdHeaders(s), 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 600) }));
    });

    test('Onvy face: users:created in a batched, HMAC-signed envelope; the same user reaches junction and standard endpoints', async () => {
      const r = await fetch(`${srv.baseUrl}/onvy/users`, { method: 'POST', headers: { 'x-api-key': team.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'onvy-user-1', firstname: 'Ada' }) });
      assert.equal(r.status, 201);
      await rx.onvy.waitFor((all) => all.some((x) => json(x).events.some((e: any) => e.name === 'users:created' && e.user_id === 'onvy-user-1')));
      const got = rx.onvy.received.find((x) => json(x).events.some((e: any) => e.user_id === 'onvy-user-1'))!;
      assert.ok(onvyVerify('onvy-shared-secret-0123456789', got.body, got.headers['x-webhook-signature'] as string), 'Onvy HMAC verifies');
      assert.ok(!onvyVerify('onvy-shared-secret-0123456789', got.body.replace('onvy-user-1', 'onvy-user-2'), got.headers['x-webhook-signature'] as string), 'a tampered body does not');
      const env = json(got);
      assert.match(env.id, /^wh_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(got.headers['x-webhook-id'], env.id);
      assert.match(String(got.headers['x-webhook-timestamp']), /^\d{10}$/);
      assert.equal(env.project_id, team.teamId);
      assert.equal(env.org_id, team.teamId);
      assert.equal(env.api_version, 1);
      assert.match(env.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(env.events.length >= 1 && env.events.length <= 10);
      assert.deepEqual(env.events.find((e: any) => e.user_id === 'onvy-user-1'), { name: 'users:created', user_id: 'onvy-user-1', data: { id: 'onvy-user-1' } });
      // The standard headers on an Onvy delivery verify with standardwebhooks' raw-secret form.
      assert.doesNotThrow(() => new StandardWebhook('onvy-shared-secret-0123456789', { format: 'raw' }).verify(got.body, stdHeaders(got)));

      // The same user, made through the Onvy face, reaches the junction extension endpoint…
      await rx.junctionExt.waitFor((all) => all.some((x) => json(x).event_type === 'user.created' && json(x).client_user_id === 'onvy-user-1'));
      // …and the standard endpoint, with the basic face's id.
      await rx.standard.waitFor((all) => all.some((x) => json(x).type === 'user.created' && json(x).data.client_user_id === 'onvy-user-1'));
      const s = rx.standard.received.find((x) => json(x).type === 'user.created' && json(x).data.client_user_id === 'onvy-user-1')!;
      const ev = new StandardWebhook(secrets.standard!).verify(s.body, stdHeaders(s)) as Record<string, any>;
      assert.equal(typeof ev.data.userId, 'number');
      assert.equal(ev.data.teamId, team.teamId);
      assert.match(ev.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      // Update and delete through the Onvy face.
      assert.equal((await fetch(`${srv.baseUrl}/onvy/users/onvy-user-1`, { method: 'PATCH', headers: { 'x-api-key': team.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ firstname: 'Ada L.' }) })).status, 200);
      assert.equal((await fetch(`${srv.baseUrl}/onvy/users/onvy-user-1`, { method: 'DELETE', headers: { 'x-api-key': team.apiKey } })).status, 204);
      const names = () => rx.onvy.received.flatMap((x) => json(x).events.filter((e: any) => e.user_id === 'onvy-user-1').map((e: any) => e.name));
      await rx.onvy.waitFor(() => names().includes('users:updated') && names().includes('users:deleted'));
      await rx.standard.waitFor((all) => all.some((x) => json(x).type === 'user.deleted' && json(x).data.client_user_id === 'onvy-user-1'));
    });

    test('basic face: user.created on a standard endpoint carries the basic userId', async () => {
      const r = await fetch(`${srv.baseUrl}/basic/users`, { method: 'POST', headers: { authorization: `Bearer ${team.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ firstName: 'Grace', lastName: 'Hopper', contactEmail: 'grace@example.com' }) });
      assert.equal(r.status, 201);
      const made = await r.json() as { userId: number };
      await rx.standard.waitFor((all) => all.some((x) => json(x).type === 'user.created' && json(x).data.userId === made.userId));
    });

    test('records and the rest of the user lifecycle (Junction face): names, ids, envelopes', async () => {
      const h = { 'x-vital-api-key': team.apiKey, 'content-type': 'application/json' };
      const u = await (await fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: h, body: JSON.stringify({ client_user_id: 'life-1' }) })).json() as { user_id: string };
      const id = u.user_id;
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/${id}`, { method: 'PATCH', headers: h, body: JSON.stringify({ fallback_time_zone: 'Europe/Berlin' }) })).status, 204);
      const demo = { first_name: 'A', last_name: 'B', email: 'a@example.com', phone_number: '+15555550100', gender: 'female', dob: '1990-01-01', address: { first_line: '1 Main St', country: 'US', zip: '10001', city: 'New York', state: 'NY' } };
      const dr = await fetch(`${srv.baseUrl}/v2/user/${id}/info`, { method: 'PATCH', headers: h, body: JSON.stringify(demo) });
      assert.ok(dr.status < 300, `demographics ${dr.status} ${await dr.text()}`);
      assert.equal((await fetch(`${srv.baseUrl}/v2/link/connect/demo`, { method: 'POST', headers: h, body: JSON.stringify({ user_id: id, provider: 'fitbit' }) })).status, 200);
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/${id}/fitbit`, { method: 'DELETE', headers: h })).status, 200);
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/${id}`, { method: 'DELETE', headers: h })).status, 200);
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/undo_delete?user_id=${id}`, { method: 'POST', headers: h })).status, 200);
      const want = ['user.created', 'user.updated', 'connection.created', 'device.created', 'connection.deleted', 'user.deleted', 'user.restored'];
      const types = () => rx.standard.received.map(json).filter((e) => e.data.user_id === id).map((e) => e.type);
      await rx.standard.waitFor(() => want.every((t) => types().includes(t)), 20_000, `standard events ${want.join(', ')}`);
      assert.ok(types().filter((t) => t === 'user.updated').length >= 2, 'PATCH and demographics each send user.updated');
      const ext = () => rx.junctionExt.received.map(json).filter((e) => e.user_id === id).map((e) => e.event_type);
      await rx.junctionExt.waitFor(() => ['user.created', 'user.updated', 'provider.connection.created', 'provider.connection.deleted', 'user.deleted', 'user.undeleted'].every((t) => ext().includes(t)));
      for (const r of rx.junctionExt.received.filter((x) => json(x).user_id === id)) {
        const e = svixVerify(secrets.junctionExt!, r.body, svixHeaders(r));
        assert.deepEqual(Object.keys(e).sort(), ['client_user_id', 'data', 'event_type', 'team_id', 'user_id']);
        assert.equal(e.client_user_id, 'life-1');
      }
      // Every event id is delivered once per endpoint (no duplicates without a failure).
      const ids = rx.standard.received.map((r) => String(r.headers['webhook-id']));
      assert.equal(new Set(ids).size, ids.length);
    });

    test('Onvy data_syncs: connection.created for a new provider, connection.error on entering error, created again on recovery, nothing for a repeat; insurance sends user.updated', async () => {
      const ho = { 'x-api-key': team.apiKey, 'content-type': 'application/json' };
      assert.equal((await fetch(`${srv.baseUrl}/onvy/users`, { method: 'POST', headers: ho, body: JSON.stringify({ id: 'sync-1', firstname: 'Sy' }) })).status, 201);
      const id = (await (await fetch(`${srv.baseUrl}/v2/user/resolve/sync-1`, { headers: { 'x-vital-api-key': team.apiKey } })).json() as { user_id: string }).user_id;
      const put = async (status: string) => assert.equal((await fetch(`${srv.baseUrl}/onvy/users/sync-1/data_syncs`, { method: 'PUT', headers: ho, body: JSON.stringify({ provider: 'GARMIN', data_type: 'auth', sync_type: 'historical', status }) })).status, 200);
      const std = () => rx.standard.received.map(json).filter((e) => e.data.user_id === id && e.type.startsWith('connection.')).map((e) => `${e.type}:${e.data.provider}${e.data.error_type ? `:${e.data.error_type}` : ''}`);
      await put('pending');
      await rx.standard.waitFor(() => std().length === 1);
      await put('in_progress'); // still connected: no event
      await put('failed');
      await rx.standard.waitFor(() => std().length === 2);
      await put('failed'); // already in error: no event
      await put('completed'); // back from error: connected again
      await rx.standard.waitFor(() => std().length === 3);
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/${id}/insurance`, { method: 'POST', headers: { 'x-vital-api-key': team.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(insuranceBody()) })).status, 200);
      await rx.standard.waitFor((all) => all.some((x) => json(x).type === 'user.updated' && json(x).data.user_id === id));
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(std(), ['connection.created:garmin', 'connection.error:garmin:provider_credential_error', 'connection.created:garmin']);
      // The same changes in Junction's vocabulary (documented types: no filter needed), verified with svix.
      // In the order of the changes (ids are ULIDs; no delivery order is promised).
      const jx = () => rx.junction.received.filter((r) => json(r).user_id === id).sort((a, b) => (String(a.headers['svix-id']) < String(b.headers['svix-id']) ? -1 : 1));
      await rx.junction.waitFor(() => jx().length === 3);
      assert.deepEqual(jx().map((r) => svixVerify(secrets.junction!, r.body, svixHeaders(r)).event_type), ['provider.connection.created', 'provider.connection.error', 'provider.connection.created']);
      const err = json(jx()[1]!);
      assert.equal(err.data.provider, 'garmin');
      assert.equal(err.data.error_type, 'provider_credential_error');
      assert.equal(err.client_user_id, 'sync-1');
    });

    test('deleting a user sends connection.deleted for each of its connections, in every vocabulary (soft and hard delete)', async () => {
      const h = { 'x-vital-api-key': team.apiKey, 'content-type': 'application/json' };
      const connect = async (userId: string, provider: string) =>
        assert.equal((await fetch(`${srv.baseUrl}/v2/link/connect/demo`, { method: 'POST', headers: h, body: JSON.stringify({ user_id: userId, provider }) })).status, 200);
      // Soft delete through the Junction face: two connections, two connection.deleted.
      const soft = (await (await fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: h, body: JSON.stringify({ client_user_id: 'del-conn-1' }) })).json() as { user_id: string }).user_id;
      await connect(soft, 'oura');
      await connect(soft, 'fitbit');
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/${soft}`, { method: 'DELETE', headers: h })).status, 200);
      // Hard delete through the Onvy face of a user with one connection.
      assert.equal((await fetch(`${srv.baseUrl}/onvy/users`, { method: 'POST', headers: { 'x-api-key': team.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'del-conn-2', firstname: 'Del' }) })).status, 201);
      const hard = (await (await fetch(`${srv.baseUrl}/v2/user/resolve/del-conn-2`, { headers: h })).json() as { user_id: string }).user_id;
      await connect(hard, 'oura');
      assert.equal((await fetch(`${srv.baseUrl}/onvy/users/del-conn-2`, { method: 'DELETE', headers: { 'x-api-key': team.apiKey } })).status, 204);

      const std = (id: string) => rx.standard.received.map(json).filter((e) => e.data.user_id === id && e.type === 'connection.deleted').map((e) => e.data.provider).sort();
      await rx.standard.waitFor(() => std(soft).length === 2 && std(hard).length === 1, 20_000, 'standard connection.deleted');
      assert.deepEqual(std(soft), ['fitbit', 'oura']);
      assert.deepEqual(std(hard), ['oura']);
      const del = rx.standard.received.find((x) => json(x).type === 'connection.deleted' && json(x).data.user_id === hard)!;
      const ev = new StandardWebhook(secrets.standard!).verify(del.body, stdHeaders(del)) as Record<string, any>;
      assert.equal(ev.data.client_user_id, 'del-conn-2');
      assert.equal(typeof ev.data.userId, 'number');

      const ext = (id: string) => rx.junctionExt.received.map(json).filter((e) => e.user_id === id && e.event_type === 'provider.connection.deleted').map((e) => e.data.provider).sort();
      await rx.junctionExt.waitFor(() => ext(soft).length === 2 && ext(hard).length === 1, 20_000, 'provider.connection.deleted');
      assert.deepEqual(ext(soft), ['fitbit', 'oura']);
      const j = rx.junctionExt.received.find((x) => json(x).event_type === 'provider.connection.deleted' && json(x).user_id === hard)!;
      assert.deepEqual(svixVerify(secrets.junctionExt!, j.body, svixHeaders(j)).data, { user_id: hard, provider: 'oura' });
      // The junction endpoint that filters nothing never sees the extension.
      assert.ok(rx.junction.received.every((r) => json(r).event_type !== 'provider.connection.deleted'));

      const onvy = (cid: string) => rx.onvy.received.flatMap((x) => json(x).events).filter((e: any) => e.user_id === cid && e.name === 'users.data_syncs:updated').map((e: any) => e.data.provider).sort();
      // Two demo connects and two deletes for the first user, one and one for the second.
      await rx.onvy.waitFor(() => onvy('del-conn-1').length === 4 && onvy('del-conn-2').length === 2, 20_000, 'onvy data_syncs events');
      assert.deepEqual(onvy('del-conn-1'), ['FITBIT', 'FITBIT', 'OURA', 'OURA']);
      assert.deepEqual(onvy('del-conn-2'), ['OURA', 'OURA']);
    });

    test('GET /metrics reports deliveries by format and outcome, attempt durations and the backlog', async () => {
      const m = await (await fetch(`${srv.baseUrl}/metrics`)).text();
      assert.match(m, /^roster_webhook_deliveries_total\{format="junction",outcome="success"\} [1-9]\d*$/m);
      assert.match(m, /^roster_webhook_deliveries_total\{format="onvy",outcome="success"\} [1-9]\d*$/m);
      assert.match(m, /^roster_webhook_attempt_seconds_count\{format="standard"\} [1-9]\d*$/m);
      assert.match(m, /^roster_webhook_backlog \d+$/m);
      assert.match(m, /^roster_webhook_oldest_pending_seconds [\d.e+-]+$/m);
      assert.match(m, /^# TYPE roster_webhook_endpoints_disabled_total counter$/m);
    });

    test("another team's endpoints received none of these events", async () => {
      assert.equal(rx.otherJ.received.length, 0);
      assert.equal(rx.otherS.received.length, 0);
      const d = await admin('GET', `/teams/${other.teamId}/webhook-events`);
      assert.equal(d.status, 200);
      assert.deepEqual(d.body.events, []);
      // The other team's own change reaches its own endpoint only.
      const before = rx.standard.received.length;
      const r = await fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': other.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: 'other-1' }) });
      assert.equal(r.status, 200);
      await rx.otherS.waitFor((all) => all.length === 1);
      assert.equal(json(rx.otherS.received[0]!).data.teamId, other.teamId);
      await new Promise((res) => setTimeout(res, 500));
      assert.ok(rx.standard.received.slice(before).every((x) => json(x).data.client_user_id !== 'other-1'));
    });
  });
}
