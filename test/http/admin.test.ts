// Admin API (teams and keys over HTTP): off without ROSTER_ADMIN_TOKEN; with it, Bearer auth,
// team and key creation, listing, and revocation that takes effect at once.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, UUID_RE, type RawResponse } from '../support/junction-http.ts';

const TOKEN = 'admin-token-0123456789abcdef';
const UNKNOWN_ID = '0190a0a0-0000-7000-8000-000000000000';

function adminCall(srv: TestServer, method: string, path: string, opts: { json?: unknown; raw?: string; token?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return call(srv.baseUrl, method, path, { json: opts.json, raw: opts.raw, headers: opts.raw !== undefined ? { 'content-type': 'application/json', ...headers } : headers });
}

function jsonError(r: RawResponse, status: number) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/);
  assert.notEqual(r.body, undefined, r.text);
}

for (const backend of backends()) {
  describe(`admin API (${backend.name})`, () => {
    let tdb: TestDatabase;
    let off: TestServer;
    let srv: TestServer;
    before(async () => {
      tdb = await freshDatabase(backend);
      off = await startServer(tdb, { logLevel: 'silent' });
      srv = await startServer(tdb, { logLevel: 'silent', adminToken: TOKEN });
    });
    after(async () => {
      await off?.close();
      await srv?.close();
      await tdb?.drop();
    });

    test('without a configured token the admin API does not exist (404), whatever is sent', async () => {
      for (const [m, p] of [['GET', '/admin/teams'], ['POST', '/admin/teams'], ['DELETE', `/admin/keys/${UNKNOWN_ID}`]]) {
        const r = await adminCall(off, m!, p!, { json: m === 'POST' ? { name: 'x' } : undefined });
        jsonError(r, 404);
      }
      assert.equal((await off.built.services.teams.listTeams()).length, 0, 'nothing was created');
    });

    test('missing or wrong token → 401 JSON', async () => {
      const cases: { token?: string | null; headers?: Record<string, string> }[] = [
        { token: null },
        { token: 'wrong-token-0123456789abcdef' },
        { token: TOKEN + 'x' },
        { token: TOKEN.slice(0, -1) },
        { token: null, headers: { authorization: TOKEN } },
        { token: null, headers: { authorization: `Basic ${TOKEN}` } },
        { token: null, headers: { 'x-vital-api-key': TOKEN } },
      ];
      for (const c of cases) {
        jsonError(await adminCall(srv, 'GET', '/admin/teams', c), 401);
        jsonError(await adminCall(srv, 'POST', '/admin/teams', { ...c, json: { name: 'should-not-exist' } }), 401);
      }
      const list = await adminCall(srv, 'GET', '/admin/teams');
      assert.ok(!list.body.teams.some((t: { name: string }) => t.name === 'should-not-exist'));
    });

    test('POST /admin/teams → 201 with a working key; GET /admin/teams lists the team', async () => {
      const r = await adminCall(srv, 'POST', '/admin/teams', { json: { name: 'Acme Health' } });
      assert.equal(r.status, 201, r.text);
      assert.match(r.body.team_id, UUID_RE);
      assert.equal(r.body.name, 'Acme Health');
      assert.equal(r.body.mode, 'sandbox');
      assert.match(r.body.key_id, UUID_RE);
      assert.match(r.body.api_key, /^sk_/);

      const users = await call(srv.baseUrl, 'GET', '/v2/user', { key: r.body.api_key });
      assert.equal(users.status, 200, users.text);
      assert.equal(users.body.total, 0);
      const m = await call(srv.baseUrl, 'GET', '/v2/user/metrics', { key: r.body.api_key });
      assert.equal(m.body.team_id, r.body.team_id);
      // The other instance (no admin API) accepts it too: keys live in the database.
      assert.equal((await call(off.baseUrl, 'GET', '/v2/user', { key: r.body.api_key })).status, 200);

      const list = await adminCall(srv, 'GET', '/admin/teams');
      assert.equal(list.status, 200);
      const t = list.body.teams.find((x: { team_id: string }) => x.team_id === r.body.team_id);
      assert.ok(t, JSON.stringify(list.body));
      assert.equal(t.name, 'Acme Health');
      assert.equal(t.mode, 'sandbox');
      assert.equal(t.active_keys, 1);
      assert.ok(!list.text.includes(r.body.api_key), 'listings never show a key');
    });

    test('mode production gives a production key', async () => {
      const r = await adminCall(srv, 'POST', '/admin/teams', { json: { name: 'Prod team', mode: 'production' } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.mode, 'production');
      assert.match(r.body.api_key, /^pk_/);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: r.body.api_key })).status, 200);
    });

    test('POST /admin/teams/{id}/keys → 201; read_only accepted; keys are listed by prefix only', async () => {
      const t = (await adminCall(srv, 'POST', '/admin/teams', { json: { name: 'keys-team' } })).body;
      const full = await adminCall(srv, 'POST', `/admin/teams/${t.team_id}/keys`);
      assert.equal(full.status, 201, full.text);
      assert.match(full.body.key_id, UUID_RE);
      assert.equal(full.body.team_id, t.team_id);
      assert.equal(full.body.role, 'full');
      assert.notEqual(full.body.api_key, t.api_key);
      const ro = await adminCall(srv, 'POST', `/admin/teams/${t.team_id}/keys`, { json: { role: 'read_only' } });
      assert.equal(ro.status, 201, ro.text);
      assert.equal(ro.body.role, 'read_only');

      // Every key reads the same team.
      for (const k of [t.api_key, full.body.api_key, ro.body.api_key]) {
        const m = await call(srv.baseUrl, 'GET', '/v2/user/metrics', { key: k });
        assert.equal(m.status, 200, m.text);
        assert.equal(m.body.team_id, t.team_id);
      }
      const created = await call(srv.baseUrl, 'POST', '/v2/user', { key: full.body.api_key, json: { client_user_id: 'via-second-key' } });
      assert.equal(created.status, 200, created.text);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user/resolve/via-second-key', { key: ro.body.api_key })).body.user_id, created.body.user_id);

      const keys = await adminCall(srv, 'GET', `/admin/teams/${t.team_id}/keys`);
      assert.equal(keys.status, 200);
      assert.deepEqual(keys.body.keys.map((k: { key_id: string }) => k.key_id).sort(), [t.key_id, full.body.key_id, ro.body.key_id].sort());
      for (const k of keys.body.keys) {
        assert.equal(k.revoked_at, null);
        assert.ok(!keys.text.includes(full.body.api_key) && !keys.text.includes(ro.body.api_key) && !keys.text.includes(t.api_key));
        const whole = [t.api_key, full.body.api_key, ro.body.api_key].find((x) => x.startsWith(k.prefix));
        assert.ok(whole, `prefix ${k.prefix} belongs to one of the keys`);
        assert.ok(k.prefix.length < whole.length);
      }
      const listed = (await adminCall(srv, 'GET', '/admin/teams')).body.teams.find((x: { team_id: string }) => x.team_id === t.team_id);
      assert.equal(listed.active_keys, 3);
    });

    test('DELETE /admin/keys/{id} → 204; the key is refused at once, the team\'s other keys still work', async () => {
      const t = (await adminCall(srv, 'POST', '/admin/teams', { json: { name: 'revoke-team' } })).body;
      const second = (await adminCall(srv, 'POST', `/admin/teams/${t.team_id}/keys`)).body;
      // Use the key first, so this instance has it cached.
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: t.api_key })).status, 200);
      const r = await adminCall(srv, 'DELETE', `/admin/keys/${t.key_id}`);
      assert.equal(r.status, 204, r.text);
      assert.equal(r.text, '');
      const refused = await call(srv.baseUrl, 'GET', '/v2/user', { key: t.api_key });
      assert.equal(refused.status, 401);
      assert.equal(typeof refused.body.detail, 'string');
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: second.api_key })).status, 200);
      const keys = (await adminCall(srv, 'GET', `/admin/teams/${t.team_id}/keys`)).body.keys;
      assert.notEqual(keys.find((k: { key_id: string }) => k.key_id === t.key_id).revoked_at, null);
      assert.equal(keys.find((k: { key_id: string }) => k.key_id === second.key_id).revoked_at, null);
      assert.equal((await adminCall(srv, 'GET', '/admin/teams')).body.teams.find((x: { team_id: string }) => x.team_id === t.team_id).active_keys, 1);
      // Revoking again changes nothing and the key stays refused.
      const again = await adminCall(srv, 'DELETE', `/admin/keys/${t.key_id}`);
      assert.ok(again.status === 204 || again.status === 404, `${again.status} ${again.text}`);
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: t.api_key })).status, 401);
    });

    test('bad bodies → 400 JSON, and nothing is created', async () => {
      const before = (await adminCall(srv, 'GET', '/admin/teams')).body.teams.length;
      const bodies: { json?: unknown; raw?: string }[] = [
        { json: {} },
        { json: { name: '' } },
        { json: { name: 42 } },
        { json: { name: null } },
        { json: { name: 'x'.repeat(201) } },
        { json: { name: 'ok', mode: 'weird' } },
        { json: [] },
        { raw: '{"name": "unterminated' },
        { raw: '{"name":"nul\\u0000"}' },
        { raw: '{"name":"\\ud800"}' },
      ];
      for (const b of bodies) {
        const r = await adminCall(srv, 'POST', '/admin/teams', b);
        jsonError(r, 400);
      }
      assert.equal((await adminCall(srv, 'GET', '/admin/teams')).body.teams.length, before);

      const t = (await adminCall(srv, 'POST', '/admin/teams', { json: { name: 'key-body-team' } })).body;
      for (const b of [{ json: { role: 'admin' } }, { json: { role: 5 } }, { raw: '{' }]) {
        jsonError(await adminCall(srv, 'POST', `/admin/teams/${t.team_id}/keys`, b), 400);
      }
      assert.equal((await adminCall(srv, 'GET', `/admin/teams/${t.team_id}/keys`)).body.keys.length, 1);
    });

    test('unknown team or key → 404 JSON; malformed ids → 400 JSON', async () => {
      jsonError(await adminCall(srv, 'POST', `/admin/teams/${UNKNOWN_ID}/keys`), 404);
      jsonError(await adminCall(srv, 'DELETE', `/admin/keys/${UNKNOWN_ID}`), 404);
      jsonError(await adminCall(srv, 'POST', '/admin/teams/not-a-uuid/keys'), 400);
      jsonError(await adminCall(srv, 'DELETE', '/admin/keys/not-a-uuid'), 400);
      jsonError(await adminCall(srv, 'GET', '/admin/nothing-here'), 404);
    });

    test('the admin token is not an API key, and an API key is not an admin token', async () => {
      const t = (await adminCall(srv, 'POST', '/admin/teams', { json: { name: 'cross-team' } })).body;
      assert.equal((await call(srv.baseUrl, 'GET', '/v2/user', { key: TOKEN })).status, 401);
      jsonError(await adminCall(srv, 'GET', '/admin/teams', { token: t.api_key }), 401);
    });
  });
}
