// The console in a real browser (issue 13): Debian's Chromium, headless, through playwright-core
// (test/support/browser.ts). Sign-in (wrong token → generic error, right token → session cookie with
// its flags), a forged POST without the CSRF token and a cross-origin POST refused, the one-time
// link used twice; search → user → delete → undo; a demo connection made in the console seen on the
// user's page and through the Junction SDK; a key created in the console works on the API until it
// is revoked there; a webhook endpoint registered in the console gets its signed test event at a
// local receiver, and its deliveries show with their payloads; the team's mode changes; axe finds no serious or critical violation on any page; the main flows again
// with JavaScript disabled. No request leaves Roster. Screenshots: test-output/console-*.png
// (suffixed with the backend name for backends other than the embedded one).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { Webhook } from 'svix';
import { AxeBuilder } from '@axe-core/playwright';
import { VitalClient } from '@tryvital/vital-node';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { demographicsBody } from '../support/records.ts';
import { browserPerFile, screenshotPath, watchPage } from '../support/browser.ts';
import { startReceiver, TEST_WEBHOOKS, type Receiver } from '../support/receiver.ts';
import { SIGN_IN_FAILED } from '../../src/http/console/auth.ts';

const TOKEN = 'browser-admin-token-0123456789';
const DESKTOP = { width: 1280, height: 900 };
// One browser and one receiver for the whole file (the webhook pages post to it through Roster).
const browser = browserPerFile();
let rx: Receiver;
before(async () => { rx = await startReceiver(); });
after(async () => { await rx?.close(); });

