// Errors that arise outside a face's own handlers (src/http/faces.ts): a URL the router
// refuses (400), a path segment over the router's limit (414), a request line or headers Node's
// parser refuses (414, 431, 400), an unknown route (404), a body at the app level (400, 413, 415),
// and an idempotent write that cannot commit (503). Each face answers in its own contract's error
// shape (Onvy `{"error": {code, message}}`, basic `{code, message, details?, requestId}`), with the
// right status and never a 500; Junction's answers are what they were; admin keeps its shapes.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { backends, type TestDatabase } from '../support/backends.ts';
import { call, rawHttp, type RawRequest, type RawResponse } from '../support/junction-http.ts';
import { faceRegistry, mountFaces } from '../../src/http/faces.ts';
import { assertSpecError, facesSuite, REQUEST_ID_RE, type FacesServer } from './faces-support.ts';

const ADMIN = 'admin-token-for-face-errors-tests';
const LONG_SEGMENT = '9'.repeat(5000); // over maxParamLength (4096): the router's 414
const LONG_URL_SEGMENT = '9'.repeat(20_000); // over Node's header limit (16 KiB): the parser's
const BIG_HEADER = 'x'.repeat(20_000);

/** Onvy's error body, exactly (contract §5.1). */
function onvyError(r: RawResponse, status: number, code: string, message: string) {
  assert.equal(r.status, status, r.text.slice(0, 300));
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(r.body, { error: { code, message } });
}

/** basic's error body, exactly (contract §4.1), its request id also sent as X-Request-Id. */
function basicError(r: RawResponse, status: number, code: string, message: string, details?: unknown[]) {
  assert.equal(r.status, status, r.text.slice(0, 300));
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.match(r.body?.requestId ?? '', REQUEST_ID_RE, r.text.slice(0, 300));
  assert.deepEqual(r.body, { code, message, ...(details ? { details } : {}), requestId: r.body.requestId });
  assert.equal(r.headers.get('x-request-id'), r.body.requestId);
  assertSpecError(r.body);
}

/** Junction's `{"detail": ...}`, exactly. */
function junctionDetail(r: RawResponse, status: number, detail: string) {
  assert.equal(r.status, status, r.text.slice(0, 300));
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(r.body, { detail });
}

const BASIC_URL_DETAILS = [{ field: 'path', reason: 'Invalid format', location: 'path' }];

