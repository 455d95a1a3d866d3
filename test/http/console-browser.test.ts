// The console in a real browser (issue 13): Debian's Chromium, headless, through playwright-core
// (test/support/browser.ts). Sign-in (wrong token → generic error, right token → session cookie with
// its flags), a forged POST without the CSRF token and a cross-origin POST refused, the one-time
// link used twice; search → user → delete → undo; a demo connection made in the console seen on the
// user's page and through the Junction SDK; a key created in the console works on the API until it
// is revoked there; axe finds no serious or critical violation on any page; the main flows again
// with JavaScript disabled. No request leaves Roster. Screenshots: test-output/console-*.png
// (suffixed with the backend name for backends other than the embedded one).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { VitalClient } from '@tryvital/vital-node';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { demographicsBody } from '../support/records.ts';
import { launchBrowser } from '../support/browser.ts';
import { SIGN_IN_FAILED } from '../../src/http/console/auth.ts';

const TOKEN = 'browser-admin-token-0123456789';
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const OUT = path.join(ROOT, 'test-output');
const DESKTOP = { width: 1280, height: 900 };

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
  fs.mkdirSync(OUT, { recursive: true });
});
after(async () => {
  await browser?.close();
});

for (const backend of backends()) {
  const shot = (name: string) => path.join(OUT, `console-${name}${backend.name === 'embedded' ? '' : `-${backend.name}`}.png`);

  describe(`Console in headless Chromium (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let ctx: BrowserContext;
    let page: Page;
    const requests: string[] = [];
    const errors: string[] = [];

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
      srv = await startServer(tdb, { adminToken: TOKEN, logLevel: 'silent' });
      ctx = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
      page = await ctx.newPage();
      page.on('request', (r) => requests.push(r.url()));
      page.on('pageerror', (e) => errors.push(e.message));
      // Error pages (401, 403, 404) are logged as failed loads: expected. Anything else (a CSP
      // refusal, a script error) is not.
      page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text()); });
    });
    after(async () => {
      for (const r of requests) assert.ok(r.startsWith(srv.baseUrl), `the console fetched something from elsewhere: ${r}`);
      assert.deepEqual(errors, [], 'no script error and no CSP violation on any page');
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
      requests.splice(0, requests.length, ...requests.filter((r) => !/^http:\/\/127\.0\.0\.1:\d+\/$/.test(r) || r.startsWith(srv.baseUrl)));
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
      srv = await startServer(tdb, { adminToken: TOKEN, logLevel: 'silent' });
      ctx = await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false });
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
      const a = await browser.newContext();
      const b = await browser.newContext();
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