for (const backend of backends()) {
  const shot = (name: string) => screenshotPath(`console-${name}`, backend.name);

  describe(`Console in headless Chromium (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let ctx: BrowserContext;
    let page: Page;
    let watch: ReturnType<typeof watchPage>;

    /** Every page the test looks at: the title, one h1, and no serious or critical axe violation. */
    async function check(p: Page, what: string) {
      assert.ok((await p.title()).length > 0, `${what}: has a title`);
      assert.equal(await p.locator('h1').count(), 1, `${what}: one h1`);
      const r = await new AxeBuilder({ page: p }).analyze();
      const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`), [], `${what}: axe`);
    }

    async function signIn(p: Page, token = TOKEN) {
      await p.goto(`${srv.baseUrl}/`);
      await p.getByLabel('Admin token').fill(token);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.waitForLoadState('load');
    }

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { adminToken: TOKEN, logLevel: 'silent', webhooks: TEST_WEBHOOKS });
      ctx = await browser().newContext({ viewport: DESKTOP, locale: 'en-US' });
      page = await ctx.newPage();
      watch = watchPage(page, srv.baseUrl);
    });
    after(async () => {
      watch?.assertClean();
      await ctx?.close();
      await srv?.close();
      await tdb?.drop();
    });

    test('GET / opens the sign-in form; a wrong token gets the generic error, the right one a session cookie', async () => {
      await page.goto(`${srv.baseUrl}/`);
      assert.match(page.url(), /\/admin\/console\/login$/);
      await check(page, 'sign-in');
      await page.screenshot({ path: shot('login') });
      await page.getByLabel('Admin token').fill('wrong-token-but-long-enough');
      await page.getByRole('button', { name: 'Sign in' }).click();
      assert.equal((await page.getByRole('status').innerText()).trim(), SIGN_IN_FAILED);
      assert.deepEqual(await ctx.cookies(), []);
      await check(page, 'sign-in failed');
      await signIn(page);
      assert.equal(page.url(), `${srv.baseUrl}/admin/console/`);
      const [cookie] = await ctx.cookies();
      assert.ok(cookie);
      assert.equal(cookie.name, 'roster_console');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.equal(cookie.path, '/admin/console');
      assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');
    });

    let teamKey = '';
    let teamUrl = '';
    test('a team created in the console shows its key once, with a copy button; the key works on the API', async () => {
      await page.getByLabel('Team name').fill('Acme Health');
      await page.getByRole('button', { name: 'Create team' }).click();
      teamKey = (await page.locator('#new-key').innerText()).trim();
      assert.match(teamKey, /^sk_rst_/);
      assert.ok(await page.getByRole('button', { name: 'Copy API key' }).isVisible());
      await check(page, 'team created');
      await page.screenshot({ path: shot('team-created') });
      const r = await call(srv.baseUrl, 'POST', '/v2/user', { key: teamKey, json: { client_user_id: 'patient-42', fallback_time_zone: 'Europe/London' } });
      assert.equal(r.status, 200, r.text);
      for (let i = 1; i <= 30; i++) await call(srv.baseUrl, 'POST', '/v2/user', { key: teamKey, json: { client_user_id: `patient-${1000 + i}` } });
      await call(srv.baseUrl, 'PATCH', `/v2/user/${r.body.user_id}/info`, { key: teamKey, json: demographicsBody() });
      // Reloading the teams page never shows the key again.
      await page.goto(`${srv.baseUrl}/admin/console/`);
      assert.ok(!(await page.content()).includes(teamKey));
      await check(page, 'teams');
      await page.screenshot({ path: shot('teams') });
      await page.getByRole('link', { name: 'Acme Health' }).click();
      await page.waitForURL(/\/t\/[0-9a-f-]{36}\/users$/); // the click's navigation, not the page before it
      teamUrl = page.url().replace(/\/users$/, '');
    });

    test('search → user → delete → undo (live search with htmx)', async () => {
      await page.goto(`${teamUrl}/users`);
      await check(page, 'users');
      await page.getByLabel('Search users').fill('patient-4');
      await page.locator('#results h2', { hasText: 'matching' }).waitFor();
      assert.match(await page.getByRole('status').innerText(), /1 user found/);
      assert.match(page.url(), /q=patient-4/, 'the search is in the address (back button, sharing)');
      await page.screenshot({ path: shot('users') });
      await page.getByRole('link', { name: 'patient-42' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.title(), /User patient-42/);
      await check(page, 'user');
      await page.screenshot({ path: shot('user'), fullPage: true });
      await page.getByLabel(/Type the client_user_id/).fill('patient-42');
      await page.getByRole('button', { name: 'Delete user' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('status').innerText(), /User deleted/);
      assert.equal((await call(srv.baseUrl, 'GET', `/v2/user/resolve/patient-42`, { key: teamKey })).status, 404);
      await check(page, 'deleted user');
      await page.goto(`${teamUrl}/users?state=deleted`);
      assert.ok(await page.getByRole('link', { name: 'patient-42' }).isVisible());
      await page.getByRole('link', { name: 'patient-42' }).click();
      await page.getByRole('button', { name: 'Undo delete' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('status').innerText(), /User restored/);
      assert.equal((await call(srv.baseUrl, 'GET', `/v2/user/resolve/patient-42`, { key: teamKey })).status, 200);
      await srv.built.services.audit.flush();
      await page.reload();
      const activity = await page.locator('#act-h + table').innerText();
      assert.match(activity, /console\.deleteUser/);
      assert.match(activity, /console\.undoDeleteUser/);
    });

    test('a demo connection made in the console shows on the user\'s page and through the Junction SDK', async () => {
      const id = (await call(srv.baseUrl, 'GET', '/v2/user/resolve/patient-42', { key: teamKey })).body.user_id as string;
      await page.goto(`${teamUrl}/users/${id}`);
      await page.getByLabel('Provider').selectOption('oura');
      await page.getByRole('button', { name: 'Connect demo provider' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('status').innerText(), /Demo connection added/);
      assert.match(await page.locator('#conn-h + table').innerText(), /oura/);
      assert.match(await page.locator('#dev-h + table').innerText(), /oura/);
      const vital = new VitalClient({ apiKey: teamKey, baseUrl: srv.baseUrl, maxRetries: 0 });
      const providers = (await vital.user.getConnectedProviders(id)).providers!;
      assert.deepEqual(providers.map((p) => p.slug), ['oura']);
      // A portal link is shown once.
      await page.getByRole('button', { name: 'Create portal link' }).click();
      const link = (await page.locator('#portal-link').innerText()).trim();
      assert.ok(link.startsWith(`${srv.baseUrl}/portal/`));
      await check(page, 'user with a connection');
      await page.screenshot({ path: shot('user-connected'), fullPage: true });
    });

    test('a key created in the console works on the API and stops working once revoked there', async () => {
      await page.goto(`${teamUrl}/keys`);
      await check(page, 'keys');
      await page.getByLabel('Role').selectOption('read_only');
      await page.getByRole('button', { name: 'Create key' }).click();
      const key = (await page.locator('#new-key').innerText()).trim();
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key })).status, 200);
      assert.equal((await call(srv.baseUrl, 'POST', '/v2/user', { key, json: { client_user_id: 'ro' } })).status, 403);
      await check(page, 'key created');
      await page.screenshot({ path: shot('keys') });
      await page.goto(`${teamUrl}/keys`);
      const row = page.locator('tr', { hasText: key.slice(0, 13) });
      await row.getByRole('checkbox').check();
      await row.getByRole('button', { name: /Revoke/ }).click();
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('status').innerText(), /Key revoked/);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key })).status, 401);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: teamKey })).status, 200);
    });

    test('audit trail and settings pages; the rate limit saved in the console applies', async () => {
      await srv.built.services.audit.flush();
      await page.goto(`${teamUrl}/audit`);
      await check(page, 'audit');
      assert.match(await page.locator('table').innerText(), /console\.revokeKey/);
      await page.getByLabel('Action').selectOption('console.deleteUser');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForLoadState('load');
      const rows = await page.locator('tbody tr').allInnerTexts();
      assert.equal(rows.length, 1);
      await page.screenshot({ path: shot('audit') });
      await page.goto(`${teamUrl}/settings`);
      await check(page, 'settings');
      await page.getByLabel('Requests per minute per key').fill('1234');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('status').innerText(), /Settings saved/);
      const r = await call(srv.baseUrl, 'GET', '/v2/user', { key: teamKey });
      assert.equal(r.headers.get('ratelimit-limit') ?? r.headers.get('x-ratelimit-limit'), '1234');
      await page.screenshot({ path: shot('settings') });
      await page.goto(`${teamUrl}/nowhere`);
      await check(page, 'not found');
    });

    test('a webhook endpoint created in the console receives its test event at a local receiver; deliveries and their payloads', async () => {
      await page.goto(`${teamUrl}/webhooks`);
      await page.getByLabel('Endpoint URL').fill(rx.url);
      await page.getByLabel('Format').selectOption('junction');
      await page.getByLabel('Description').fill('Local receiver');
      await page.locator('#ev-junction-0').waitFor();
      await page.getByRole('group', { name: /Junction/ }).getByLabel('user.created').check();
      await page.getByRole('button', { name: 'Register endpoint' }).click();
      await page.waitForLoadState('load');
      const secret = (await page.locator('#new-secret').innerText()).trim();
      assert.match(secret, /^whsec_/);
      assert.match(await page.getByRole('status').innerText(), /Endpoint registered/);
      await check(page, 'webhook registered');
      await page.screenshot({ path: shot('webhooks'), fullPage: true });

      await page.getByRole('table').getByRole('link', { name: rx.url }).click();
      // The page that was loaded is already 'load'ed: wait for the endpoint's own address, or
      // page.url() may still be the list (a CI run once went back to the list below).
      await page.waitForURL(/\/webhooks\/[0-9a-f-]{36}$/);
      await page.waitForLoadState('load');
      const endpointPage = page.url();
      const before = rx.received.length;
      await page.locator('#test-type').selectOption('provider.connection.created');
      await page.getByRole('button', { name: 'Send test event' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('status').innerText(), /Delivered: the receiver answered HTTP 204/);
      assert.equal(rx.received.length, before + 1);
      const got = rx.received.at(-1)!;
      assert.doesNotThrow(() => new Webhook(secret).verify(got.body, got.headers as Record<string, string>), 'signed with the secret shown once');
      assert.equal(JSON.parse(got.body).event_type, 'provider.connection.created');
      await check(page, 'webhook test sent');
      await page.screenshot({ path: shot('webhook'), fullPage: true });

      // A real event: a user created on the API reaches the receiver; the console shows the delivery.
      // The receiver is shared by both backends' runs of this file: wait for this run's delivery,
      // not the one the previous backend's run left (a CI run once read the page before it came).
      const seen = rx.received.length;
      const hooked = `hooked-user-${backend.name}`;
      assert.equal((await call(srv.baseUrl, 'POST', '/v2/user', { key: teamKey, json: { client_user_id: hooked } })).status, 200);
      await rx.waitFor((all) => all.slice(seen).some((r) => r.body.includes(hooked)), 20_000, 'the user.created delivery');
      await page.goto(endpointPage);
      await page.locator('#deliveries-h + form + table a').first().click();
      await page.waitForLoadState('load');
      assert.match(await page.locator('pre.payload').innerText(), new RegExp(hooked));
      assert.match(await page.locator('#attempts-h + table').innerText(), /204/);
      await check(page, 'webhook delivery');
      await page.screenshot({ path: shot('webhook-delivery'), fullPage: true });
      // The user's page lists it too.
      await page.getByRole('link', { name: /^[0-9a-f-]{36}$/ }).first().click();
      await page.waitForLoadState('load');
      assert.match(await page.locator('#wh-h + table').innerText(), /user\.created/);
    });

    test('team settings: the mode changes in the console and back', async () => {
      await page.goto(`${teamUrl}/settings`);
      await page.getByLabel('production').check();
      await page.getByRole('button', { name: 'Change mode' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.getByRole('status').innerText(), /Mode changed/);
      assert.equal((await srv.built.services.teams.listTeams()).find((t) => teamUrl.endsWith(t.id))!.mode, 'production');
      await page.getByLabel('sandbox').check();
      await page.getByRole('button', { name: 'Change mode' }).click();
      await page.waitForLoadState('load');
      assert.equal((await srv.built.services.teams.listTeams()).find((t) => teamUrl.endsWith(t.id))!.mode, 'sandbox');
    });

    test('keyboard: the skip link and every control are reachable, focus is visible', async () => {
      await page.goto(`${teamUrl}/users`);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
      assert.equal(outline, 'solid');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'q');
      await page.keyboard.type('patient-1001');
      await page.keyboard.press('Enter');
      await page.locator('#results h2', { hasText: 'matching' }).waitFor();
      assert.ok(await page.getByRole('link', { name: 'patient-1001' }).isVisible());
    });

    test('a forged POST without the CSRF token and a POST from another origin are refused', async () => {
      const before = (await srv.built.services.teams.listTeams()).length;
      await page.goto(`${srv.baseUrl}/admin/console/`);
      await page.getByLabel('Team name').fill('forged');
      await page.evaluate(() => document.querySelector('form[action$="/teams"] input[name="_csrf"]')!.remove());
      await page.getByRole('button', { name: 'Create team' }).click();
      await page.waitForLoadState('load');
      assert.equal(await page.locator('h1').innerText(), 'Request refused');
      // Another origin (another port on this host: same site, so the cookie is even sent).
      const evil = http.createServer((_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(`<!doctype html><title>evil</title><form method="post" action="${srv.baseUrl}/admin/console/teams"><input name="name" value="evil"><button>go</button></form>`);
      });
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      try {
        const p = await ctx.newPage();
        await p.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
        await p.getByRole('button', { name: 'go' }).click();
        await p.waitForLoadState('load');
        assert.equal(await p.locator('h1').innerText(), 'Request refused');
        await p.close();
      } finally {
        evil.close();
      }
      assert.equal((await srv.built.services.teams.listTeams()).length, before);
      watch.requests.splice(0, watch.requests.length, ...watch.requests.filter((r) => !/^http:\/\/127\.0\.0\.1:\d+\/$/.test(r) || r.startsWith(srv.baseUrl)));
    });

    test('sign out ends the session: the console asks to sign in again', async () => {
      await page.goto(`${srv.baseUrl}/admin/console/`);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForLoadState('load');
      assert.match(page.url(), /\/login$/);
      await page.goto(`${teamUrl}/users`);
      assert.match(page.url(), /\/login\?next=/);
    });
  });

  describe(`Console with JavaScript disabled (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let ctx: BrowserContext;

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { adminToken: TOKEN, logLevel: 'silent', webhooks: TEST_WEBHOOKS });
      ctx = await browser().newContext({ viewport: DESKTOP, javaScriptEnabled: false });
    });
    after(async () => {
      await ctx?.close();
      await srv?.close();
      await tdb?.drop();
    });

    test('sign in, create a team, search, open, delete, undo, create and revoke a key: all with forms and links', async () => {
      const page = await ctx.newPage();
      await page.goto(`${srv.baseUrl}/`);
      await page.getByLabel('Admin token').fill(TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('Team name').fill('No Script Ltd');
      await page.getByRole('button', { name: 'Create team' }).click();
      const key = (await page.locator('#new-key').innerText()).trim();
      for (const c of ['nojs-1', 'nojs-2', 'other']) assert.equal((await call(srv.baseUrl, 'POST', '/v2/user', { key, json: { client_user_id: c } })).status, 200);
      await page.getByRole('table').getByRole('link', { name: 'No Script Ltd' }).click();
      await page.getByLabel('Search users').fill('nojs-');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForLoadState('load');
      assert.match(await page.locator('#results h2').innerText(), /2 matching live users/);
      await page.getByRole('link', { name: 'nojs-2' }).click();
      await page.getByLabel(/Type the client_user_id/).fill('nojs-2');
      await page.getByRole('button', { name: 'Delete user' }).click();
      assert.match(await page.getByRole('status').innerText(), /User deleted/);
      await page.getByRole('button', { name: 'Undo delete' }).click();
      assert.match(await page.getByRole('status').innerText(), /User restored/);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user/resolve/nojs-2', { key })).status, 200);
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.getByRole('button', { name: 'Create key' }).click();
      const k2 = (await page.locator('#new-key').innerText()).trim();
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: k2 })).status, 200);
      await page.getByRole('link', { name: 'API keys' }).click();
      const row = page.locator('tr', { hasText: k2.slice(0, 13) });
      await row.getByRole('checkbox').check();
      await row.getByRole('button', { name: /Revoke/ }).click();
      assert.match(await page.getByRole('status').innerText(), /Key revoked/);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: k2 })).status, 401);
      await page.screenshot({ path: shot('nojs-keys') });

      // Webhooks without JavaScript: register, send a test, disable, delete.
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByLabel('Endpoint URL').fill(rx.url);
      await page.getByLabel('Format').selectOption('standard');
      await page.getByRole('button', { name: 'Register endpoint' }).click();
      const secret = (await page.locator('#new-secret').innerText()).trim();
      await page.getByRole('table').getByRole('link', { name: rx.url }).click();
      const before = rx.received.length;
      await page.locator('#test-type').selectOption('user.created');
      await page.getByRole('button', { name: 'Send test event' }).click();
      assert.match(await page.getByRole('status').innerText(), /Delivered/);
      const got = rx.received.slice(before).find((r) => r.headers['webhook-id'])!;
      assert.ok(got, 'a Standard Webhooks delivery arrived');
      assert.equal(JSON.parse(got.body).type, 'user.created');
      assert.ok(secret.startsWith('whsec_'));
      await page.getByRole('button', { name: 'Disable endpoint' }).click();
      assert.match(await page.getByRole('status').innerText(), /Endpoint disabled/);
      await page.getByLabel(/I understand its pending deliveries/).check();
      await page.getByRole('button', { name: 'Delete endpoint' }).click();
      assert.match(await page.getByRole('status').innerText(), /Endpoint deleted/);
      await page.screenshot({ path: shot('nojs-webhooks') });
    });
  });

  describe(`Console one-time sign-in link (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { consoleLinks: true, logLevel: 'silent' });
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('the printed link signs in once; opened again it is refused with the generic message', async () => {
      const link = `${srv.baseUrl}/admin/console/login?link=${await srv.built.console!.issueLink()}`;
      const a = await browser().newContext();
      const b = await browser().newContext();
      try {
        const p = await a.newPage();
        await p.goto(link);
        await p.getByRole('button', { name: 'Sign in' }).click();
        await p.waitForLoadState('load');
        assert.equal(p.url(), `${srv.baseUrl}/admin/console/`);
        assert.equal(await p.locator('h1').innerText(), 'Teams');
        const q = await b.newPage();
        await q.goto(link);
        await q.getByRole('button', { name: 'Sign in' }).click();
        await q.waitForLoadState('load');
        assert.equal((await q.getByRole('status').innerText()).trim(), SIGN_IN_FAILED);
        assert.deepEqual(await b.cookies(), []);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
