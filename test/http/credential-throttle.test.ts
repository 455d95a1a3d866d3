// Security review C4 (failed credentials throttled per client address, a negative cache; the
// console's sign-in and session cookies included), S1 (a
// revocation wins over a key lookup in flight), S5 (X-Forwarded-For only behind ROSTER_TRUST_PROXY)
// and C10 (links and token audiences never from an unlisted Host). docs/security.md lists them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { facesSuite, type FacesSuite } from './faces-support.ts';
import { request } from 'node:http';
import { call } from '../support/junction-http.ts';
import { KeyResolver } from '../../src/http/auth.ts';
import type { Principal, TeamsService } from '../../src/domain/teams.ts';
import { SIGN_IN_FAILED } from '../../src/http/console/auth.ts';

const ADMIN = 'admin-token-0123456789abcdef';
const METRICS = 'metrics-token-0123456789abcdef';
const MAX = 4;

/** Calls of `obj[name]` (a database lookup) while `fn` runs. */
async function lookups(obj: object, name: string, fn: () => Promise<void>): Promise<number> {
  const o = obj as Record<string, (...a: unknown[]) => unknown>;
  const had = Object.hasOwn(o, name);
  const orig = o[name]!;
  let n = 0;
  o[name] = function (this: unknown, ...a: unknown[]) { n++; return orig.apply(this, a); };
  try { await fn(); } finally { if (had) o[name] = orig; else delete o[name]; }
  return n;
}

/** A POST with the Host header given (fetch does not let a caller choose Host). */
function postWithHost(base: string, path: string, host: string, key: string, json?: unknown): Promise<{ status: number; body: any }> {
  const u = new URL(base);
  const data = json === undefined ? undefined : JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const r = request({ host: u.hostname, port: u.port, path, method: 'POST', headers: { host, 'x-vital-api-key': key, ...(data ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => { text += c; }).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    r.on('error', reject);
    r.end(data);
  });
}

const from = (ip: string, h: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...h });

