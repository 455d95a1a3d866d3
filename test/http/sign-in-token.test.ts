// U18 and /auth/v1/token, driven the way Junction's iOS SDK (tryVital/vital-ios, VitalJWTAuth.swift)
// uses them: get the token through the official Node SDK, decode it as the iOS SDK does, exchange,
// refresh, delete the user, and see every token refused. On each PostgreSQL backend.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { VitalClient, VitalError } from '@tryvital/vital-node';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { buildApp, type AppOptions, type BuiltApp } from '../../src/app.ts';
import { SDK_ISSUER_RE } from '../../src/domain/auth-tokens/index.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

interface Srv {
  baseUrl: string;
  built: BuiltApp;
  logs: string[];
  newTeam(mode?: 'sandbox' | 'production'): Promise<{ teamId: string; apiKey: string; client: VitalClient }>;
  close(): Promise<void>;
}

async function start(tdb: TestDatabase, extra: Partial<AppOptions> = {}): Promise<Srv> {
  const logs: string[] = [];
  const built = await buildApp({
    db: tdb.db,
    databaseUrl: tdb.url,
    logLevel: 'info',
    logStream: new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }),
    credentialThrottle: { maxFailures: 1_000_000 }, // many refused tokens on purpose (throttle: credential-throttle.test.ts)
    ...extra,
  });
  const baseUrl = await built.app.listen({ port: 0, host: '127.0.0.1' });
  let n = 0;
  return {
    baseUrl,
    built,
    logs,
    async newTeam(mode = 'sandbox') {
      const r = await built.services.teams.createTeam(`t-${++n}-${Math.random().toString(36).slice(2, 8)}`, mode);
      return { teamId: r.team.id, apiKey: r.apiKey, client: new VitalClient({ apiKey: r.apiKey, baseUrl, maxRetries: 0 }) };
    },
    close: () => built.close(),
  };
}

interface Res { status: number; headers: Headers; body: any; text: string }

async function req(url: string, init: RequestInit): Promise<Res> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: unknown;
  try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
  return { status: r.status, headers: r.headers, body, text };
}

/** The Google-shaped dialect (the `key` query parameter the iOS SDK sends); `oauth` below is the plain one. */
const form = (baseUrl: string, params: Record<string, string>, query = '?key=test-public-key') =>
  req(`${baseUrl}/auth/v1/token${query}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });

/** Foundation's `.urlQueryAllowed` escaping, which the iOS SDK applies to the refresh token. */
function urlQueryAllowed(s: string): string {
  return [...s].map((c) => (/[A-Za-z0-9!$&'()*+,\-./:;=?@_~]/.test(c) ? c : encodeURIComponent(c))).join('');
}

/** The refresh request byte for byte as VitalJWTAuth.refreshToken() sends it (host aside). */
const sdkRefresh = (baseUrl: string, refreshToken: string, publicKey: string) =>
  req(`${baseUrl}/auth/v1/token?key=${encodeURIComponent(publicKey)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=refresh_token&refresh_token=${urlQueryAllowed(refreshToken)}`,
  });

/** The sign-in request as VitalJWTAuth.signIn(with:) sends it (host aside). */
const sdkSignIn = (baseUrl: string, userToken: string, tenantId: string, publicKey: string) =>
  req(`${baseUrl}/auth/v1/accounts:signInWithCustomToken?key=${encodeURIComponent(publicKey)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ returnSecureToken: true, token: userToken, tenantId }),
  });

const exchange = (baseUrl: string, subject: string) => form(baseUrl, { grant_type: EXCHANGE, subject_token: subject, subject_token_type: JWT_TYPE });

