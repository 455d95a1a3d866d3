// Issue 15, mobile tokens and portal links, over real HTTP on each backend:
// - the mobile flow end to end: sign-in token → RFC 8693 exchange → Bearer call on the user's own
//   providers list → RFC 6749 refresh → user deleted → refused;
// - the two dialects of /auth/v1/token (RFC with no `key`, Google-shaped with it);
// - Bearer scope (own user only, listed routes only), its 250/hour limit (through Redis when
//   REDIS_URL is set), ending sessions through the admin API;
// - S4 aud; C9 portal links after delete/undo and revoked through the admin API; S2 rotations
//   with a grace period (CLI: test/cli/keys.test.ts); C15 secrets sealed with ROSTER_SECRET_KEY.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { backends, freshDatabase, type TestDatabase, testRedis } from '../support/backends.ts';
import { call, type RawResponse } from '../support/junction-http.ts';
import { demographicsBody } from '../support/records.ts';
import { buildApp, type AppOptions, type BuiltApp } from '../../src/app.ts';
import { BEARER_LIMIT } from '../../src/http/bearer.ts';

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ADMIN = 'admin-token-for-mobile-tokens-test';
const SECRET_KEY = 'k'.repeat(16) + 'an-operator-chosen-secret-key-0123';

interface Srv { baseUrl: string; built: BuiltApp; logs: string[]; close(): Promise<void> }

async function start(tdb: TestDatabase, extra: Partial<AppOptions> = {}): Promise<Srv> {
  const logs: string[] = [];
  const built = await buildApp({
    db: tdb.db, databaseUrl: tdb.url, logLevel: 'info', adminToken: ADMIN,
    logStream: new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } }),
    ...extra,
  });
  const baseUrl = await built.app.listen({ port: 0, host: '127.0.0.1' });
  return { baseUrl, built, logs, close: () => built.close() };
}

async function team(s: Srv, mode: 'sandbox' | 'production' = 'sandbox') {
  const r = await s.built.services.teams.createTeam(`mt-${Math.random().toString(36).slice(2, 10)}`, mode);
  return { teamId: r.team.id, key: r.apiKey };
}

async function user(s: Srv, key: string, withDemographics = false): Promise<string> {
  const r = await call(s.baseUrl, 'POST', '/v2/user', { key, json: { client_user_id: `m-${Math.random().toString(36).slice(2, 12)}` } });
  assert.equal(r.status, 200, r.text);
  if (withDemographics) assert.equal((await call(s.baseUrl, 'PATCH', `/v2/user/${r.body.user_id}/info`, { key, json: demographicsBody() })).status, 200);
  return r.body.user_id as string;
}

async function signInJwt(s: Srv, key: string, userId: string): Promise<string> {
  const r = await call(s.baseUrl, 'POST', `/v2/user/${userId}/sign_in_token`, { key });
  assert.equal(r.status, 200, r.text);
  return (JSON.parse(Buffer.from(r.body.sign_in_token, 'base64').toString()) as { user_token: string }).user_token;
}

