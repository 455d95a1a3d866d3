// x-request-id (issue 7 item 3): every response carries one — successes, errors of every face,
// 404s of unknown paths, odd URLs — taken from the request when it sends a usable one
// (1–128 of [A-Za-z0-9_.:-]), else a fresh UUID; and the request's log line carries the same id
// (a client's own as clientReqId, beside the server's reqId: security review S5).
// The basic face's contract writes its ids as `req-<id>` (error bodies and header); its log line
// carries the id without that prefix.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ADMIN_TOKEN = 'admin-token-request-id-0123456789';

/** The log line of the request with this id (the onResponse line). */
function logLineFor(logs: string[], id: string): Record<string, unknown> | undefined {
  const bare = id.replace(/^req-/, '');
  for (const l of logs) {
    const o = JSON.parse(l) as Record<string, unknown>;
    if (o.msg === 'request' && (o.reqId === id || o.reqId === bare || o.clientReqId === id || o.clientReqId === bare)) return o;
  }
  return undefined;
}

for (const backend of backends()) {
  describe(`x-request-id (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let key: string;
    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { adminToken: ADMIN_TOKEN });
      key = (await srv.newTeam()).apiKey;
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    const J = { 'x-vital-api-key': '' };
    const cases: Array<[string, string, () => RequestInit & { path: string }, number]> = [
      ['Junction 200', 'GET', () => ({ path: '/v2/user', headers: { ...J, 'x-vital-api-key': key } }), 200],
      ['Junction 401 (no key)', 'GET', () => ({ path: '/v2/user' }), 401],
      ['Junction 401 (bad key)', 'GET', () => ({ path: '/v2/user', headers: { 'x-vital-api-key': 'nope' } }), 401],
      ['Junction 404 (no such user)', 'GET', () => ({ path: '/v2/user/0190b7a4-0000-7000-8000-000000000001', headers: { 'x-vital-api-key': key } }), 404],
      ['Junction 422 (bad query)', 'GET', () => ({ path: '/v2/user?limit=-1', headers: { 'x-vital-api-key': key } }), 422],
      ['Junction 422 (bad JSON)', 'POST', () => ({ path: '/v2/user', headers: { 'x-vital-api-key': key, 'content-type': 'application/json' }, body: '{"client_user_id":' }), 422],
      ['unknown path 404', 'GET', () => ({ path: '/no/such/thing' }), 404],
      ['unknown method 404', 'PUT', () => ({ path: '/v2/user', headers: { 'x-vital-api-key': key } }), 404],
      ['path not valid UTF-8', 'GET', () => ({ path: '/v2/user/%ED%A0%80' }), 401],
      ['path with a bare %', 'GET', () => ({ path: '/%' }), 404],
      ['Onvy 401', 'GET', () => ({ path: '/onvy/users' }), 401],
      ['Onvy 200', 'GET', () => ({ path: '/onvy/users', headers: { 'x-api-key': key } }), 200],
      ['basic 401', 'GET', () => ({ path: '/basic/users' }), 401],
      ['basic 200', 'GET', () => ({ path: '/basic/users', headers: { authorization: `Bearer ${key}` } }), 200],
      ['admin 401', 'GET', () => ({ path: '/admin/teams' }), 401],
      ['admin 200', 'GET', () => ({ path: '/admin/teams', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }), 200],
      ['health', 'GET', () => ({ path: '/healthz' }), 200],
      ['metrics', 'GET', () => ({ path: '/metrics' }), 200],
      ['OpenAPI document', 'GET', () => ({ path: '/openapi/junction.json' }), 200],
      ['docs page', 'GET', () => ({ path: '/docs/junction' }), 200],
      ['docs static file', 'GET', () => ({ path: '/docs/junction/static/swagger-ui.css' }), 200],
      ['portal page, bad link', 'GET', () => ({ path: '/portal/x' }), -1],
      ['mobile auth 4xx', 'POST', () => ({ path: '/auth/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=nope' }), -1],
    ];

    test('every response carries one, errors and 404s included; a fresh UUID when none is sent', async () => {
      for (const [name, method, make, status] of cases) {
        const { path, ...init } = make();
        const r = await fetch(`${srv.baseUrl}${path}`, { method, ...init });
        await r.arrayBuffer();
        if (status > 0) assert.equal(r.status, status, name);
        const id = r.headers.get('x-request-id');
        assert.ok(id, `${name}: no x-request-id (status ${r.status})`);
        assert.match(id.replace(/^req-/, ''), UUID, `${name}: ${id}`);
      }
    });

    test('a usable incoming id is echoed; an unusable one is replaced', async () => {
      for (const [name, method, make, status] of cases) {
        const { path, headers, ...init } = make();
        const given = `t-${Math.random().toString(36).slice(2)}:${name.length}.x_y`;
        const r = await fetch(`${srv.baseUrl}${path}`, { method, ...init, headers: { ...(headers as Record<string, string>), 'x-request-id': given } });
        await r.arrayBuffer();
        if (status > 0) assert.equal(r.status, status, name);
        const id = r.headers.get('x-request-id');
        assert.ok(id === given || id === `req-${given}`, `${name}: sent ${given}, got ${id}`);
      }
      for (const bad of ['a'.repeat(129), 'has space', 'semi;colon', 'new\u00e9', '']) {
        const r = await fetch(`${srv.baseUrl}/v2/user`, { headers: { 'x-vital-api-key': key, 'x-request-id': bad } });
        await r.arrayBuffer();
        assert.match(r.headers.get('x-request-id') ?? '', UUID, JSON.stringify(bad));
      }
    });

    test('the request\'s log line carries the same id', async () => {
      const ids: string[] = [];
      for (const [name, method, make] of cases) {
        const { path, ...init } = make();
        const r = await fetch(`${srv.baseUrl}${path}`, { method, ...init });
        await r.arrayBuffer();
        ids.push(`${name}\u0000${r.headers.get('x-request-id')}`);
      }
      const given = 'trace-abc.123:xyz';
      await (await fetch(`${srv.baseUrl}/v2/user`, { headers: { 'x-vital-api-key': key, 'x-request-id': given } })).arrayBuffer();
      ids.push(`given\u0000${given}`);
      await new Promise((r) => setTimeout(r, 50));
      for (const entry of ids) {
        const [name, id] = entry.split('\u0000') as [string, string];
        const line = logLineFor(srv.logs, id);
        assert.ok(line, `${name}: no log line with reqId ${id}`);
      }
      assert.equal(logLineFor(srv.logs, given)!.status, 200);
      // The client's id is logged apart from the server's own (S5): reqId is always a fresh UUID.
      assert.equal(logLineFor(srv.logs, given)!.clientReqId, given);
      assert.match(String(logLineFor(srv.logs, given)!.reqId), UUID);
    });
  });
}