/** Decodes a sign-in token exactly as VitalSignInToken.decode + unverifiedClaims do. */
function sdkDecode(signInToken: string) {
  assert.match(signInToken, /^[A-Za-z0-9+/]*={0,2}$/, 'standard base64, as Data(base64Encoded:) needs');
  assert.equal(signInToken.length % 4, 0);
  const outer = JSON.parse(Buffer.from(signInToken, 'base64').toString('utf8')) as { public_key: string; user_token: string };
  assert.deepEqual(Object.keys(outer).sort(), ['public_key', 'user_token']);
  const parts = outer.user_token.split('.');
  assert.equal(parts.length, 3, 'malformed JWT [0]');
  const pad = (s: string) => s + '='.repeat((4 - (s.length % 4)) % 4);
  for (const seg of parts.slice(0, 2)) assert.match(seg, /^[A-Za-z0-9+/]+$/, 'malformed JWT [1]: a standard-base64 decoder must read it');
  const header = JSON.parse(Buffer.from(pad(parts[0]!), 'base64').toString()) as Record<string, string>;
  for (const v of Object.values(header)) assert.equal(typeof v, 'string', 'header decodes as [String: String]');
  assert.equal(header.alg, 'RS256', 'malformed JWT [2]');
  assert.equal(header.typ, 'JWT', 'malformed JWT [2]');
  const claims = JSON.parse(Buffer.from(pad(parts[1]!), 'base64').toString()) as Record<string, any>;
  assert.equal(typeof claims.uid, 'string');
  assert.equal(typeof claims.tenant_id, 'string');
  assert.equal(typeof claims.claims?.vital_team_id, 'string');
  const m = SDK_ISSUER_RE.exec(claims.iss);
  assert.ok(m, `iss ${claims.iss} must match the SDK's pattern`);
  // Environment(environment:region:) in the SDK.
  assert.ok(['production', 'prd', 'sandbox', 'stg', 'dev'].includes(m[1]!) && ['us', 'eu'].includes(m[2]!));
  return { publicKey: outer.public_key, userToken: outer.user_token, header, claims, environment: m[1], region: m[2] };
}

function verifiesWith(jwt: string, spkiB64url: string): boolean {
  const key = createPublicKey({ key: Buffer.from(spkiB64url, 'base64url'), format: 'der', type: 'spki' });
  const [h, p, s] = jwt.split('.');
  return cryptoVerify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s!, 'base64url'));
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, any>;

/** Every auth error: JSON, 4xx, both shapes (Junction's detail and the SDK's error object). */
function assertAuthError(r: Res, status: number, errorType: string, code?: string) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.body?.detail?.error_type, errorType, r.text);
  assert.equal(typeof r.body.detail.error_message, 'string');
  assert.equal(typeof r.body.error?.message, 'string', 'the SDK decodes error.message');
  assert.equal(typeof r.body.error?.status, 'string', 'the SDK decodes error.status');
  assert.equal(r.body.error.code, status);
  if (code) assert.equal(r.body.error.message, code);
}

/** The refresh answer as the SDK decodes it (FirebaseTokenRefreshResponse: all strings). */
function assertTokenResponse(r: Res) {
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const b = r.body;
  for (const k of ['access_token', 'id_token', 'refresh_token', 'expires_in', 'token_type', 'user_id']) assert.equal(typeof b[k], 'string', k);
  assert.equal(b.id_token, b.access_token);
  assert.equal(b.token_type, 'Bearer');
  assert.match(b.expires_in, /^\d+$/);
  assert.match(b.refresh_token, /^[A-Za-z0-9._-]+$/, 'survives .urlQueryAllowed escaping unchanged');
  return b as { access_token: string; refresh_token: string; expires_in: string; user_id: string };
}

