// The console over plain HTTP (what a browser sends, without one): sign-in, cookie flags, sessions,
// CSRF and origin checks, the one-time link, GET / for browsers, the search box and keyset pages,
// every change audited and bad input answered with a page, never a 500. The same flows in Chromium
// are in console-browser.test.ts.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { SIGN_IN_FAILED } from '../../src/http/console/auth.ts';
import { CONSOLE_CSP } from '../../src/http/console/index.ts';
import { ConsoleClient } from '../support/console-client.ts';

const TOKEN = 'console-admin-token-0123456789';
const BASE = '/admin/console';

/** A browser-like client signed in with this file's token. */
class Client extends ConsoleClient {
  constructor(base: string) { super(base, TOKEN); }
}

const h1s = (html: string) => html.match(/<h1[\s>]/g)?.length ?? 0;

for (const backend of backends()) {
  describe(`Console over HTTP (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let team: { teamId: string; apiKey: string; keyId: string };

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { adminToken: TOKEN, logLevel: 'info' });
      team = await srv.newTeam('console-http');
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('GET / sends a browser to the console; an API client still gets JSON 404', async () => {
      const r = await fetch(`${srv.baseUrl}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), `${BASE}/`);
      const j = await call(srv.baseUrl, 'GET', '/');
      assert.equal(j.status, 404);
      assert.deepEqual(j.body, { detail: 'Not Found' });
    });

    test('console pages stay out of the admin API\'s OpenAPI document', async () => {
      const r = await call(srv.baseUrl, 'GET', '/openapi/admin.json');
      assert.equal(r.status, 200);
      const paths = Object.keys(r.body.paths);
      assert.ok(paths.length > 0);
      assert.deepEqual(paths.filter((p) => p.includes('console')), []);
    });

    test('signed out: pages redirect to the sign-in form, which has the labelled field, the button and the strict CSP', async () => {
      const c = new Client(srv.baseUrl);
      const r = await c.get(`${BASE}/t/${team.teamId}/users`);
      assert.equal(r.status, 303);
      assert.equal(r.headers.get('location'), `${BASE}/login?next=${encodeURIComponent(`${BASE}/t/${team.teamId}/users`)}`);
      const login = await c.get(`${BASE}/login`);
      assert.equal(login.status, 200);
      assert.match(login.text, /<label for="token">Admin token<\/label>/);
      assert.match(login.text, /<button type="submit">Sign in<\/button>/);
      assert.equal(login.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(login.headers.get('cache-control'), 'no-store');
      assert.equal(login.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(login.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(!/<script>|<script [^>]*>[^<]|<style|style="|onclick=/i.test(login.text), 'no inline script or style');
      assert.equal(h1s(login.text), 1);
    });

    test('a wrong token gets the one generic message; the right one a session cookie (HttpOnly, SameSite=Strict, console path)', async () => {
      const c = new Client(srv.baseUrl);
      const bad = await c.signIn('not-the-token-at-all-000');
      assert.equal(bad.status, 401);
      assert.ok(bad.text.includes(SIGN_IN_FAILED));
      assert.equal(c.cookie, '');
      const ok = await c.signIn();
      assert.equal(ok.status, 303);
      assert.equal(ok.headers.get('location'), `${BASE}/`);
      const set = ok.headers.get('set-cookie')!;
      assert.match(set, /^roster_console=[A-Za-z0-9_-]{43}; /);
      assert.match(set, /; HttpOnly/);
      assert.match(set, /; SameSite=Strict/);
      assert.match(set, /; Path=\/admin\/console/);
      assert.doesNotMatch(set, /Secure/, 'plain http: no Secure flag (the browser would drop it)');
      const home = await c.get(`${BASE}/`);
      assert.equal(home.status, 200);
      assert.match(home.text, /console-http/);
      // The token and the session id never reach the log.
      const logs = srv.logs.join('');
      assert.ok(!logs.includes(TOKEN));
      assert.ok(!logs.includes(c.cookie.split('=')[1]!));
    });

    test('failed sign-ins are throttled per client, with the same message', async () => {
      const s2 = await startServer(tdb, { adminToken: TOKEN, logLevel: 'silent' });
      try {
        const c = new Client(s2.baseUrl);
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await c.signIn(`wrong-token-${i}-xxxxxxxxxxxx`);
          statuses.push(r.status);
          assert.ok(r.text.includes(SIGN_IN_FAILED));
        }
        assert.deepEqual(statuses.slice(0, 3), [401, 401, 401]);
        // Over the free tries: even the right token waits.
        const r = await c.signIn();
        assert.equal(r.status, 429);
        assert.ok(r.text.includes(SIGN_IN_FAILED));
        assert.equal(c.cookie, '');
      } finally {
        await s2.close();
      }
    });

    test('a forged POST without the CSRF token, and a cross-origin POST, are refused and change nothing', async () => {
      const c = new Client(srv.baseUrl);
      await c.signIn();
      const before = (await srv.built.services.teams.listTeams()).length;
      const noToken = await c.post(`${BASE}/teams`, { name: 'forged-1' });
      assert.equal(noToken.status, 403);
      const wrongToken = await c.post(`${BASE}/teams`, { name: 'forged-2', _csrf: 'x'.repeat(43) });
      assert.equal(wrongToken.status, 403);
      const csrf = await c.csrf();
      const cross = await c.post(`${BASE}/teams`, { name: 'forged-3', _csrf: csrf }, { site: 'cross-site' });
      assert.equal(cross.status, 403);
      const evilOrigin = await c.post(`${BASE}/teams`, { name: 'forged-4', _csrf: csrf }, { site: null, headers: { origin: 'https://evil.example' } });
      assert.equal(evilOrigin.status, 403);
      const noOrigin = await c.post(`${BASE}/teams`, { name: 'forged-5', _csrf: csrf }, { site: null });
      assert.equal(noOrigin.status, 403);
      assert.equal((await srv.built.services.teams.listTeams()).length, before);
      // Our own origin (no Fetch Metadata, an Origin header) with the token: created.
      const ok = await c.post(`${BASE}/teams`, { name: 'made-in-console', _csrf: csrf }, { site: null, headers: { origin: srv.baseUrl } });
      assert.equal(ok.status, 201);
      assert.match(ok.text, /<code id="new-key">sk_rst_[A-Za-z0-9_-]{43}<\/code>/);
      assert.equal((await srv.built.services.teams.listTeams()).length, before + 1);
      // The cross-origin check guards sign-in too.
      const c2 = new Client(srv.baseUrl);
      assert.equal((await c2.post(`${BASE}/login`, { token: TOKEN }, { site: 'cross-site' })).status, 403);
      assert.equal(c2.cookie, '');
    });

    test('sign out ends the session server-side: the old cookie no longer works', async () => {
      const c = new Client(srv.baseUrl);
      await c.signIn();
      const old = c.cookie;
      const csrf = await c.csrf();
      const out = await c.post(`${BASE}/logout`, { _csrf: csrf });
      assert.equal(out.status, 303);
      assert.equal(out.headers.get('clear-site-data'), '"cache", "cookies"');
      c.cookie = old;
      const r = await c.get(`${BASE}/`);
      assert.equal(r.status, 303);
      assert.match(r.headers.get('location')!, /\/login/);
    });

    test('GETs change nothing: a GET to an action path is a 404 page', async () => {
      const c = new Client(srv.baseUrl);
      await c.signIn();
      const u = await call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: 'get-safe' } });
      const r = await c.get(`${BASE}/t/${team.teamId}/users/${u.body.user_id}/delete`);
      assert.equal(r.status, 404);
      assert.equal((await call(srv.baseUrl, 'GET', `/v2/user/${u.body.user_id}`, { key: team.apiKey })).status, 200);
    });

    test('the search box finds a user by user_id, client_user_id (exact or prefix), basic userId and e-mail', async () => {
      const c = new Client(srv.baseUrl);
      await c.signIn();
      const t = await srv.newTeam('search');
      const a = await call(srv.baseUrl, 'POST', '/v2/user', { key: t.apiKey, json: { client_user_id: 'patient-0042' } });
      await call(srv.baseUrl, 'POST', '/v2/user', { key: t.apiKey, json: { client_user_id: 'patient-0043' } });
      await call(srv.baseUrl, 'POST', '/v2/user', { key: t.apiKey, json: { client_user_id: 'other-1' } });
      const b = await call(srv.baseUrl, 'POST', '/basic/users', { bearer: t.apiKey, json: { firstName: 'Grace', lastName: 'Hopper', contactEmail: 'Grace@Example.com' } });
      assert.equal(b.status, 201, b.text);
      const rows = (html: string) => [...html.matchAll(/<tr>\s*<td><a href="[^"]+\/users\/([0-9a-f-]{36})">([^<]*)<\/a>/g)].map((m) => m[2]);
      const search = async (q: string) => {
        const r = await c.get(`${BASE}/t/${t.teamId}/users?q=${encodeURIComponent(q)}`);
        assert.equal(r.status, 200, r.text.slice(0, 500));
        return rows(r.text);
      };
      assert.deepEqual(await search(a.body.user_id), ['patient-0042']);
      assert.deepEqual(await search(a.body.user_id.toUpperCase()), ['patient-0042']);
      assert.deepEqual(await search('patient-0042'), ['patient-0042']);
      assert.deepEqual((await search('patient-')).sort(), ['patient-0042', 'patient-0043']);
      const byEmail = await search('grace@example.com');
      assert.equal(byEmail.length, 1);
      assert.deepEqual(await search(String(b.body.userId)), byEmail);
      assert.deepEqual(await search('nobody-has-this'), []);
      const all = await c.get(`${BASE}/t/${t.teamId}/users`);
      assert.match(all.text, /4 live users/);
      // Input no id can hold is answered with a page, not a 500.
      const bad = await c.get(`${BASE}/t/${t.teamId}/users?q=${encodeURIComponent('a\u0000b')}`);
      assert.equal(bad.status, 400);
      const badCursor = await c.get(`${BASE}/t/${t.teamId}/users?after=garbage&state=whatever&order=sideways`);
      assert.equal(badCursor.status, 200);
      assert.equal((await c.get(`${BASE}/t/not-a-team/users`)).status, 404);
      assert.equal((await c.get(`${BASE}/t/${t.teamId}/users/not-a-user`)).status, 404);
      assert.equal((await c.get(`${BASE}/t/${t.teamId}/audit?since=yesterday&key=nope`)).status, 400);

    });

    test('keyset pages: every user exactly once, the total on each page', async () => {
      const c = new Client(srv.baseUrl);
      await c.signIn();
      const t = await srv.newTeam('paging');
      const made = new Set<string>();
      for (let i = 0; i < 120; i++) made.add((await call(srv.baseUrl, 'POST', '/v2/user', { key: t.apiKey, json: { client_user_id: `p-${String(i).padStart(3, '0')}` } })).body.client_user_id);
      const seen: string[] = [];
      let url: string | null = `${BASE}/t/${t.teamId}/users?order=asc`;
      let pages = 0;
      while (url) {
        const r = await c.get(url);
        assert.equal(r.status, 200);
        assert.match(r.text, /120 live users/);
        seen.push(...[...r.text.matchAll(/\/users\/[0-9a-f-]{36}">([^<]*)<\/a>/g)].map((m) => m[1]!));
        const next = /<a href="([^"]+)" rel="next">/.exec(r.text);
        url = next ? next[1]!.replace(/&amp;/g, '&') : null;
        pages++;
      }
      assert.equal(pages, 3);
      assert.deepEqual(seen, [...made].sort());
    });

    test('delete and undo from the console go through the domain and are audited with the user', async () => {
      const c = new Client(srv.baseUrl);
      await c.signIn();
      const u = await call(srv.baseUrl, 'POST', '/v2/user', { key: team.apiKey, json: { client_user_id: 'to-delete' } });
      const id = u.body.user_id as string;
      const csrf = await c.csrf(`${BASE}/t/${team.teamId}/users/${id}`);
      const wrong = await c.post(`${BASE}/t/${team.teamId}/users/${id}/delete`, { _csrf: csrf, confirm: 'not-it' });
      assert.equal(wrong.status, 400);
      assert.equal((await call(srv.baseUrl, 'GET', `/v2/user/${id}`, { key: team.apiKey })).status, 200);
      const del = await c.post(`${BASE}/t/${team.teamId}/users/${id}/delete`, { _csrf: csrf, confirm: 'to-delete' });
      assert.equal(del.status, 303);
      assert.equal((await call(srv.baseUrl, 'GET', `/v2/user/${id}`, { key: team.apiKey })).status, 404);
      const undo = await c.post(`${BASE}/t/${team.teamId}/users/${id}/undo`, { _csrf: csrf });
      assert.equal(undo.status, 303);
      assert.equal((await call(srv.baseUrl, 'GET', `/v2/user/${id}`, { key: team.apiKey })).status, 200);
      await srv.built.services.audit.flush();
      const page = await c.get(`${BASE}/t/${team.teamId}/users/${id}`);
      assert.match(page.text, /console\.deleteUser/);
      assert.match(page.text, /console\.undoDeleteUser/);
      const audit = await srv.built.services.audit.list({ teamId: team.teamId, userId: id, limit: 10 });
      assert.deepEqual(audit.map((e) => e.action).sort(), ['console.deleteUser', 'console.deleteUser', 'console.undoDeleteUser', 'junction.createUser'].sort());
    });
  });

  describe(`Console sign-in modes (${backend.name})`, () => {
    let tdb: TestDatabase;
    before(async () => { tdb = await freshDatabase(backend); });
    after(async () => { await tdb?.drop(); });

    test('no admin token and no one-time links: the console is off and GET / goes to /docs', async () => {
      const srv = await startServer(tdb, { logLevel: 'silent' });
      try {
        const r = await fetch(`${srv.baseUrl}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
        assert.equal(r.status, 302);
        assert.equal(r.headers.get('location'), '/docs');
        const login = await fetch(`${srv.baseUrl}${BASE}/login`, { redirect: 'manual' });
        assert.equal(login.status, 404);
        assert.equal(srv.built.console, null);
      } finally {
        await srv.close();
      }
    });

    test('a one-time link signs in once; the second use is refused with the generic message', async () => {
      const srv = await startServer(tdb, { consoleLinks: true, logLevel: 'info' });
      try {
        const link = await srv.built.console!.issueLink();
        const a = new Client(srv.baseUrl);
        // Opening the link changes nothing (no GET changes state): it shows a form.
        const open = await a.get(`${BASE}/login?link=${link}`);
        assert.equal(open.status, 200);
        assert.equal(a.cookie, '');
        const first = await a.post(`${BASE}/login`, { link });
        assert.equal(first.status, 303);
        assert.match(a.cookie, /^roster_console=/);
        assert.equal((await a.get(`${BASE}/`)).status, 200);
        const b = new Client(srv.baseUrl);
        const second = await b.post(`${BASE}/login`, { link });
        assert.equal(second.status, 401);
        assert.ok(second.text.includes(SIGN_IN_FAILED));
        assert.equal(b.cookie, '');
        // Refused once, the link is refused again from memory: no query per repeated guess (C4).
        const store = srv.built.core.consoleSessions as unknown as { redeemLink: (...a: unknown[]) => Promise<boolean> };
        const redeem = store.redeemLink;
        let redeemed = 0;
        store.redeemLink = function (this: unknown, ...a: unknown[]) { redeemed++; return redeem.apply(this, a); };
        try {
          const third = await b.post(`${BASE}/login`, { link });
          assert.equal(third.status, 401);
          assert.ok(third.text.includes(SIGN_IN_FAILED));
        } finally {
          store.redeemLink = redeem;
        }
        assert.equal(redeemed, 0);
        // Without an admin token, no token signs in.
        assert.equal((await b.signIn()).status, 401);
        assert.ok(!srv.logs.join('').includes(link), 'the link secret is never logged');
      } finally {
        await srv.close();
      }
    });

    test('a one-time link expires after 10 minutes; sessions end after 30 idle minutes and 8 hours in all', async () => {
      let now = Date.now();
      const srv = await startServer(tdb, { consoleLinks: true, logLevel: 'silent', now: () => new Date(now) });
      try {
        const stale = await srv.built.console!.issueLink();
        now += 10 * 60_000 + 1;
        assert.equal((await new Client(srv.baseUrl).post(`${BASE}/login`, { link: stale })).status, 401);
        const c = new Client(srv.baseUrl);
        assert.equal((await c.post(`${BASE}/login`, { link: await srv.built.console!.issueLink() })).status, 303);
        now += 29 * 60_000;
        assert.equal((await c.get(`${BASE}/`)).status, 200);
        now += 31 * 60_000;
        assert.equal((await c.get(`${BASE}/`)).status, 303, 'idle for 31 minutes: signed out');
        const d = new Client(srv.baseUrl);
        assert.equal((await d.post(`${BASE}/login`, { link: await srv.built.console!.issueLink() })).status, 303);
        for (let i = 0; i < 16; i++) { now += 29 * 60_000; assert.equal((await d.get(`${BASE}/`)).status, 200); }
        now += 29 * 60_000;
        assert.equal((await d.get(`${BASE}/`)).status, 303, 'over 8 hours: signed out however active');
      } finally {
        await srv.close();
      }
    });

    test('with an https public URL the cookie is __Host- and Secure, Path=/', async () => {
      const srv = await startServer(tdb, { adminToken: TOKEN, publicUrl: 'https://roster.example', logLevel: 'silent' });
      try {
        const r = await fetch(`${srv.baseUrl}${BASE}/login`, {
          method: 'POST', redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://roster.example' },
          body: new URLSearchParams({ token: TOKEN }).toString(),
        });
        assert.equal(r.status, 303);
        const set = r.headers.get('set-cookie')!;
        assert.match(set, /^__Host-roster_console=[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Strict/);
        // The expected origin is the public URL's, not the Host header's.
        const other = await fetch(`${srv.baseUrl}${BASE}/login`, {
          method: 'POST', redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: srv.baseUrl },
          body: new URLSearchParams({ token: TOKEN }).toString(),
        });
        assert.equal(other.status, 403);
      } finally {
        await srv.close();
      }
    });
  });
}