const oauth = (s: Srv, params: Record<string, string>, query = '') =>
  call(s.baseUrl, 'POST', `/auth/v1/token${query}`, { raw: new URLSearchParams(params).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

/** RFC 6749 §5.1: the success answer; `expires_in` a JSON number. */
function assertOAuthTokens(r: RawResponse, exchange: boolean) {
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(typeof r.body.access_token, 'string');
  assert.equal(r.body.token_type, 'Bearer');
  assert.equal(typeof r.body.expires_in, 'number', 'RFC 6749 §5.1: numerical values are JSON numbers');
  assert.equal(typeof r.body.refresh_token, 'string');
  assert.equal(r.body.issued_token_type, exchange ? 'urn:ietf:params:oauth:token-type:access_token' : undefined);
  return r.body as { access_token: string; refresh_token: string; expires_in: number };
}

/** RFC 6749 §5.2: `{"error", "error_description"}` with 400 and no-store. */
function assertOAuthError(r: RawResponse, error: string, status = 400) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(r.body?.error, error, r.text);
  assert.equal(typeof r.body.error_description, 'string');
  assert.deepEqual(Object.keys(r.body).sort(), ['error', 'error_description']);
}

for (const backend of backends()) {
  describe(`mobile tokens end to end (${backend.name})`, () => {
    let tdb: TestDatabase;
    let s: Srv;
    let redis: Redis | null = null;
    before(async () => {
      tdb = await freshDatabase(backend);
      redis = await testRedis(); // REDIS_URL set but unreachable: fails loudly
      s = await start(tdb, { redis });
    });
    after(async () => {
      await s?.close();
      await redis?.quit();
      await tdb?.drop();
    });

    test('sign-in token → exchange → Bearer on own providers → refresh → user deleted → refused', async () => {
      const A = await team(s);
      const u = await user(s, A.key);
      const other = await user(s, A.key);
      const ex = assertOAuthTokens(await oauth(s, { grant_type: EXCHANGE, subject_token: await signInJwt(s, A.key, u), subject_token_type: JWT_TYPE }), true);
      assert.equal(ex.expires_in, 3600);

      const own = await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: ex.access_token });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(own.body, { providers: [] });
      // Another user's id (same team) answers as an unknown user would; so does a made-up one.
      const theirs = await call(s.baseUrl, 'GET', `/v2/user/providers/${other}`, { bearer: ex.access_token });
      assert.deepEqual([theirs.status, theirs.body], [404, { detail: 'User not found' }]);
      assert.equal((await call(s.baseUrl, 'GET', `/v2/user/${other}`, { bearer: ex.access_token })).status, 404);
      // Its own record is fine; routes the SDK does not call for its user are not for access tokens.
      assert.equal((await call(s.baseUrl, 'GET', `/v2/user/${u}`, { bearer: ex.access_token })).status, 200);
      assert.equal((await call(s.baseUrl, 'GET', '/v2/user', { bearer: ex.access_token })).status, 403);
      assert.equal((await call(s.baseUrl, 'POST', `/v2/user/${u}/sign_in_token`, { bearer: ex.access_token })).status, 403);
      assert.equal((await call(s.baseUrl, 'PATCH', `/v2/user/${u}/info`, { bearer: ex.access_token, json: demographicsBody() })).status, 403);
      // Garbage and tampered tokens: 401 in the face's shape.
      const bad = await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: 'not-a-token' });
      assert.deepEqual([bad.status, typeof bad.body.detail], [401, 'string']);
      assert.equal((await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: ex.access_token.slice(0, -3) + 'AAA' })).status, 401);

      const rf = assertOAuthTokens(await oauth(s, { grant_type: 'refresh_token', refresh_token: ex.refresh_token }), false);
      assert.equal((await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: rf.access_token })).status, 200);

      assert.equal((await call(s.baseUrl, 'DELETE', `/v2/user/${u}`, { key: A.key })).status, 200);
      const gone = await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: rf.access_token });
      assert.equal(gone.status, 401, gone.text);
      assertOAuthError(await oauth(s, { grant_type: 'refresh_token', refresh_token: rf.refresh_token }), 'invalid_grant');
      // Undo brings the user back, not its sessions.
      assert.equal((await call(s.baseUrl, 'POST', `/v2/user/undo_delete?user_id=${u}`, { key: A.key })).status, 200);
      assert.equal((await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: rf.access_token })).status, 401);

      const log = s.logs.join('');
      for (const secret of [ex.access_token, ex.refresh_token, rf.access_token, rf.refresh_token]) assert.ok(!log.includes(secret), 'no token in the log');
    });

    test('RFC dialect (no key parameter): errors per RFC 6749 §5.2 and RFC 8693 §2.2.2', async () => {
      const A = await team(s);
      const u = await user(s, A.key);
      assertOAuthError(await oauth(s, {}), 'invalid_request');
      assertOAuthError(await oauth(s, { grant_type: 'password', username: 'a', password: 'b' }), 'unsupported_grant_type');
      assertOAuthError(await oauth(s, { grant_type: 'refresh_token' }), 'invalid_request');
      assertOAuthError(await oauth(s, { grant_type: 'refresh_token', refresh_token: 'garbage' }), 'invalid_grant');
      assertOAuthError(await oauth(s, { grant_type: EXCHANGE, subject_token: 'x' }), 'invalid_request'); // subject_token_type is required
      assertOAuthError(await oauth(s, { grant_type: EXCHANGE, subject_token: 'garbage', subject_token_type: JWT_TYPE }), 'invalid_request');
      assertOAuthError(await call(s.baseUrl, 'POST', '/auth/v1/token', { json: { grant_type: 'refresh_token' } }), 'invalid_request');
      assertOAuthError(await call(s.baseUrl, 'POST', '/auth/v1/token', { raw: 'grant_type=a&grant_type=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 'invalid_request');
      const jwt = await signInJwt(s, A.key, u);
      assertOAuthTokens(await oauth(s, { grant_type: EXCHANGE, subject_token: jwt, subject_token_type: JWT_TYPE }), true);
      assertOAuthError(await oauth(s, { grant_type: EXCHANGE, subject_token: jwt, subject_token_type: JWT_TYPE }), 'invalid_request'); // used
      // The Google-shaped call (key parameter) keeps Secure Token's shape: expires_in a string.
      const g = await oauth(s, { grant_type: EXCHANGE, subject_token: await signInJwt(s, A.key, u) }, '?key=AIzaPublic');
      assert.equal(g.status, 200, g.text);
      assert.equal(g.body.expires_in, '3600');
      assert.equal(g.body.id_token, g.body.access_token);
      const ge = await oauth(s, { grant_type: 'refresh_token', refresh_token: 'garbage' }, '?key=AIzaPublic');
      assert.deepEqual([ge.status, ge.body.error.message, ge.body.error.status], [401, 'INVALID_REFRESH_TOKEN', 'UNAUTHENTICATED']);
    });

    test(`Bearer calls: at most ${BEARER_LIMIT.max} per hour per user, shared by every instance`, async () => {
      const s2 = await start(tdb, { redis });
      try {
        const A = await team(s);
        const u = await user(s, A.key);
        const v = await user(s, A.key);
        const t1 = assertOAuthTokens(await oauth(s, { grant_type: EXCHANGE, subject_token: await signInJwt(s, A.key, u), subject_token_type: JWT_TYPE }), true);
        // A second session of the same user counts against the same budget.
        const t2 = assertOAuthTokens(await oauth(s, { grant_type: EXCHANGE, subject_token: await signInJwt(s, A.key, u), subject_token_type: JWT_TYPE }), true);
        const tv = assertOAuthTokens(await oauth(s, { grant_type: EXCHANGE, subject_token: await signInJwt(s, A.key, v), subject_token_type: JWT_TYPE }), true);
        // With Redis the two instances share one count; without it each counts for itself.
        const half = redis ? BEARER_LIMIT.max / 2 : BEARER_LIMIT.max;
        const targets = redis ? [s, s2] : [s];
        const statuses: number[] = [];
        for (const srv of targets) {
          for (let i = 0; i < half; i++) {
            statuses.push((await call(srv.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: i % 2 ? t1.access_token : t2.access_token })).status);
          }
        }
        assert.deepEqual([...new Set(statuses)], [200]);
        const over = await call(s.baseUrl, 'GET', `/v2/user/providers/${u.replace(/-/g, '').toUpperCase()}`, { bearer: t1.access_token });
        assert.equal(over.status, 429, over.text);
        assert.ok(Number(over.headers.get('retry-after')) > 0);
        assert.equal(typeof over.body.detail, 'string');
        // Another user has a budget of its own; API keys are not affected.
        assert.equal((await call(s.baseUrl, 'GET', `/v2/user/providers/${v}`, { bearer: tv.access_token })).status, 200);
        assert.equal((await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { key: A.key })).status, 200);
      } finally {
        await s2.close();
      }
    });

    test('S4: the admin API ends a user\'s sessions; refresh and Bearer are refused, a new sign-in works', async () => {
      const A = await team(s);
      const u = await user(s, A.key);
      const t = assertOAuthTokens(await oauth(s, { grant_type: EXCHANGE, subject_token: await signInJwt(s, A.key, u), subject_token_type: JWT_TYPE }), true);
      const pending = await signInJwt(s, A.key, u);
      const end = await call(s.baseUrl, 'POST', `/admin/teams/${A.teamId}/users/${u}/end-sessions`, { bearer: ADMIN });
      assert.equal(end.status, 200, end.text);
      assert.deepEqual(end.body, { team_id: A.teamId, user_id: u, sessions_ended: 1, sign_in_tokens_revoked: 1 });
      assert.equal((await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: t.access_token })).status, 401);
      assertOAuthError(await oauth(s, { grant_type: 'refresh_token', refresh_token: t.refresh_token }), 'invalid_grant');
      assertOAuthError(await oauth(s, { grant_type: EXCHANGE, subject_token: pending, subject_token_type: JWT_TYPE }), 'invalid_request');
      const again = assertOAuthTokens(await oauth(s, { grant_type: EXCHANGE, subject_token: await signInJwt(s, A.key, u), subject_token_type: JWT_TYPE }), true);
      assert.equal((await call(s.baseUrl, 'GET', `/v2/user/providers/${u}`, { bearer: again.access_token })).status, 200);
      // Another team's id, an unknown user, no admin token.
      const B = await team(s);
      assert.equal((await call(s.baseUrl, 'POST', `/admin/teams/${B.teamId}/users/${u}/end-sessions`, { bearer: ADMIN })).status, 404);
      assert.equal((await call(s.baseUrl, 'POST', `/admin/teams/${A.teamId}/users/${u}/end-sessions`)).status, 401);
      assert.equal((await call(s.baseUrl, 'POST', `/admin/teams/${A.teamId}/users/not-a-uuid/end-sessions`, { bearer: ADMIN })).status, 400);
    });

    test('S4: a sign-in token is refused at another server than its aud names', async () => {
      const here = await start(tdb, { publicUrl: 'https://roster-a.example.org' });
      const there = await start(tdb, { publicUrl: 'https://roster-b.example.org' });
      try {
        const A = await team(here);
        const u = await user(here, A.key);
        const jwt = await signInJwt(here, A.key, u);
        assertOAuthError(await oauth(there, { grant_type: EXCHANGE, subject_token: jwt, subject_token_type: JWT_TYPE }), 'invalid_request');
        assertOAuthTokens(await oauth(here, { grant_type: EXCHANGE, subject_token: jwt, subject_token_type: JWT_TYPE }), true);
      } finally {
        await here.close();
        await there.close();
      }
    });

    test('C9: deleting a user revokes its portal links for good; the admin API revokes one link or all', async () => {
      const A = await team(s);
      const u = await user(s, A.key, true);
      const link = async (context: 'launch' | 'communications') => {
        const r = await call(s.baseUrl, 'POST', `/v2/user/${u}/create_portal_url`, { key: A.key, json: { context } });
        assert.equal(r.status, 200, r.text);
        return new URL(r.body.url).pathname;
      };
      const open = async (path: string) => (await call(s.baseUrl, 'GET', path)).status;
      const launch = await link('launch');
      const comm = await link('communications');
      assert.deepEqual([await open(launch), await open(comm)], [200, 200]);
      assert.equal((await call(s.baseUrl, 'DELETE', `/v2/user/${u}`, { key: A.key })).status, 200);
      assert.equal((await call(s.baseUrl, 'POST', `/v2/user/undo_delete?user_id=${u}`, { key: A.key })).status, 200);
      assert.deepEqual([await open(launch), await open(comm)], [404, 404], 'links issued before the delete stay dead after the undo');
      // New links work; one short link is revoked through the admin API.
      const comm2 = await link('communications');
      const comm3 = await link('communications');
      const launch2 = await link('launch');
      const code = comm2.split('/').pop()!;
      const B = await team(s);
      assert.equal((await call(s.baseUrl, 'DELETE', `/admin/teams/${B.teamId}/portal-links/${code}`, { bearer: ADMIN })).status, 404, 'another team cannot');
      assert.equal((await call(s.baseUrl, 'DELETE', `/admin/teams/${A.teamId}/portal-links/${code}`, { bearer: ADMIN })).status, 204);
      assert.equal((await call(s.baseUrl, 'DELETE', `/admin/teams/${A.teamId}/portal-links/${code}`, { bearer: ADMIN })).status, 404, 'already revoked');
      assert.deepEqual([await open(comm2), await open(comm3), await open(launch2)], [404, 200, 200]);
      // Every link of the user at once.
      const all = await call(s.baseUrl, 'POST', `/admin/teams/${A.teamId}/users/${u}/revoke-portal-links`, { bearer: ADMIN });
      assert.deepEqual([all.status, all.body?.stored_links_revoked], [200, 1], all.text);
      assert.deepEqual([await open(comm3), await open(launch2)], [404, 404]);
      assert.equal(await open(await link('launch')), 200, 'links made afterwards work');
    });

    test('S2: a portal rotation keeps links already sent working through the grace period, then not', async () => {
      const A = await team(s);
      const u = await user(s, A.key, true);
      const mk = async () => new URL((await call(s.baseUrl, 'POST', `/v2/user/${u}/create_portal_url`, { key: A.key, json: { context: 'launch' } })).body.url).pathname;
      const before = await mk();
      await s.built.services.portal.rotateSecret(3600);
      const after = await mk();
      assert.notEqual(before.split('.')[1], after.split('.')[1]);
      // A second instance (its own cache) opens both.
      const other = await start(tdb);
      try {
        assert.deepEqual([(await call(other.baseUrl, 'GET', before)).status, (await call(other.baseUrl, 'GET', after)).status], [200, 200]);
        await s.built.services.portal.rotateSecret(0);
        const newest = await mk();
        // The other instance looks again on a miss at most once a second (made-up links must not
        // each cost a query); its last look was just now.
        await new Promise((r) => setTimeout(r, 1100));
        assert.equal((await call(s.baseUrl, 'GET', before)).status, 403);
        assert.equal((await call(s.baseUrl, 'GET', after)).status, 403);
        assert.equal((await call(other.baseUrl, 'GET', newest)).status, 200, 'found by the other instance on a miss');
      } finally {
        await other.close();
      }
    });
  });

  describe(`secrets at rest with ROSTER_SECRET_KEY (${backend.name})`, () => {
    test('C15: plaintext rows keep working and are sealed at start; a wrong or missing key is a clear error', async () => {
      const tdb = await freshDatabase(backend);
      try {
        // Before the key: plaintext signing key and portal secret.
        const base = { publicUrl: 'https://roster.example.org' };
        const plain = await start(tdb, base);
        const A = await team(plain);
        const u = await user(plain, A.key, true);
        const jwt = await signInJwt(plain, A.key, u);
        const launch = new URL((await call(plain.baseUrl, 'POST', `/v2/user/${u}/create_portal_url`, { key: A.key, json: { context: 'launch' } })).body.url).pathname;
        await plain.close();
        const pem = await tdb.db.kysely.selectFrom('auth_signing_keys').select('private_key').executeTakeFirstOrThrow();
        assert.match(pem.private_key, /^-----BEGIN PRIVATE KEY-----/);

        const sealed = await start(tdb, { ...base, secretKey: SECRET_KEY });
        try {
          const keys = await tdb.db.kysely.selectFrom('auth_signing_keys').select('private_key').execute();
          for (const k of keys) {
            assert.match(k.private_key, /^enc:v1:/);
            assert.ok(!k.private_key.includes('PRIVATE KEY'));
          }
          const secrets = await tdb.db.kysely.selectFrom('server_secrets').select('value').execute();
          for (const v of secrets) assert.equal(v.value.subarray(0, 4).toString('latin1'), 'RSE1');
          // Tokens and links made before still verify; new ones are signed with the same keys.
          assertOAuthTokens(await oauth(sealed, { grant_type: EXCHANGE, subject_token: jwt, subject_token_type: JWT_TYPE }), true);
          assert.equal((await call(sealed.baseUrl, 'GET', launch)).status, 200);
          await sealed.built.services.authTokens.rotateSigningKey(60);
          await sealed.built.services.portal.rotateSecret(60);
          for (const k of await tdb.db.kysely.selectFrom('auth_signing_keys').select('private_key').execute()) assert.match(k.private_key, /^enc:v1:/);
          for (const v of await tdb.db.kysely.selectFrom('server_secrets').select('value').execute()) assert.equal(v.value.subarray(0, 4).toString('latin1'), 'RSE1');
        } finally {
          await sealed.close();
        }
        await assert.rejects(start(tdb, { secretKey: 'w'.repeat(40) }), (e: Error) => e.name === 'SecretKeyError' && /another ROSTER_SECRET_KEY/.test(e.message) && !e.message.includes(SECRET_KEY));
        await assert.rejects(start(tdb, {}), (e: Error) => e.name === 'SecretKeyError' && /ROSTER_SECRET_KEY is not set/.test(e.message));
      } finally {
        await tdb.drop();
      }
    });
  });
}
