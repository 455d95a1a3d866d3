// The console's webhook pages and team settings over plain HTTP (what a browser sends, without
// one): register an endpoint (secret shown once), send a test to a local receiver, edit, disable and
// enable, reveal and rotate the secret, deliveries with filters, a delivery with its payload and
// attempts, retry, recover, delete; the user's page lists its deliveries; the team's mode changed
// in the console and on the admin API. Every change audited; refused input is a 4xx page; a forged
// POST changes nothing; no GET changes state. The browser flows are in console-browser.test.ts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'svix';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { adminClient, eventually, startReceiver, TEST_WEBHOOKS, type Receiver } from '../support/receiver.ts';
import { ConsoleClient } from '../support/console-client.ts';

const TOKEN = 'console-webhooks-token-0123456789';
const BASE = '/admin/console';

for (const backend of backends()) {
  describe(`Console webhook pages and team settings (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let rx: Receiver;
    let c: ConsoleClient;
    let team: { teamId: string; apiKey: string };
    let wh = '';
    let epUrl = '';
    let csrf = '';

    const auditActions = async () => {
      await srv.built.services.audit.flush();
      return (await srv.built.services.audit.list({ teamId: team.teamId, limit: 200 })).map((e) => `${e.action} ${e.status}`);
    };
    const endpoints = () => srv.built.services.webhooks.list(team.teamId);

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { adminToken: TOKEN, logLevel: 'silent', sandboxUserCap: 3, webhooks: { ...TEST_WEBHOOKS, retrySchedule: [1] } });
      rx = await startReceiver();
      team = await srv.newTeam('hooks');
      c = new ConsoleClient(srv.baseUrl, TOKEN);
      assert.equal((await c.signIn()).status, 303);
      wh = `${BASE}/t/${team.teamId}/webhooks`;
      csrf = await c.csrf(wh);
    });
    after(async () => {
      await rx?.close();
      await srv?.close();
      await tdb?.drop();
    });

    test('register: refused input is a 400 page and stores nothing; a good endpoint shows its secret once and is audited', async () => {
      const bad = await c.post(wh, { _csrf: csrf, url: 'http://10.1.2.3/hook', format: 'junction' });
      assert.equal(bad.status, 400);
      assert.match(bad.text, /Not registered: /);
      assert.match(bad.text, /value="http:\/\/10\.1\.2\.3\/hook"/, 'what was typed is kept');
      const onvy = await c.post(wh, { _csrf: csrf, url: rx.url, format: 'onvy' });
      assert.equal(onvy.status, 400);
      assert.match(onvy.text, /must list its events/);
      assert.equal((await c.post(wh, { _csrf: csrf, url: rx.url, format: 'junction', rate_limit: '0' })).status, 400);
      assert.equal((await c.post(wh, { url: rx.url, format: 'junction' })).status, 403, 'no CSRF token');
      assert.equal((await endpoints()).length, 0);

      const r = await c.post(wh, { _csrf: csrf, url: rx.url, format: 'junction', description: 'main receiver', rate_limit: '50', 'ev:junction:user.created': '1', 'ev:junction:provider.connection.created': '1', 'ev:standard:user.deleted': '1' });
      assert.equal(r.status, 201);
      const secret = /<code id="new-secret">([^<]+)<\/code>/.exec(r.text)?.[1];
      assert.match(secret ?? '', /^whsec_/);
      const [ep] = await endpoints();
      assert.ok(ep);
      assert.equal(ep.secret, secret);
      assert.deepEqual(ep.filterTypes, ['user.created', 'provider.connection.created'], 'only the chosen format\'s ticks count');
      assert.equal(ep.rateLimit, 50);
      assert.equal(ep.description, 'main receiver');
      epUrl = `${wh}/${ep.id}`;
      const list = await c.get(wh);
      assert.equal(list.status, 200);
      assert.ok(!list.text.includes(secret!), 'the list never shows the secret');
      assert.match(list.text, /badge enabled/);
      assert.ok((await auditActions()).includes('console.createWebhook 201'));
    });

    test('send test: a signed example reaches the local receiver; the page shows the answer', async () => {
      const ep = (await endpoints())[0]!;
      const before = rx.received.length;
      const r = await c.post(`${epUrl}/test`, { _csrf: csrf, event_type: 'provider.connection.created' });
      assert.equal(r.status, 200);
      assert.match(r.text, /Delivered: the receiver answered HTTP 204/);
      assert.equal(rx.received.length, before + 1);
      const got = rx.received.at(-1)!;
      assert.doesNotThrow(() => new Webhook(ep.secret).verify(got.body, got.headers as Record<string, string>));
      assert.equal(JSON.parse(got.body).event_type, 'provider.connection.created');
      rx.respond = () => ({ status: 500 });
      const failed = await c.post(`${epUrl}/test`, { _csrf: csrf, event_type: 'user.created' });
      assert.equal(failed.status, 200);
      assert.match(failed.text, /Not delivered: the receiver answered HTTP 500/);
      rx.respond = () => ({ status: 204 });
      assert.equal((await c.post(`${epUrl}/test`, { _csrf: csrf, event_type: 'users:created' })).status, 400, 'not a junction event type');
    });

    test('edit, disable and enable; bad input keeps the old settings; GET changes nothing', async () => {
      const bad = await c.post(epUrl, { _csrf: csrf, url: rx.url, rate_limit: 'lots' });
      assert.equal(bad.status, 400);
      assert.match(bad.text, /Not saved: The rate limit/);
      const ok = await c.post(epUrl, { _csrf: csrf, url: rx.url, description: 'renamed', rate_limit: '', 'ev:junction:user.created': '1', 'ev:junction:user.deleted': '1' });
      assert.equal(ok.status, 303);
      let ep = (await endpoints())[0]!;
      assert.deepEqual(ep.filterTypes, ['user.created', 'user.deleted']);
      assert.equal(ep.rateLimit, null);
      assert.equal(ep.description, 'renamed');
      assert.equal((await c.get(`${epUrl}/disable`)).status, 404);
      assert.equal((await endpoints())[0]!.disabled, false);
      // The teams page (the console's home) counts each team's endpoints, linked to its webhook pages.
      const homeRow = async () => (await c.get(`${BASE}/`)).text.split('<tr>').find((r) => r.includes(`<code class="muted">${team.teamId}</code>`)) ?? '';
      assert.match(await homeRow(), new RegExp(`<a href="${wh}">1 enabled</a>`));
      assert.equal((await c.post(`${epUrl}/disable`, { _csrf: csrf })).status, 303);
      ep = (await endpoints())[0]!;
      assert.equal(ep.disabled, true);
      assert.match((await c.get(epUrl)).text, /badge disabled">disabled</);
      assert.match(await homeRow(), />0 enabled, 1 disabled</);
      assert.equal((await c.post(`${epUrl}/enable`, { _csrf: csrf })).status, 303);
      assert.equal((await endpoints())[0]!.disabled, false);
      assert.match(await homeRow(), />1 enabled</);
    });

    test('custom headers: set in the settings form, sent with every delivery; bad lines, duplicates and signature headers refused; a form without the field keeps them', async () => {
      const form = (headers?: string) => ({ _csrf: csrf, url: rx.url, description: 'renamed', rate_limit: '', 'ev:junction:user.created': '1', ...(headers === undefined ? {} : { headers }) });
      const ok = await c.post(epUrl, form('X-Team: north\r\nAuthorization: Bearer gateway-token\r\n\r\n'));
      assert.equal(ok.status, 303);
      assert.deepEqual((await endpoints())[0]!.headers, { 'X-Team': 'north', Authorization: 'Bearer gateway-token' });
      const page = (await c.get(epUrl)).text;
      // A credential-like value is never shown back: masked, as the admin API does.
      assert.match(page, /<textarea id="wh-headers" name="headers"[^>]*>X-Team: north\nAuthorization: \*{8}<\/textarea>/);
      assert.doesNotMatch(page, /gateway-token/);
      // Sent with a delivery.
      const before = rx.received.length;
      assert.equal((await c.post(`${epUrl}/test`, { _csrf: csrf, event_type: 'provider.connection.created' })).status, 200);
      assert.equal(rx.received.length, before + 1);
      assert.equal(rx.received.at(-1)!.headers['x-team'], 'north');
      assert.equal(rx.received.at(-1)!.headers.authorization, 'Bearer gateway-token');
      // Refused, with what was typed shown again; nothing changes.
      for (const [bad, why] of [['no colon here', /Line 1 of the custom headers/], ['X-A: 1\nx-a: 2', /given twice/], ['svix-signature: v1,forged', /cannot be set/], ['X-Bad: caf\u00e9', /value that cannot be sent/]] as const) {
        const r = await c.post(epUrl, form(bad));
        assert.equal(r.status, 400, bad);
        assert.match(r.text, why);
        assert.match(r.text, /Not saved/);
        assert.deepEqual((await endpoints())[0]!.headers, { 'X-Team': 'north', Authorization: 'Bearer gateway-token' }, bad);
      }
      // The form sent back as shown (the mask) keeps the stored credential; a new value replaces it.
      assert.equal((await c.post(epUrl, form('X-Team: south\nAuthorization: ********'))).status, 303);
      assert.deepEqual((await endpoints())[0]!.headers, { 'X-Team': 'south', Authorization: 'Bearer gateway-token' });
      assert.equal((await c.post(epUrl, form('X-Team: north\nAuthorization: Bearer gateway-token'))).status, 303);
      // A form without the field leaves them; an empty field removes them.
      assert.equal((await c.post(epUrl, form())).status, 303);
      assert.deepEqual(Object.keys((await endpoints())[0]!.headers), ['X-Team', 'Authorization']);
      assert.equal((await c.post(epUrl, form(''))).status, 303);
      assert.deepEqual((await endpoints())[0]!.headers, {});
    });

    test('secret: reveal is a POST and audited; rotate shows a new secret and the old one keeps signing', async () => {
      const old = (await endpoints())[0]!.secret;
      const page = await c.get(epUrl);
      assert.ok(!page.text.includes(old), 'the endpoint page does not show the secret until asked');
      const shown = await c.post(`${epUrl}/secret`, { _csrf: csrf });
      assert.equal(shown.status, 200);
      assert.ok(shown.text.includes(old));
      const rot = await c.post(`${epUrl}/rotate`, { _csrf: csrf, grace_period_seconds: '3600' });
      assert.equal(rot.status, 200);
      const ep = (await endpoints())[0]!;
      assert.notEqual(ep.secret, old);
      assert.ok(rot.text.includes(ep.secret));
      assert.deepEqual(ep.oldSecrets.map((s) => s.secret), [old]);
      const a = await auditActions();
      for (const x of ['console.revealWebhookSecret 200', 'console.rotateWebhookSecret 200', 'console.updateWebhook 200', 'console.updateWebhook 400']) assert.ok(a.includes(x), x);
    });

    test('deliveries: listed with filters, the user\'s page links them, a delivery shows payload and attempts; retry and recover', async () => {
      rx.respond = () => ({ status: 500 });
      const u = await call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: 'hooked-1' } });
      assert.equal(u.status, 200);
      const userId = u.body.user_id as string;
      const ep = (await endpoints())[0]!;
      // One immediate attempt and one retry (schedule [1]), both refused: failed.
      const d = await eventually(async () => {
        const l = await srv.built.services.webhooks.deliveries(team.teamId, ep.id, { limit: 10, status: 'failed' });
        return l.deliveries[0];
      }, 'a failed delivery');
      const list = await c.get(`${epUrl}?status=failed&event=user.created&user=${userId}`);
      assert.equal(list.status, 200);
      assert.ok(list.text.includes(`/webhooks/deliveries/${d.id}`));
      assert.ok(!(await c.get(`${epUrl}?status=success`)).text.includes(`/webhooks/deliveries/${d.id}`));
      assert.equal((await c.get(`${epUrl}?user=not-a-uuid`)).status, 400);

      const user = await c.get(`${BASE}/t/${team.teamId}/users/${userId}`);
      assert.match(user.text, /<h2 id="wh-h">Webhook deliveries<\/h2>/);
      assert.ok(user.text.includes(`/webhooks/deliveries/${d.id}`));
      assert.match(user.text, /badge failed/);

      const dp = await c.get(`${wh}/deliveries/${d.id}`);
      assert.equal(dp.status, 200);
      assert.ok(dp.text.includes('hooked-1'), 'the payload as sent');
      assert.match(dp.text, /<td>500<\/td>/);
      assert.ok(!dp.text.includes(ep.secret));

      rx.respond = () => ({ status: 204 });
      const retry = await c.post(`${wh}/deliveries/${d.id}/retry`, { _csrf: csrf });
      assert.equal(retry.status, 303);
      await eventually(async () => (await srv.built.services.webhooks.delivery(team.teamId, d.id)).delivery.status === 'success', 'the retried delivery succeeds');
      assert.match((await c.get(`${wh}/deliveries/${d.id}`)).text, /manual/);

      // Recover: another failure, then queued again from the console.
      rx.respond = () => ({ status: 500 });
      await call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: 'hooked-2' } });
      await eventually(async () => (await srv.built.services.webhooks.deliveries(team.teamId, ep.id, { limit: 10, status: 'failed' })).deliveries[0], 'a second failed delivery');
      rx.respond = () => ({ status: 204 });
      assert.equal((await c.post(`${epUrl}/recover`, { _csrf: csrf, since: 'yesterday' })).status, 400);
      const rec = await c.post(`${epUrl}/recover`, { _csrf: csrf, since: new Date(Date.now() - 3_600_000).toISOString().slice(0, 16) });
      assert.equal(rec.status, 200);
      assert.match(rec.text, /1 failed delivery since .* queued again/);
      await eventually(async () => (await srv.built.services.webhooks.deliveries(team.teamId, ep.id, { limit: 10, status: 'failed' })).deliveries.length === 0, 'recovered');
      const a = await auditActions();
      for (const x of ['console.retryWebhookDelivery 202', 'console.recoverWebhook 200']) assert.ok(a.includes(x), x);
    });

    test('a path id that is not a UUID is a 404 page naming what it is not, with the way back', async () => {
      const d = await c.get(`${wh}/deliveries/not-a-uuid`);
      assert.equal(d.status, 404);
      assert.match(d.text, /<title>Delivery not found/);
      assert.match(d.text, new RegExp(`This is not a delivery id. <a href="${wh}">All endpoints</a>`));
      const u = await c.get(`${BASE}/t/${team.teamId}/users/nope`);
      assert.equal(u.status, 404);
      assert.match(u.text, /<title>User not found/);
      assert.match(u.text, new RegExp(`This is not a user id. <a href="${BASE}/t/${team.teamId}/users">All users</a>`));
    });

    test('delete needs the tick; then the endpoint is gone and its page a 404', async () => {
      assert.equal((await c.post(`${epUrl}/delete`, { _csrf: csrf })).status, 400);
      assert.equal((await endpoints()).length, 1);
      const r = await c.post(`${epUrl}/delete`, { _csrf: csrf, confirm: '1' });
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), `${wh}?done=deleted`);
      assert.equal((await endpoints()).length, 0);
      assert.equal((await c.get(epUrl)).status, 404);
      assert.equal((await c.get(`${wh}/deliveries/00000000-0000-4000-8000-000000000000`)).status, 404);
      assert.ok((await auditActions()).includes('console.deleteWebhook 200'));
    });

    test('team mode: changed in the console (audited, keys see it at once), refused over the sandbox cap; the rate limit still saves', async () => {
      const settings = `${BASE}/t/${team.teamId}/settings`;
      assert.equal((await c.post(`${settings}/mode`, { _csrf: csrf, mode: 'live' })).status, 400);
      const r = await c.post(`${settings}/mode`, { _csrf: csrf, mode: 'production' });
      assert.equal(r.status, 303);
      assert.match((await c.get(`${settings}?done=mode`)).text, /value="production" checked/);
      // Demo connections are sandbox-only: the key sees the new mode at once.
      const users = await call(srv.baseUrl, 'GET', '/v2/user', { key: team.apiKey });
      const someone = users.body.users[0].user_id as string;
      assert.equal((await call(srv.baseUrl, 'POST', '/v2/link/connect/demo', { key: team.apiKey, json: { user_id: someone, provider: 'oura' } })).status, 400);
      // Four live users, cap 3: cannot become sandbox again.
      for (const id of ['m-1', 'm-2']) await call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: id } });
      const over = await c.post(`${settings}/mode`, { _csrf: csrf, mode: 'sandbox' });
      assert.equal(over.status, 400);
      assert.match(over.text, /Mode not changed: .*sandbox/);
      assert.equal((await srv.built.services.teams.listTeams()).find((t) => t.id === team.teamId)!.mode, 'production');
      assert.equal((await c.post(settings, { _csrf: csrf, rate_limit_per_minute: '777' })).status, 303);
      const limited = await call(srv.baseUrl, 'GET', '/v2/user', { key: team.apiKey });
      assert.equal(limited.headers.get('ratelimit-limit') ?? limited.headers.get('x-ratelimit-limit'), '777');
      const a = await auditActions();
      for (const x of ['console.setTeamMode 200', 'console.setTeamMode 400', 'console.setTeamRateLimit 200']) assert.ok(a.includes(x), x);
    });

    test('team mode on the admin API: PATCH /admin/teams/{id} with mode (and/or the rate limit), audited per change', async () => {
      const admin = adminClient(srv.baseUrl, TOKEN);
      const t = await srv.newTeam('patched');
      const both = await admin('PATCH', `/teams/${t.teamId}`, { mode: 'production', rate_limit_per_minute: 99 });
      assert.equal(both.status, 200);
      assert.deepEqual(both.body, { team_id: t.teamId, mode: 'production', rate_limit_per_minute: 99 });
      assert.equal((await admin('PATCH', `/teams/${t.teamId}`, { mode: 'live' })).status, 400);
      assert.equal((await admin('PATCH', `/teams/${t.teamId}`, {})).status, 400);
      assert.equal((await admin('PATCH', `/teams/00000000-0000-4000-8000-000000000000`, { mode: 'sandbox' })).status, 404);
      const back = await admin('PATCH', `/teams/${t.teamId}`, { mode: 'sandbox' });
      assert.deepEqual(back.body, { team_id: t.teamId, mode: 'sandbox' });
      assert.match((await srv.built.services.teams.createKey(t.teamId)).apiKey, /^sk_rst_/);
      await srv.built.services.audit.flush();
      const a = (await srv.built.services.audit.list({ teamId: t.teamId, limit: 50 })).map((e) => `${e.action} ${e.status}`);
      for (const x of ['admin.setTeamMode 200', 'admin.setTeamRateLimit 200', 'admin.updateTeam 400']) assert.ok(a.includes(x), `${x} in ${a.join(', ')}`);
    });
  });
}
