// The user portal (contract U19, issue 3 §7) in a real browser: headless Chromium (the machine's, else
// the one inside the npm package @sparticuz/chromium: test/support/browser.ts) driven by playwright-core. A phone-sized viewport shows the user's name,
// demographics, connections and devices; tampered, expired and deleted-user links get a 4xx page
// with no user data. Screenshots go to test-output/ for a reviewer to look at:
//   test-output/portal.png          the portal of a user with two demo connections
//   test-output/portal-expired.png  the page of an expired link
// (suffixed with the backend name for backends other than the embedded one).
// There is always a browser (the npm one at worst), so this test never skips.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { browserPerFile, screenshotPath, watchPage } from '../support/browser.ts';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { demographicsBody } from '../support/records.ts';

const PHONE = { width: 390, height: 844 };

/** Text that must never show on an error page: the user's details and records. */
const USER_DATA = ['Ada', 'Lovelace', 'ada@example.com', '123-4567', '1990-12-10', 'Baker Street', 'Fitbit', 'Oura', 'Charge 6'];

const browser = browserPerFile();

for (const backend of backends()) {
  const shot = (name: string) => screenshotPath(name, backend.name);

  describe(`Portal page in headless Chromium (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let key: string;
    let ctx: BrowserContext;
    let n = 0;

    const api = (method: string, p: string, json?: unknown) => call(srv.baseUrl, method, p, { key, ...(json !== undefined ? { json } : {}) });

    /** A user with demographics and the given demo connections; returns its id. */
    async function portalUser(providers: string[] = ['fitbit', 'oura'], over: Record<string, unknown> = {}): Promise<string> {
      const id = (await api('POST', '/v2/user', { client_user_id: `portal-${++n}` })).body.user_id as string;
      const info = await api('PATCH', `/v2/user/${id}/info`, demographicsBody(over));
      assert.equal(info.status, 200, info.text);
      for (const provider of providers) assert.equal((await api('POST', '/v2/link/connect/demo', { user_id: id, provider })).status, 200);
      return id;
    }
    async function link(s: TestServer, k: string, id: string, context: 'launch' | 'communications'): Promise<{ url: string; expires_in: number }> {
      const r = await call(s.baseUrl, 'POST', `/v2/user/${id}/create_portal_url`, { key: k, json: { context } });
      assert.equal(r.status, 200, r.text);
      return r.body;
    }

    /** Opens `url` in a fresh phone-sized page; every request the page makes must stay on Roster. */
    async function open(url: string): Promise<{ page: Page; status: number; text: string; requests: string[] }> {
      const page = await ctx.newPage();
      const watch = watchPage(page, srv.baseUrl);
      const res = await page.goto(url, { waitUntil: 'load' });
      assert.ok(res, `no response for ${url}`);
      const text = await page.locator('body').innerText();
      watch.assertClean();
      return { page, status: res.status(), text, requests: watch.requests };
    }

    /** The page fits the phone's width: nothing to scroll sideways. */
    async function fitsWidth(page: Page) {
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      assert.ok(scroll <= inner, `page is ${scroll}px wide in a ${inner}px viewport`);
    }

    function noUserData(text: string, what: string) {
      for (const s of USER_DATA) assert.ok(!text.includes(s), `${what} shows "${s}": ${text}`);
    }

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      key = (await srv.newTeam('portal')).apiKey;
      ctx = await browser().newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'en-US' });
    });
    after(async () => {
      await ctx?.close();
      await srv?.close();
      await tdb?.drop();
    });

    test('a launch link shows the name, demographics, connections and devices on a phone', async () => {
      const id = await portalUser();
      const l = await link(srv, key, id, 'launch');
      assert.equal(l.expires_in, 600);
      const { page, status, text } = await open(l.url);
      assert.equal(status, 200);

      const h1 = page.locator('header h1');
      assert.ok(await h1.isVisible());
      assert.equal((await h1.innerText()).trim(), 'Ada Lovelace');
      assert.match(await page.title(), /Ada Lovelace/);

      const demo = page.locator('#demographics');
      assert.ok(await demo.isVisible());
      const d = await demo.innerText();
      for (const s of ['Your details', 'Ada Lovelace', '1990-12-10', 'female', 'ada@example.com', '+1 (555) 123-4567', '221B Baker Street', 'Flat 2', 'New York', 'NY', '10001', 'US']) {
        assert.ok(d.includes(s), `demographics show "${s}": ${d}`);
      }

      const conns = page.locator('#connections li');
      assert.equal(await conns.count(), 2);
      const c = await page.locator('#connections').innerText();
      assert.ok(await page.locator('#connections').isVisible());
      for (const s of ['Connected sources', 'Fitbit', 'Oura', 'connected', 'sleep', 'heartrate']) assert.ok(c.includes(s), `connections show "${s}": ${c}`);

      const devs = page.locator('#devices li');
      assert.equal(await devs.count(), 2);
      const dv = await page.locator('#devices').innerText();
      assert.ok(await page.locator('#devices').isVisible());
      for (const s of ['Devices', 'Fitbit Charge 6', 'Oura Ring Gen3', 'watch', 'ring']) assert.ok(dv.includes(s), `devices show "${s}": ${dv}`);
      assert.ok(!dv.includes('Oura Oura'), 'the maker is not repeated before a model that starts with it');

      assert.match(text, /Read-only view/);
      await fitsWidth(page);
      // Readable on a phone: body text is at least 14 px.
      const fontPx = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
      assert.ok(fontPx >= 14, `body font ${fontPx}px`);

      await page.screenshot({ path: shot('portal'), fullPage: true });
      assert.ok(fs.statSync(shot('portal')).size > 10_000, 'a real screenshot was written');
      await page.close();
    });

    test('user-supplied text is shown as text, never run as HTML', async () => {
      const id = await portalUser(['freestyle_libre'], { gender: '<img src=x onerror=alert(1)><script>alert(2)</script>', address: { first_line: '<b>1</b> "Quote" & \'Apos\'', country: 'US', zip: '10001', city: 'New York', state: 'NY' } });
      const { page, status } = await open((await link(srv, key, id, 'launch')).url);
      assert.equal(status, 200);
      const d = await page.locator('#demographics').innerText();
      assert.ok(d.includes('<img src=x onerror=alert(1)><script>alert(2)</script>'), d);
      assert.ok(d.includes('<b>1</b> "Quote" & \'Apos\''), d);
      assert.equal(await page.locator('#demographics img, #demographics script, #demographics b').count(), 0);
      assert.ok((await page.locator('#devices').innerText()).includes('Abbott FreeStyle Libre 3'));
      await page.close();
    });

    test('a communications short link works', async () => {
      const id = await portalUser(['apple_health_kit']);
      const c = await link(srv, key, id, 'communications');
      assert.equal(c.expires_in, 1_209_600);
      assert.match(c.url, /\/p\/[A-Za-z0-9_-]{16}$/);
      const { page, status } = await open(c.url);
      assert.equal(status, 200);
      assert.equal((await page.locator('header h1').innerText()).trim(), 'Ada Lovelace');
      assert.ok((await page.locator('#connections').innerText()).includes('Apple HealthKit'));
      assert.ok((await page.locator('#devices').innerText()).includes('Apple Watch'));
      await fitsWidth(page);
      await page.close();
    });

    test('tampered links → 403 page with no user data', async () => {
      const id = await portalUser();
      const other = await portalUser(['oura'], { first_name: 'Bob', last_name: 'Builder', email: 'bob@example.com' });
      const good = (await link(srv, key, id, 'launch')).url;
      const otherLink = (await link(srv, key, other, 'launch')).url;
      const [base, token] = good.split('/portal/') as [string, string];
      const [payload, sig] = token.split('.') as [string, string];
      const [, otherPayload] = otherLink.split('/portal/')[1]!.match(/^([^.]+)\./)!;
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      const code = (await link(srv, key, id, 'communications')).url.split('/p/')[1]!;
      const tampered = [
        `${base}/portal/${payload}.${flip(sig, sig.length - 2)}`,
        `${base}/portal/${flip(payload, 5)}.${sig}`,
        `${base}/portal/${otherPayload}.${sig}`,
        `${base}/portal/${payload}`,
        `${base}/portal/${payload}.${sig}.x`,
        `${base}/portal/${payload}.`,
        `${base}/portal/garbage`,
        `${base}/p/${flip(code, 3)}`,
        `${base}/p/short`,
      ];
      for (const url of tampered) {
        const { page, status, text } = await open(url);
        assert.equal(status, 403, url);
        assert.match(text, /This link is not valid/);
        noUserData(text, url);
        assert.ok(!text.includes('Bob') && !text.includes('Builder'), url);
        assert.equal(await page.locator('#demographics, #connections, #devices').count(), 0);
        await page.close();
      }
    });

    test('expired links → 410 page with no user data', async () => {
      // A second app over the same database with 1-second links.
      const short = await startServer(tdb, { logLevel: 'silent', portalTtl: { launch: 1, communications: 1 } });
      try {
        const t = await short.newTeam('short-links');
        const id = (await call(short.baseUrl, 'POST', '/v2/user', { key: t.apiKey, json: { client_user_id: 'expiring' } })).body.user_id;
        assert.equal((await call(short.baseUrl, 'PATCH', `/v2/user/${id}/info`, { key: t.apiKey, json: demographicsBody() })).status, 200);
        assert.equal((await call(short.baseUrl, 'POST', '/v2/link/connect/demo', { key: t.apiKey, json: { user_id: id, provider: 'fitbit' } })).status, 200);
        const l = await link(short, t.apiKey, id, 'launch');
        const c = await link(short, t.apiKey, id, 'communications');
        assert.equal(l.expires_in, 1);
        assert.equal(c.expires_in, 1);
        await sleep(2_100);
        for (const [url, name] of [[l.url, 'launch'], [c.url, 'communications']] as const) {
          const page = await ctx.newPage();
          const res = await page.goto(url, { waitUntil: 'load' });
          assert.equal(res?.status(), 410, name);
          const text = await page.locator('body').innerText();
          assert.match(text, /This link has expired/);
          assert.match(text, /Ask the app that sent you this link for a new one/);
          noUserData(text, `expired ${name} link`);
          assert.equal(await page.locator('#demographics, #connections, #devices').count(), 0);
          await fitsWidth(page);
          if (name === 'launch') await page.screenshot({ path: shot('portal-expired'), fullPage: true });
          await page.close();
        }
        assert.ok(fs.statSync(shot('portal-expired')).size > 5_000);
      } finally {
        await short.close();
      }
    });

    test('a deleted user\'s link → 404 page with no user data; error pages are not cached', async () => {
      const id = await portalUser();
      const l = (await link(srv, key, id, 'launch')).url;
      const c = (await link(srv, key, id, 'communications')).url;
      assert.equal((await open(l)).status, 200);
      assert.equal((await api('DELETE', `/v2/user/${id}`)).status, 200);
      for (const url of [l, c]) {
        const { page, status, text } = await open(url);
        assert.equal(status, 404, url);
        assert.match(text, /This link is no longer valid/);
        noUserData(text, `deleted user's link ${url}`);
        await page.close();
      }
      const raw = await fetch(l);
      assert.equal(raw.headers.get('cache-control'), 'no-store');
      assert.match(raw.headers.get('content-type') ?? '', /^text\/html/);
    });
  });
}