for (const backend of backends()) {
  describe(`failed credentials are throttled per client address (C4, S5) (${backend.name})`, () => {
    let s: FacesSuite;
    facesSuite(backend, { adminToken: ADMIN, metricsToken: METRICS, trustProxy: ['127.0.0.1'], credentialThrottle: { maxFailures: MAX } }, (x) => { s = x; });

    test('a refused API key is refused again without a database query; the address then gets Junction\'s 429', async () => {
      const base = s.srv.baseUrl;
      const bad = 'sk_rst_guess_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
      const first = await call(base, 'GET', '/v2/user', { key: bad, headers: from('198.51.100.1') });
      assert.equal(first.status, 401);
      const n = await lookups(s.srv.built.services.teams, 'authenticate', async () => {
        for (let i = 1; i < MAX; i++) assert.equal((await call(base, 'GET', '/v2/user', { key: bad, headers: from('198.51.100.1') })).status, 401);
      });
      assert.equal(n, 0, 'repeated guesses of one key cost no query');
      const blocked = await call(base, 'GET', '/v2/user', { key: s.A.key, headers: from('198.51.100.1') });
      assert.equal(blocked.status, 429, blocked.text);
      assert.match(blocked.body.detail, /Too many failed authentication attempts/);
      assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
      // Another address is not affected, and the throttle cost no query either.
      assert.equal((await call(base, 'GET', '/v2/user', { key: s.A.key, headers: from('198.51.100.2') })).status, 200);
    });

    test('Onvy, basic, admin, metrics and /auth answer 429 in their own shapes', async () => {
      const base = s.srv.baseUrl;
      const fail = async (ip: string, path: string, req: Parameters<typeof call>[3], method = 'GET') => {
        for (let i = 0; i < MAX; i++) {
          const r = await call(base, method, path, { ...req, headers: { ...(req?.headers ?? {}), ...from(ip) } });
          assert.equal(r.status, 401, `${path}: ${r.text}`);
        }
        return call(base, method, path, { ...req, headers: { ...(req?.headers ?? {}), ...from(ip) } });
      };
      const onvy = await fail('203.0.113.1', '/onvy/users', { apiKey: 'nope-nope-nope-nope' });
      assert.equal(onvy.status, 429);
      assert.equal(onvy.body.error.code, 'RateLimited');
      const basic = await fail('203.0.113.2', '/basic/users', { bearer: 'nope-nope-nope-nope' });
      assert.equal(basic.status, 429);
      assert.equal(basic.body.code, 'RATE_LIMIT_EXCEEDED');
      assert.match(basic.body.requestId, /^req-/);
      const admin = await fail('203.0.113.3', '/admin/teams', { bearer: 'guess-0-aaaaaaaaaaaa' });
      assert.equal(admin.status, 429);
      assert.equal(admin.body.error.code, 'TOO_MANY_REQUESTS');
      // Even the right token waits: the address is throttled before any token is compared.
      assert.equal((await call(base, 'GET', '/admin/teams', { bearer: ADMIN, headers: from('203.0.113.3') })).status, 429);
      const metrics = await fail('203.0.113.4', '/metrics', { bearer: 'guess-aaaaaaaaaaaaaaaa' });
      assert.equal(metrics.status, 429);
      assert.match(metrics.body.detail, /Too many/);
      const form = { raw: 'grant_type=refresh_token&refresh_token=rt1.guess', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
      // The Google-shaped refresh (with `key`, as the iOS SDK sends it); without it the RFC 6749 dialect answers 400 invalid_grant.
      const auth = await fail('203.0.113.5', '/auth/v1/token?key=test-public-key', form, 'POST');
      assert.equal(auth.status, 429);
      assert.equal(auth.body.error.message, 'TOO_MANY_ATTEMPTS_TRY_LATER');
      for (const r of [onvy, basic, admin, metrics, auth]) assert.ok(Number(r.headers.get('retry-after')) >= 1);
    });

    test('the console\'s sign-in goes through the same throttle: its own page and 429, and repeated guesses cost no query', async () => {
      const base = s.srv.baseUrl;
      const signIn = (ip: string, token: string) => fetch(`${base}/admin/console/login`, {
        method: 'POST', redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...from(ip) },
        body: new URLSearchParams({ token, next: '/admin/console/' }).toString(),
      });
      // Refused API keys from one address: even the right admin token then waits on the console's page.
      for (let i = 0; i < MAX; i++) assert.equal((await call(base, 'GET', '/v2/user', { key: `sk_rst_console_${i}_aaaaaaaaaaaaaaaaaaaaaaa`, headers: from('203.0.113.20') })).status, 401);
      const held = await signIn('203.0.113.20', ADMIN);
      assert.equal(held.status, 429);
      assert.match(held.headers.get('content-type') ?? '', /^text\/html/);
      assert.ok(Number(held.headers.get('retry-after')) >= 1);
      assert.equal(held.headers.get('set-cookie'), null, 'no session');
      assert.ok((await held.text()).includes(SIGN_IN_FAILED));
      // Every console page waits too, a form post included (nothing looked at, nothing changed).
      const post = await fetch(`${base}/admin/console/teams`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', ...from('203.0.113.20') }, body: 'name=held-team' });
      assert.equal(post.status, 429);
      assert.match(await post.text(), /Too many failed authentication attempts/);
      // Wrong admin tokens in the console's form count for the address on every face.
      for (let i = 0; i < MAX; i++) assert.equal((await signIn('203.0.113.21', `wrong-admin-token-${i}-xxxxxxxx`)).status, 401);
      const junction = await call(base, 'GET', '/v2/user', { key: s.A.key, headers: from('203.0.113.21') });
      assert.equal(junction.status, 429);
      assert.match(junction.body.detail, /Too many failed authentication attempts/);
      // A forged session cookie is looked up once; the same one again costs no query.
      const sessions = s.srv.built.core.consoleSessions;
      const forged = `roster_console=${'A'.repeat(43)}`;
      const n = await lookups(sessions, 'find', async () => {
        for (let i = 0; i < 3; i++) {
          const r = await fetch(`${base}/admin/console/`, { redirect: 'manual', headers: { cookie: forged, ...from('203.0.113.22') } });
          assert.equal(r.status, 303);
        }
      });
      assert.equal(n, 1, 'one lookup of the forged session id, then from memory');
    });

    test('a refused refresh token is refused again, with the same code, without a database query', async () => {
      const base = s.srv.baseUrl;
      const form = { raw: 'grant_type=refresh_token&refresh_token=rt1.not-a-real-token', headers: { 'content-type': 'application/x-www-form-urlencoded', ...from('192.0.2.9') } };
      const first = await call(base, 'POST', '/auth/v1/token?key=test-public-key', form);
      assert.equal(first.status, 401);
      const n = await lookups(Object.getPrototypeOf(s.srv.built.services.authTokens), 'refresh', async () => {
        const again = await call(base, 'POST', '/auth/v1/token?key=test-public-key', form);
        assert.deepEqual([again.status, again.body.error.message], [401, first.body.error.message]);
      });
      assert.equal(n, 0, 'no lookup of the refused token');
    });

    test('X-Forwarded-For is believed only from a configured proxy (S5)', async () => {
      // The default app (no ROSTER_TRUST_PROXY) is covered below; here the socket is the trusted proxy,
      // so each forwarded address has its own count (the previous tests relied on it).
      const r = await call(s.srv.baseUrl, 'GET', '/v2/user', { key: s.A.key, headers: from('192.0.2.200') });
      assert.equal(r.status, 200);
    });
  });

  describe(`without ROSTER_TRUST_PROXY a forged X-Forwarded-For changes nothing (S5) (${backend.name})`, () => {
    let s: FacesSuite;
    facesSuite(backend, { credentialThrottle: { maxFailures: MAX } }, (x) => { s = x; });

    test('failures from one socket address count together, whatever X-Forwarded-For says', async () => {
      for (let i = 0; i < MAX; i++) {
        const r = await call(s.srv.baseUrl, 'GET', '/v2/user', { key: `sk_rst_guess_${i}_aaaaaaaaaaaaaaaaaaaaaaaaaa`, headers: from(`198.18.0.${i}`) });
        assert.equal(r.status, 401);
      }
      const r = await call(s.srv.baseUrl, 'GET', '/v2/user', { key: s.A.key, headers: from('198.18.1.1') });
      assert.equal(r.status, 429, 'the forwarded address was ignored: the socket address is throttled');
    });
  });

  describe(`links and token audiences never come from an unlisted Host (C10) (${backend.name})`, () => {
    let s: FacesSuite;
    facesSuite(backend, { allowedHosts: ['roster.example.org'] }, (x) => { s = x; });

    async function portalAndAudience(host: string): Promise<{ link: string; aud: string }> {
      const u = await call(s.srv.baseUrl, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: `c10-${host}-${Date.now()}` } });
      assert.equal(u.status, 200, u.text);
      const id = u.body.user_id as string;
      const d = await call(s.srv.baseUrl, 'PATCH', `/v2/user/${id}/info`, {
        key: s.A.key,
        json: { first_name: 'Casey', last_name: 'Doe', email: 'casey@example.com', phone_number: '+1 555 123 4567', gender: 'female', dob: '1975-05-06', address: { first_line: '1 Main St', country: 'US', zip: '10001', city: 'NYC', state: 'NY' } },
      });
      assert.ok(d.status < 300, d.text);
      const p = await postWithHost(s.srv.baseUrl, `/v2/user/${id}/create_portal_url`, host, s.A.key, { context: 'communications' });
      assert.equal(p.status, 200, JSON.stringify(p.body));
      const t = await postWithHost(s.srv.baseUrl, `/v2/user/${id}/sign_in_token`, host, s.A.key);
      assert.equal(t.status, 200, JSON.stringify(t.body));
      const userToken = JSON.parse(Buffer.from(t.body.sign_in_token, 'base64').toString('utf8')).user_token as string;
      const claims = JSON.parse(Buffer.from(userToken.split('.')[1]!, 'base64url').toString('utf8'));
      return { link: p.body.url, aud: claims.aud };
    }

    test('Host: attacker.example gives links to the address Roster listens on', async () => {
      const r = await portalAndAudience('attacker.example');
      assert.ok(r.link.startsWith(`${s.srv.baseUrl}/p/`), r.link);
      assert.equal(r.aud, `${s.srv.baseUrl}/auth/v1/token`);
    });

    test('a Host in ROSTER_ALLOWED_HOSTS is used', async () => {
      const r = await portalAndAudience('roster.example.org');
      assert.ok(r.link.startsWith('http://roster.example.org/p/'), r.link);
      assert.equal(r.aud, 'http://roster.example.org/auth/v1/token');
    });
  });
}

describe('key cache: a revocation wins over a lookup in flight (S1)', () => {
  test('an evict during the lookup keeps the result out of the cache', async () => {
    const p: Principal = { teamId: 't', keyId: 'k', role: 'full', mode: 'sandbox', rateLimitPerMinute: null };
    let release!: () => void;
    let calls = 0;
    const teams = { authenticate: () => { calls++; return new Promise<Principal>((r) => { release = () => r(p); }); } } as unknown as TeamsService;
    const keys = new KeyResolver(teams);
    const inFlight = keys.resolve('sk_rst_some_key_0123456789');
    keys.evict('anything'); // the revocation's NOTIFY arrives while the lookup waits
    release();
    await inFlight;
    assert.equal(keys.cached('sk_rst_some_key_0123456789'), undefined, 'not cached: the next request asks the database again');
    void keys.resolve('sk_rst_some_key_0123456789');
    assert.equal(calls, 2);
    release();
  });
});