for (const backend of backends()) {
  describe(`sign-in tokens (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: Srv;
    let A: Awaited<ReturnType<Srv['newTeam']>>;
    let B: Awaited<ReturnType<Srv['newTeam']>>;

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await start(tdb);
      A = await srv.newTeam('sandbox');
      B = await srv.newTeam('production');
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('the whole SDK journey: token, decode, exchange once, refresh, rotation, delete → invalid_token', async () => {
      const user = await A.client.user.create({ clientUserId: 'mobile-1' });
      const r = await A.client.user.getUserSignInToken(user.userId);
      assert.equal(r.userId, user.userId);

      const t = sdkDecode(r.signInToken);
      assert.equal(typeof t.header.kid, 'string');
      assert.equal(t.claims.uid, user.userId);
      assert.equal(t.claims.tenant_id, A.teamId);
      assert.equal(t.claims.claims.vital_team_id, A.teamId);
      assert.equal(t.environment, 'sandbox');
      assert.equal(t.region, 'us');
      assert.equal(t.claims.aud, `${srv.baseUrl}/auth/v1/token`, 'aud names where to exchange');
      assert.equal(t.claims.exp - t.claims.iat, 3600, 'ROSTER_SIGN_IN_TOKEN_TTL_S default');
      assert.ok(verifiesWith(t.userToken, t.publicKey), 'public_key verifies the JWT');
      const jwks = await req(`${srv.baseUrl}/auth/v1/jwks`, { method: 'GET' });
      assert.equal(jwks.status, 200);
      assert.ok(jwks.body.keys.some((k: { kid: string }) => k.kid === t.header.kid));

      // Exchange (RFC 8693, form-encoded).
      const ex = await exchange(srv.baseUrl, t.userToken);
      const s1 = assertTokenResponse(ex);
      assert.equal(ex.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.equal(s1.expires_in, '3600');
      assert.equal(s1.user_id, user.userId);
      const access = claimsOf(s1.access_token);
      assert.equal(access.sub, user.userId);
      assert.equal(access.tenant_id, A.teamId);
      assert.equal(access.iss, `${srv.baseUrl}/auth`);
      assert.ok(verifiesWith(s1.access_token, t.publicKey));
      assert.deepEqual(await srv.built.services.authTokens.verifyAccessToken(s1.access_token), { teamId: A.teamId, userId: user.userId, sessionId: access.sid, mode: 'sandbox' });

      // Single use.
      assertAuthError(await exchange(srv.baseUrl, t.userToken), 401, 'invalid_token', 'INVALID_CUSTOM_TOKEN');

      // Refresh exactly as the SDK sends it → new tokens.
      const rf = await sdkRefresh(srv.baseUrl, s1.refresh_token, t.publicKey);
      const s2 = assertTokenResponse(rf);
      assert.notEqual(s2.refresh_token, s1.refresh_token);
      assert.equal(rf.body.issued_token_type, undefined);
      const s3 = assertTokenResponse(await sdkRefresh(srv.baseUrl, s2.refresh_token, t.publicKey));

      // The rotated-out token is refused (the SDK then asks for re-authentication)...
      assertAuthError(await sdkRefresh(srv.baseUrl, s1.refresh_token, t.publicKey), 401, 'invalid_token', 'INVALID_REFRESH_TOKEN');
      // ...and presenting it ended the session: the newest one is refused too.
      assertAuthError(await sdkRefresh(srv.baseUrl, s3.refresh_token, t.publicKey), 401, 'invalid_token', 'INVALID_REFRESH_TOKEN');

      // A new sign-in (through the request the iOS SDK really sends), then delete the user.
      const r2 = await A.client.user.getUserSignInToken(user.userId);
      const t2 = sdkDecode(r2.signInToken);
      const pending = sdkDecode((await A.client.user.getUserSignInToken(user.userId)).signInToken);
      const si = await sdkSignIn(srv.baseUrl, t2.userToken, t2.claims.tenant_id, t2.publicKey);
      assert.equal(si.status, 200, si.text);
      for (const k of ['idToken', 'refreshToken', 'expiresIn']) assert.equal(typeof si.body[k], 'string', k);
      assert.equal(si.body.expiresIn, '3600');
      const live = assertTokenResponse(await sdkRefresh(srv.baseUrl, si.body.refreshToken, t2.publicKey));

      await A.client.user.delete(user.userId);
      // USER_NOT_FOUND is what makes the iOS SDK sign out.
      assertAuthError(await sdkRefresh(srv.baseUrl, live.refresh_token, t2.publicKey), 401, 'invalid_token', 'USER_NOT_FOUND');
      assertAuthError(await exchange(srv.baseUrl, pending.userToken), 401, 'invalid_token', 'USER_NOT_FOUND');
      assertAuthError(await sdkSignIn(srv.baseUrl, pending.userToken, A.teamId, pending.publicKey), 401, 'invalid_token');
      await assert.rejects(srv.built.services.authTokens.verifyAccessToken(live.access_token));
      const gone = await req(`${srv.baseUrl}/v2/user/${user.userId}/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': A.apiKey } });
      assert.equal(gone.status, 404);
      assert.deepEqual(gone.body, { detail: 'User not found' });

      // Undo brings the user back, not its tokens (like connections).
      await A.client.user.undoDelete({ userId: user.userId });
      assertAuthError(await sdkRefresh(srv.baseUrl, live.refresh_token, t2.publicKey), 401, 'invalid_token', 'USER_NOT_FOUND');
      assertAuthError(await exchange(srv.baseUrl, pending.userToken), 401, 'invalid_token');
      const fresh = sdkDecode((await A.client.user.getUserSignInToken(user.userId)).signInToken);
      assertTokenResponse(await exchange(srv.baseUrl, fresh.userToken));

      // Secrets never reach the log.
      const log = srv.logs.join('');
      for (const secret of [t.userToken, s1.refresh_token, s2.refresh_token, live.refresh_token, s1.access_token]) assert.ok(!log.includes(secret));
    });

    test('the whole base64 sign-in token works as subject_token too; a production team gets a production issuer', async () => {
      const u = await B.client.user.create({ clientUserId: 'prod-1' });
      const raw = (await B.client.user.getUserSignInToken(u.userId)).signInToken;
      const t = sdkDecode(raw);
      assert.equal(t.environment, 'production');
      const r = await form(srv.baseUrl, { grant_type: EXCHANGE, subject_token: raw, subject_token_type: 'urn:junction:sign-in-token' });
      const set = assertTokenResponse(r);
      assert.equal(set.user_id, u.userId);
      // A charset parameter on the form content type is fine.
      const cs = await req(`${srv.baseUrl}/auth/v1/token?key=k`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, body: `grant_type=refresh_token&refresh_token=${set.refresh_token}` });
      assertTokenResponse(cs);
    });

    test('each call issues a new token; tokens are user- and team-scoped', async () => {
      const u = await A.client.user.create({ clientUserId: 'scope-1' });
      const a = (await A.client.user.getUserSignInToken(u.userId)).signInToken;
      const b = (await A.client.user.getUserSignInToken(u.userId)).signInToken;
      assert.notEqual(a, b);
      assert.notEqual(sdkDecode(a).claims.jti, sdkDecode(b).claims.jti);
      // Another team's key cannot get a token for this user.
      await assert.rejects(B.client.user.getUserSignInToken(u.userId), (e: unknown) => e instanceof VitalError && e.statusCode === 404);
      const raw = await req(`${srv.baseUrl}/v2/user/${u.userId}/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': B.apiKey } });
      assert.deepEqual([raw.status, raw.body], [404, { detail: 'User not found' }]);
    });

    test('U18 errors: 401 without a key, 422 uuid_parsing, 404 unknown user; no body or content type needed', async () => {
      const u = await A.client.user.create({ clientUserId: 'u18-errors' });
      const noKey = await req(`${srv.baseUrl}/v2/user/${u.userId}/sign_in_token`, { method: 'POST' });
      assert.equal(noKey.status, 401);
      const badKey = await req(`${srv.baseUrl}/v2/user/${u.userId}/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': 'sk_rst_nope_nope_nope_nope' } });
      assert.equal(badKey.status, 401);
      const bad = await req(`${srv.baseUrl}/v2/user/not-a-uuid/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': A.apiKey } });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.detail[0].type, 'uuid_parsing');
      assert.deepEqual(bad.body.detail[0].loc, ['path', 'user_id']);
      const unknown = await req(`${srv.baseUrl}/v2/user/0190a3b0-0000-7000-8000-00000000dead/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': A.apiKey } });
      assert.deepEqual([unknown.status, unknown.body], [404, { detail: 'User not found' }]);
      // A body and a content type, if sent anyway, change nothing.
      const withBody = await req(`${srv.baseUrl}/v2/user/${u.userId}/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': A.apiKey, 'content-type': 'application/json' }, body: '{}' });
      assert.equal(withBody.status, 200);
      assert.equal(withBody.headers.get('cache-control'), 'no-store');
      const simple = await req(`${srv.baseUrl}/v2/user/${u.userId.replace(/-/g, '')}/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': A.apiKey } });
      assert.equal(simple.status, 200);
      assert.equal(simple.body.user_id, u.userId);
    });

    test('U18 with an Idempotency-Key: a retry replays the same (still single-use) token', async () => {
      const u = await A.client.user.create({ clientUserId: 'idem-1' });
      const call = () => req(`${srv.baseUrl}/v2/user/${u.userId}/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': A.apiKey, 'idempotency-key': `sit-${u.userId}` } });
      const first = await call();
      assert.equal(first.status, 200, first.text);
      const again = await call();
      assert.equal(again.status, 200);
      assert.equal(again.body.sign_in_token, first.body.sign_in_token);
      const t = sdkDecode(first.body.sign_in_token);
      assertTokenResponse(await exchange(srv.baseUrl, t.userToken));
      assertAuthError(await exchange(srv.baseUrl, sdkDecode(again.body.sign_in_token).userToken), 401, 'invalid_token');
    });

    test('tampered, foreign and garbage tokens → 401 invalid_token, never 500', async () => {
      const u = await A.client.user.create({ clientUserId: 'tamper-1' });
      const t = sdkDecode((await A.client.user.getUserSignInToken(u.userId)).signInToken);
      const [h, p, s] = t.userToken.split('.') as [string, string, string];
      const sig = s.slice(0, 5) + (s[5] === 'A' ? 'B' : 'A') + s.slice(6);
      assertAuthError(await exchange(srv.baseUrl, `${h}.${p}.${sig}`), 401, 'invalid_token', 'INVALID_CUSTOM_TOKEN');
      const forged = Buffer.from(JSON.stringify({ ...t.claims, uid: '0190a3b0-0000-7000-8000-000000000bad' })).toString('base64url');
      assertAuthError(await exchange(srv.baseUrl, `${h}.${forged}.${s}`), 401, 'invalid_token');
      const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      assertAuthError(await exchange(srv.baseUrl, `${none}.${p}.`), 401, 'invalid_token');
      for (const g of ['garbage', 'a.b.c', Buffer.from('{"public_key":"x","user_token":"y"}').toString('base64'), 'x'.repeat(20_000), '%00', '😀']) {
        assertAuthError(await exchange(srv.baseUrl, g), 401, 'invalid_token');
        assertAuthError(await sdkSignIn(srv.baseUrl, g, A.teamId, 'k'), 401, 'invalid_token');
      }
      for (const g of ['garbage', 'rt1.abc.def', `rt1.${A.teamId.replace(/-/g, '')}.${'A'.repeat(43)}`, `rt1.${'f'.repeat(32)}.${'A'.repeat(43)}`, 'x'.repeat(20_000)]) {
        assertAuthError(await form(srv.baseUrl, { grant_type: 'refresh_token', refresh_token: g }), 401, 'invalid_token', 'INVALID_REFRESH_TOKEN');
      }
      // The untouched token still works: nothing above consumed it.
      assertTokenResponse(await exchange(srv.baseUrl, t.userToken));
    });

    test('bad requests on the token endpoint → 400 in the same error shape', async () => {
      const url = `${srv.baseUrl}/auth/v1/token?key=k`;
      assertAuthError(await form(srv.baseUrl, {}), 400, 'invalid_request', 'MISSING_GRANT_TYPE');
      assertAuthError(await form(srv.baseUrl, { grant_type: 'password', username: 'a', password: 'b' }), 400, 'unsupported_grant_type', 'INVALID_GRANT_TYPE');
      assertAuthError(await form(srv.baseUrl, { grant_type: 'refresh_token' }), 400, 'invalid_request', 'MISSING_REFRESH_TOKEN');
      assertAuthError(await form(srv.baseUrl, { grant_type: EXCHANGE }), 400, 'invalid_request', 'MISSING_SUBJECT_TOKEN');
      assertAuthError(await form(srv.baseUrl, { grant_type: EXCHANGE, subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 400, 'invalid_request', 'INVALID_SUBJECT_TOKEN_TYPE');
      assertAuthError(await form(srv.baseUrl, { grant_type: EXCHANGE, subject_token: 'x', requested_token_type: 'urn:x' }), 400, 'invalid_request');
      // JSON instead of a form.
      assertAuthError(await req(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: 'x' }) }), 400, 'invalid_request', 'INVALID_CONTENT_TYPE');
      assertAuthError(await req(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' }), 400, 'invalid_request');
      assertAuthError(await req(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'grant_type=refresh_token' }), 400, 'invalid_request', 'INVALID_CONTENT_TYPE');
      assertAuthError(await req(url, { method: 'POST' }), 400, 'invalid_request', 'MISSING_GRANT_TYPE');
      assertAuthError(await req(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&grant_type=refresh_token&refresh_token=x' }), 400, 'invalid_request', 'DUPLICATE_PARAMETER');
      assertAuthError(await req(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '%%%&&&==' }), 400, 'invalid_request');
      assertAuthError(await req(url, { method: 'GET' }), 404, 'not_found');
      // The SDK-shaped sign-in route wants JSON with a token.
      const si = `${srv.baseUrl}/auth/v1/accounts:signInWithCustomToken`;
      assertAuthError(await req(si, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400, 'invalid_request', 'MISSING_CUSTOM_TOKEN');
      assertAuthError(await req(si, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' }), 400, 'invalid_request');
      assertAuthError(await req(si, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' }), 400, 'invalid_request', 'INVALID_CONTENT_TYPE');
      assertAuthError(await req(si, { method: 'POST' }), 400, 'invalid_request');
      const u = await A.client.user.create({ clientUserId: 'tenant-mismatch' });
      const t = sdkDecode((await A.client.user.getUserSignInToken(u.userId)).signInToken);
      assertAuthError(await sdkSignIn(srv.baseUrl, t.userToken, B.teamId, t.publicKey), 400, 'invalid_request', 'TENANT_ID_MISMATCH');
    });

    test('concurrent exchanges of one sign-in token: exactly one wins; concurrent refreshes: exactly one wins', async () => {
      const u = await A.client.user.create({ clientUserId: 'race-1' });
      const t = sdkDecode((await A.client.user.getUserSignInToken(u.userId)).signInToken);
      const rs = await Promise.all(Array.from({ length: 8 }, () => exchange(srv.baseUrl, t.userToken)));
      assert.deepEqual(rs.map((r) => r.status).sort(), [200, 401, 401, 401, 401, 401, 401, 401]);
      const ok = rs.find((r) => r.status === 200)!.body;
      const rr = await Promise.all(Array.from({ length: 6 }, () => form(srv.baseUrl, { grant_type: 'refresh_token', refresh_token: ok.refresh_token })));
      assert.equal(rr.filter((r) => r.status === 200).length, 1);
      for (const r of rr) if (r.status !== 200) assertAuthError(r, 401, 'invalid_token');
    });
  });

  describe(`sign-in tokens: expiry and instances (${backend.name})`, () => {
    let tdb: TestDatabase;
    after(async () => {
      await tdb?.drop();
    });

    test('expired sign-in and refresh tokens → invalid_token TOKEN_EXPIRED (injected clock, tiny TTLs)', async () => {
      tdb = await freshDatabase(backend);
      let t = Date.now();
      const srv = await start(tdb, { now: () => new Date(t), authTokens: { signInTokenTtlS: 5, accessTokenTtlS: 2, refreshTokenTtlS: 30, region: 'eu' }, publicUrl: 'https://roster.example.org' });
      try {
        const A = await srv.newTeam();
        const u = await A.client.user.create({ clientUserId: 'exp-1' });
        const tok = sdkDecode((await A.client.user.getUserSignInToken(u.userId)).signInToken);
        assert.equal(tok.region, 'eu');
        assert.equal(tok.claims.exp - tok.claims.iat, 5);
        assert.equal(tok.claims.aud, 'https://roster.example.org/auth/v1/token', 'ROSTER_PUBLIC_URL wins over the request host');
        const late = sdkDecode((await A.client.user.getUserSignInToken(u.userId)).signInToken);
        const set = assertTokenResponse(await exchange(srv.baseUrl, tok.userToken));
        assert.equal(set.expires_in, '2');
        t += 6_000;
        assertAuthError(await exchange(srv.baseUrl, late.userToken), 401, 'invalid_token', 'TOKEN_EXPIRED');
        await assert.rejects(srv.built.services.authTokens.verifyAccessToken(set.access_token));
        const next = assertTokenResponse(await form(srv.baseUrl, { grant_type: 'refresh_token', refresh_token: set.refresh_token }));
        t += 31_000;
        assertAuthError(await form(srv.baseUrl, { grant_type: 'refresh_token', refresh_token: next.refresh_token }), 401, 'invalid_token', 'TOKEN_EXPIRED');
      } finally {
        await srv.close();
      }
    });

    test('two instances on one database: the first key is made once; tokens from one work on the other', async () => {
      const db2 = await freshDatabase(backend);
      // A short key cache, so the rotation below reaches the other instance within the test, and
      // a clock that moves only when told, so key activation does not depend on machine load.
      let t = Date.now();
      // One public URL for both, as behind one load balancer: the sign-in token's `aud` names it.
      const opts = { authTokens: { keyCacheMs: 300 }, now: () => new Date(t), publicUrl: 'https://roster.example.org' };
      const [s1, s2] = [await start(db2, opts), await start(db2, opts)];
      try {
        const A = await s1.newTeam();
        const usersA = await Promise.all(Array.from({ length: 4 }, (_, i) => A.client.user.create({ clientUserId: `multi-${i}` })));
        const client2 = new VitalClient({ apiKey: A.apiKey, baseUrl: s2.baseUrl, maxRetries: 0 });
        const tokens = await Promise.all(usersA.flatMap((u) => [A.client.user.getUserSignInToken(u.userId), client2.user.getUserSignInToken(u.userId)]));
        const keys = await db2.db.kysely.selectFrom('auth_signing_keys').select('kid').execute();
        assert.equal(keys.length, 1);
        assert.ok(tokens.every((t) => sdkDecode(t.signInToken).header.kid === keys[0]!.kid));
        const set = assertTokenResponse(await exchange(s2.baseUrl, sdkDecode(tokens[0]!.signInToken).userToken));
        assertTokenResponse(await form(s1.baseUrl, { grant_type: 'refresh_token', refresh_token: set.refresh_token }));
        // Rotation on one instance: the new key signs only once the other instance has loaded it.
        t += 1_000;
        const { kid } = await s1.built.services.authTokens.rotateSigningKey();
        const older = sdkDecode((await A.client.user.getUserSignInToken(usersA[1]!.userId)).signInToken);
        assert.equal(older.header.kid, keys[0]!.kid);
        await new Promise((r) => setTimeout(r, 400)); // s2's key cache goes stale
        t += 1_000; // the new key is now old enough to sign
        const newer = sdkDecode((await A.client.user.getUserSignInToken(usersA[1]!.userId)).signInToken);
        assert.equal(newer.header.kid, kid);
        assertTokenResponse(await exchange(s2.baseUrl, older.userToken));
        assertTokenResponse(await exchange(s2.baseUrl, newer.userToken));
        assertTokenResponse(await exchange(s2.baseUrl, sdkDecode(tokens[2]!.signInToken).userToken));
      } finally {
        await s1.close();
        await s2.close();
        await db2.drop();
      }
    });
  });
}