for (const backend of backends()) {
  describe(`errors outside the faces' handlers (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: FacesServer;
    let key: string;
    facesSuite(backend, { adminToken: ADMIN }, (s) => ({ tdb, srv, A: { key } } = s));
    const onvy = (method: string, path: string, r: RawRequest = {}) => call(srv.baseUrl, method, `/onvy${path}`, { apiKey: key, ...r });
    const basic = (method: string, path: string, r: RawRequest = {}) => call(srv.baseUrl, method, `/basic${path}`, { bearer: key, ...r });
    const junction = (method: string, path: string, r: RawRequest = {}) => call(srv.baseUrl, method, path, { key, ...r });

    describe('a URL the router refuses: 400', () => {
      // Percent-encoding that is not UTF-8 is decoded leniently (src/http/url.ts), so what the router
      // still refuses is a target it cannot parse: an absolute-form URL with an empty authority.
      test('Onvy: 400 BadRequest', async () => {
        onvyError(await rawHttp(srv.baseUrl, 'GET http:///onvy/users HTTP/1.1'), 400, 'BadRequest', 'Malformed request URL.');
      });
      test('basic: 400 INVALID_FIELD with a path detail', async () => {
        basicError(await rawHttp(srv.baseUrl, 'GET http:///basic/users HTTP/1.1'), 400, 'INVALID_FIELD', 'The request URL is malformed', BASIC_URL_DETAILS);
      });
      test('Junction: unchanged', async () => {
        junctionDetail(await rawHttp(srv.baseUrl, 'GET http:///v2/user HTTP/1.1'), 400, 'Malformed URL: the path is not valid percent-encoded UTF-8');
      });
      test('bad percent-encoding in a path reaches the face\'s route, which answers in its own shape', async () => {
        onvyError(await onvy('GET', '/users/%E0%A4%A'), 404, 'NotFound', 'User not found.');
        basicError(await basic('GET', '/users/%E0%A4%A'), 400, 'INVALID_FIELD', 'The path parameter `userId` must be a positive integer',
          [{ field: 'userId', reason: 'Invalid format', location: 'path' }]);
        const j = await junction('GET', '/v2/user/%E0%A4%A');
        assert.equal(j.status, 422);
        assert.equal(typeof j.body.detail, 'string');
      });
    });

    describe('a path segment over the router\'s limit: 414', () => {
      test('Onvy: 414 UriTooLong, on every route, before authentication', async () => {
        // (Only where a route has that method: elsewhere no parameter is read, and it is a 405 or 404.)
        for (const [method, path] of [['GET', `/users/${LONG_SEGMENT}`], ['DELETE', `/users/${LONG_SEGMENT}`], ['PUT', `/users/${LONG_SEGMENT}/data_syncs`], ['DELETE', `/users/x/data_syncs/${LONG_SEGMENT}`]] as const) {
          onvyError(await onvy(method, path), 414, 'UriTooLong', 'The request URL is too long.');
          onvyError(await onvy(method, path, { apiKey: undefined }), 414, 'UriTooLong', 'The request URL is too long.');
        }
        onvyError(await onvy('PATCH', `/users/${LONG_SEGMENT}`, { json: { firstname: 'x' } }), 414, 'UriTooLong', 'The request URL is too long.');
      });
      test('basic: 414 URI_TOO_LONG', async () => {
        basicError(await basic('GET', `/users/${LONG_SEGMENT}`), 414, 'URI_TOO_LONG', 'The request URL is too long');
        basicError(await basic('PATCH', `/users/${LONG_SEGMENT}`, { json: { firstName: 'x' } }), 414, 'URI_TOO_LONG', 'The request URL is too long');
        basicError(await basic('GET', `/users/${LONG_SEGMENT}`, { headers: { 'x-request-id': 'req-0b1f7c0e-5a2d-4e8b-9c61-0f2a7d9e4b15' } }), 414, 'URI_TOO_LONG', 'The request URL is too long');
      });
      test('Junction and admin: unchanged', async () => {
        junctionDetail(await junction('GET', `/v2/user/${LONG_SEGMENT}`), 414, `'/v2/user/${LONG_SEGMENT}' is exceeding the max param length`);
        const admin = await call(srv.baseUrl, 'GET', `/admin/teams/${LONG_SEGMENT}`, { bearer: ADMIN });
        junctionDetail(admin, 414, `'/admin/teams/${LONG_SEGMENT}' is exceeding the max param length`);
      });
    });

    describe('a request Node\'s HTTP parser refuses: 414, 431, 400', () => {
      test('Onvy: a URL over the header limit is 414, headers over it 431, a malformed request line 400', async () => {
        onvyError(await onvy('GET', `/users/${LONG_URL_SEGMENT}`), 414, 'UriTooLong', 'The request URL is too long.');
        onvyError(await onvy('GET', '/users', { headers: { 'x-big': BIG_HEADER } }), 431, 'RequestHeaderFieldsTooLarge', 'The request headers are too large.');
        onvyError(await rawHttp(srv.baseUrl, 'GET /onvy/users/a b HTTP/1.1'), 400, 'BadRequest', 'Malformed HTTP request.');
      });
      test('basic: the same, in basic\'s shape', async () => {
        basicError(await basic('GET', `/users/${LONG_URL_SEGMENT}`), 414, 'URI_TOO_LONG', 'The request URL is too long');
        basicError(await basic('GET', '/users', { headers: { 'x-big': BIG_HEADER } }), 431, 'REQUEST_HEADERS_TOO_LARGE', 'The request headers are too large');
        basicError(await rawHttp(srv.baseUrl, 'GET /basic/users/a b HTTP/1.1'), 400, 'INVALID_FIELD', 'The request could not be parsed', BASIC_URL_DETAILS);
      });
      test('Junction and elsewhere: Fastify\'s answer, unchanged', async () => {
        const j = await junction('GET', `/v2/user/${LONG_URL_SEGMENT}`);
        assert.equal(j.status, 431);
        assert.deepEqual(j.body, { error: 'Request Header Fields Too Large', message: 'Exceeded maximum allowed HTTP header size', statusCode: 431 });
        const bad = await rawHttp(srv.baseUrl, 'GET /v2/user/a b HTTP/1.1');
        assert.equal(bad.status, 400);
        assert.deepEqual(bad.body, { error: 'Bad Request', message: 'Client Error', statusCode: 400 });
      });
    });

    describe('an unknown route under the face\'s prefix: 404', () => {
      const unknown = ['', '/', '/nothing', '/users/a/b/c/d', '/nothing?x=1'];
      test('Onvy: 404 NotFound, also when the prefix is percent-encoded or the method unknown', async () => {
        for (const p of unknown) onvyError(await onvy('GET', p), 404, 'NotFound', 'No such route.');
        onvyError(await call(srv.baseUrl, 'GET', '/%6Fnvy/nothing', { apiKey: key }), 404, 'NotFound', 'No such route.');
        // Authentication first (contract §5.3): an unknown route without a key is a 401.
        onvyError(await onvy('GET', '/nothing', { apiKey: undefined }), 401, 'Unauthorized', 'Missing credentials: send X-API-Key or Authorization: Bearer <token>.');
      });
      test('basic: 404 RESOURCE_NOT_FOUND', async () => {
        for (const p of unknown) basicError(await basic('GET', p), 404, 'RESOURCE_NOT_FOUND', 'The requested resource could not be found');
        basicError(await call(srv.baseUrl, 'GET', '/%62asic/nothing', { bearer: key }), 404, 'RESOURCE_NOT_FOUND', 'The requested resource could not be found');
      });
      test('Junction, the root and admin: unchanged', async () => {
        for (const p of ['/v2', '/v2/nothing', '/nothing', '/onvyx/users', '/onvy%2Fusers']) junctionDetail(await junction('GET', p), 404, 'Not Found');
        const admin = await call(srv.baseUrl, 'GET', '/admin/nothing', { bearer: ADMIN });
        assert.equal(admin.status, 404);
        assert.deepEqual(admin.body, { error: { code: 'NOT_FOUND', message: 'Not Found' } });
      });
    });

    describe('a body the app cannot take, on an unknown route: 400, 413, 415', () => {
      const json = { 'content-type': 'application/json' };
      const tooBig = `{"a":"${'x'.repeat(1_100_000)}"}`;
      test('Onvy: in its own shape', async () => {
        onvyError(await onvy('POST', '/nothing', { raw: '{', headers: json }), 400, 'BadRequest', 'Request body is not valid JSON.');
        onvyError(await onvy('POST', '/nothing', { raw: tooBig, headers: json }), 413, 'PayloadTooLarge', 'Request body too large.');
        onvyError(await onvy('POST', '/users', { raw: 'hello', headers: { 'content-type': 'text/plain' } }), 415, 'UnsupportedMediaType', 'Send request bodies as application/json.');
      });
      test('basic: in its own shape', async () => {
        const malformed = [{ field: 'body', reason: 'Malformed JSON', location: 'body' }];
        basicError(await basic('POST', '/nothing', { raw: '{', headers: json }), 400, 'INVALID_FIELD', 'The request body must be a valid JSON object', malformed);
        basicError(await basic('POST', '/nothing', { raw: 'hello', headers: { 'content-type': 'text/plain' } }), 400, 'INVALID_FIELD', 'The request body must be a valid JSON object', malformed);
        basicError(await basic('POST', '/nothing', { raw: tooBig, headers: json }), 413, 'PAYLOAD_TOO_LARGE', 'The request body is too large');
      });
      test('Junction: `{"detail": ...}` (it was Fastify\'s own body), the status kept', async () => {
        junctionDetail(await junction('POST', '/v2/nothing', { raw: '{', headers: json }), 400, 'Body is not valid JSON but content-type is set to \'application/json\'');
        junctionDetail(await junction('POST', '/v2/nothing', { raw: tooBig, headers: json }), 413, 'Request body too large');
        // A type no parser takes is not read at all there: the route's 404.
        junctionDetail(await junction('POST', '/v2/nothing', { raw: '<a/>', headers: { 'content-type': 'application/xml' } }), 404, 'Not Found');
      });
    });

    describe('an idempotent write that cannot commit: 503 with Retry-After, nothing stored', () => {
      before(async () => {
        // Any statement of the commit step failing stands for the commit failing.
        await tdb.db.pool.query(`create function face_errors_fail() returns trigger language plpgsql as $$ begin raise exception 'injected commit failure'; end $$`);
        await tdb.db.pool.query(`create trigger face_errors_fail before update on idempotency_keys for each row when (new.key like 'fail-commit-%') execute function face_errors_fail()`);
      });
      const idem = (k: string) => ({ 'idempotency-key': `fail-commit-${k}` });
      const stored = async (cid: string) => (await tdb.db.pool.query('select 1 from users where client_user_id = $1', [cid])).rowCount;

      test('Onvy: 503 ServiceUnavailable', async () => {
        const r = await onvy('POST', '/users', { json: { id: 'commit-onvy' }, headers: idem('onvy') });
        onvyError(r, 503, 'ServiceUnavailable', 'The change could not be committed; retry with the same Idempotency-Key.');
        assert.equal(r.headers.get('retry-after'), '1');
        assert.equal(await stored('commit-onvy'), 0);
      });
      test('basic: 503 SERVICE_UNAVAILABLE', async () => {
        const r = await basic('POST', '/users', { json: { firstName: 'C', lastName: 'F', contactEmail: 'commit@example.com' }, headers: idem('basic') });
        basicError(r, 503, 'SERVICE_UNAVAILABLE', 'The change could not be committed. Please retry with the same Idempotency-Key');
        assert.equal(r.headers.get('retry-after'), '1');
        assert.equal((await basic('GET', '/users')).body.users.length, 0);
      });
      test('Junction: unchanged', async () => {
        const r = await junction('POST', '/v2/user', { json: { client_user_id: 'commit-junction' }, headers: idem('junction') });
        junctionDetail(r, 503, 'The change could not be committed; retry with the same Idempotency-Key');
        assert.equal(r.headers.get('retry-after'), '1');
        assert.equal(await stored('commit-junction'), 0);
      });
    });
  });

  describe(`errors outside the faces' handlers, faces at other prefixes (${backend.name})`, () => {
    let srv: FacesServer;
    let key: string;
    facesSuite(backend, { onvyPrefix: '/vendor/onvy', basicPrefix: '/b' }, (s) => ({ srv, A: { key } } = s));

    test('the face is told by its configured prefix', async () => {
      onvyError(await call(srv.baseUrl, 'GET', `/vendor/onvy/users/${LONG_SEGMENT}`, { apiKey: key }), 414, 'UriTooLong', 'The request URL is too long.');
      onvyError(await call(srv.baseUrl, 'GET', '/vendor/onvy/nothing', { apiKey: key }), 404, 'NotFound', 'No such route.');
      basicError(await call(srv.baseUrl, 'GET', `/b/users/${LONG_SEGMENT}`, { bearer: key }), 414, 'URI_TOO_LONG', 'The request URL is too long');
      basicError(await call(srv.baseUrl, 'GET', `/b/users/${LONG_URL_SEGMENT}`, { bearer: key }), 414, 'URI_TOO_LONG', 'The request URL is too long');
      // The default prefixes are nobody's now: the root's answers.
      junctionDetail(await call(srv.baseUrl, 'GET', `/onvy/users/${LONG_SEGMENT}`, { apiKey: key }), 404, 'Not Found');
      junctionDetail(await call(srv.baseUrl, 'GET', '/basic/users', { bearer: key }), 404, 'Not Found');
    });
  });
}

