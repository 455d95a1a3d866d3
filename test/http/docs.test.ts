// The interactive API reference (issue 7 item 2), in headless Chromium (test/support/browser.ts: the
// machine's, else @sparticuz/chromium's; driven by playwright-core): /docs/junction loads with no request leaving 127.0.0.1 (so it works
// with no internet), lists the operations, and a "try it" call with a real team key answers 200
// in the page. No CSP violation on the way. A screenshot goes to test-output/docs-junction.png.
// The other faces' pages and the /docs index are checked over HTTP (same plugin, same CSP).
// The page does not depend on the database kind, so this file runs on the first backend only.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../support/browser.ts';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';

const OUT = new URL('../../test-output/', import.meta.url);
const ADMIN_TOKEN = 'admin-token-docs-test-0123456789';

const backend = backends()[0]!;

describe(`API reference pages (${backend.name})`, () => {
  let tdb: TestDatabase;
  let srv: TestServer;
  let browser: Browser;
  let apiKey: string;

  /** A fresh page that records every URL it requests and every console error or page error. */
  async function watchedPage(height: number) {
    const context = await browser.newContext({ viewport: { width: 1280, height } });
    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => { requests.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    return { context, page, requests, problems };
  }
  before(async () => {
    tdb = await freshDatabase(backend);
    srv = await startServer(tdb, { adminToken: ADMIN_TOKEN, logLevel: 'silent' });
    apiKey = (await srv.newTeam('docs-team')).apiKey;
    // A user to list, so the answer shows in the page.
    const r = await fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: 'docs-user-1' }) });
    assert.equal(r.status, 200);
    // Never skipped: there is always a browser (the npm one at worst).
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    await tdb?.drop();
  });

  test('Junction page: offline, lists the operations, "try it" GET /v2/user answers 200', async () => {
    const { context, page, requests, problems } = await watchedPage(1000);
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });

    const res = await page.goto(`${srv.baseUrl}/docs/junction`);
    assert.equal(res?.status(), 200);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:\/\/(?!127\.0\.0\.1)/);

    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    const methods = await page.locator('.opblock-summary-method').allTextContents();
    const ops = new Set(paths.map((p, i) => `${methods[i]} ${p.replace(/\u200b/g, '').trim()}`));
    for (const op of ['GET /v2/user', 'POST /v2/user', 'GET /v2/user/{user_id}', 'PATCH /v2/user/{user_id}', 'DELETE /v2/user/{user_id}', 'GET /v2/user/resolve/{client_user_id}', 'POST /v2/user/{user_id}/sign_in_token', 'POST /v2/link/connect/demo']) {
      assert.ok(ops.has(op), `${op} listed (got ${[...ops].join(', ')})`);
    }
    assert.ok(ops.size >= 20, `${ops.size} operations listed`);

    // Authorize with the team key.
    await page.click('.auth-wrapper button.authorize');
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.locator('input[type=text], input[type=password]').first().fill(apiKey);
    await dialog.locator('button.authorize').click();
    await dialog.locator('button.btn-done, button.close-modal').first().click();

    // GET /v2/user: open, "Try it out", "Execute".
    const op = page.locator('#operations-user-listUsers');
    await op.locator('.opblock-summary-control').click();
    await op.locator('button.try-out__btn').click();
    await op.locator('button.execute').click();
    const status = op.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor({ timeout: 20_000 });
    assert.equal((await status.textContent())?.trim(), '200');
    const body = await op.locator('.live-responses-table .response-col_description .microlight, .live-responses-table .response-col_description pre').first().textContent();
    assert.match(body ?? '', /docs-user-1/);

    mkdirSync(OUT, { recursive: true });
    await op.scrollIntoViewIfNeeded();
    await page.screenshot({ path: new URL('docs-junction.png', OUT).pathname, fullPage: false });

    const external = requests.filter((u) => !u.startsWith('data:') && new URL(u).hostname !== '127.0.0.1');
    assert.deepEqual(external, [], 'no request leaves the machine');
    assert.ok(requests.some((u) => u.endsWith('/v2/user?offset=0&limit=100') || /\/v2\/user(\?|$)/.test(u)), 'the try-it call went to Roster');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the index and the other faces\' pages render offline too', async () => {
    const { context, page, requests, problems } = await watchedPage(900);
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`); });
    mkdirSync(OUT, { recursive: true });

    await page.goto(`${srv.baseUrl}/docs`);
    assert.deepEqual(await page.locator('li > a').allTextContents(), ['Junction v2 Users API', 'Onvy Users API', 'Basic Users API', 'Admin API']);
    await page.screenshot({ path: new URL('docs-index.png', OUT).pathname });
    await page.click('text=Basic Users API');
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    assert.equal(new URL(page.url()).pathname, '/docs/basic');
    assert.equal(await page.locator('.opblock').count(), 5);
    await page.screenshot({ path: new URL('docs-basic.png', OUT).pathname });
    for (const face of ['onvy', 'admin']) {
      await page.goto(`${srv.baseUrl}/docs/${face}`);
      await page.waitForSelector('.opblock', { timeout: 20_000 });
      assert.ok(await page.locator('.opblock').count() >= 5, face);
      await page.screenshot({ path: new URL(`docs-${face}.png`, OUT).pathname });
    }
    const external = requests.filter((u) => !u.startsWith('data:') && new URL(u).hostname !== '127.0.0.1');
    assert.deepEqual(external, []);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('/docs index links every face; it and each face page carry the docs CSP', async () => {
    const r = await fetch(`${srv.baseUrl}/docs`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    const csp = r.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /style-src 'self'/);
    assert.ok(r.headers.get('x-request-id'));
    const html = await r.text();
    for (const face of ['junction', 'onvy', 'basic', 'admin']) {
      assert.match(html, new RegExp(`href="/docs/${face}"`));
      assert.match(html, new RegExp(`href="/openapi/${face}.json"`));
      const page = await fetch(`${srv.baseUrl}/docs/${face}`);
      assert.equal(page.status, 200, face);
      assert.equal(page.headers.get('content-security-policy'), csp, face);
      assert.match(await page.text(), /swagger-ui-bundle\.js/);
      const json = await fetch(`${srv.baseUrl}/docs/${face}/json`);
      assert.equal(json.status, 200);
      const doc = await json.json() as { paths: Record<string, unknown> };
      assert.ok(Object.keys(doc.paths).length > 0, `${face} has paths`);
    }
    const css = await fetch(`${srv.baseUrl}/docs/junction/static/swagger-ui.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
  });

  test('the API keeps its own CSP', async () => {
    const r = await fetch(`${srv.baseUrl}/v2/user`, { headers: { 'x-vital-api-key': apiKey } });
    assert.equal(r.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
  });
});