describe('faceRegistry: which face a request target is under', () => {
  const registry = faceRegistry(mountFaces({ onvyPrefix: '/onvy', basicPrefix: '/api/basic/', basicRateLimit: { max: 1, windowMs: 1 } }));
  const faceOf = (url: string) => registry.faceOf(url)?.name ?? null;
  test('by path prefix, whole segments only, as the router decodes it', () => {
    const cases: [string, string | null][] = [
      ['/onvy', 'onvy'], ['/onvy/', 'onvy'], ['/onvy/users/x', 'onvy'], ['/onvy?x=1', 'onvy'], ['/onvy#f', 'onvy'], ['/%6Fnvy/users', 'onvy'],
      ['/onvyx', null], ['/onvy%2Fusers', null], ['/ONVY/users', null], ['//onvy/users', null], ['/x/onvy', null],
      ['/api/basic', 'basic'], ['/api/basic/users/1', 'basic'], ['/basic/users', null],
      ['/v2', 'junction'], ['/v2/user', 'junction'], ['/v2x', null], ['/', null], ['*', null], ['', null],
      ['http://host/onvy/users', 'onvy'], ['http:///api/basic/users', 'basic'], ['HTTPS://h:8000/v2/user?x', 'junction'], ['/onvy/%E0%A4%A', 'onvy'],
    ];
    for (const [url, face] of cases) assert.equal(faceOf(url), face, url);
  });
});
