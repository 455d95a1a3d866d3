// The basic face (spec/contracts/basic-users.md) over raw HTTP: the five operations, happy
// and error paths, the flat error body, evaluation order, rate-limit headers and 429, read-only
// keys, team isolation and bad input. Every response body is validated against the public spec
// (spec/vendor/to-do-service-spec.yaml).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { call, type RawRequest, type RawResponse } from '../support/junction-http.ts';
import { assertSpec, facesSuite, REQUEST_ID_RE, type FacesServer, type Team } from './faces-support.ts';

function assertError(r: RawResponse, status: number, code: string) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json; charset=utf-8/);
  assert.equal(r.body.code, code, r.text);
  assert.equal(typeof r.body.message, 'string');
  assert.match(r.body.requestId, REQUEST_ID_RE);
  assert.equal(r.headers.get('x-request-id'), r.body.requestId);
  if (status === 400) assert.ok(Array.isArray(r.body.details) && r.body.details.length > 0, 'every 400 has details');
  else assert.equal('details' in r.body, false);
}

const details = (r: RawResponse) => r.body.details as { field: string; reason: string; location: string }[];

for (const backend of backends()) {
  describe(`basic face (${backend.name})`, () => {
    let srv: FacesServer;
    let A: Team;
    let B: Team;
    facesSuite(backend, {}, (s) => ({ srv, A, B } = s));

    /** Raw call as team A (unless `key` says otherwise), checked against the spec for `template`. */
    async function basic(method: string, path: string, r: RawRequest = {}, key: string | null = A.key): Promise<RawResponse> {
      const res = await call(srv.baseUrl, method, `/basic${path}`, key ? { bearer: key, ...r } : r);
      const template = /^\/users\/?(\?.*)?$/.test(path) ? '/users' : /^\/users\/[^/?]+$/.test(path) ? '/users/{userId}' : null;
      // 414 (a path over the router's limit) is answered before the face's hooks (so without
      // X-RateLimit-*), in the face's error shape (test/http/face-errors.test.ts); not in the spec.
      if (res.status === 414) return res;
      if (template && res.status !== 413) assertSpec(method.toLowerCase(), template, res.status, res.body);
      // X-RateLimit-* and X-Request-Id on every response.
      for (const h of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) assert.match(res.headers.get(h) ?? '', /^\d+$/, `${h} on ${method} ${path}`);
      assert.match(res.headers.get('x-request-id') ?? '', REQUEST_ID_RE);
      return res;
    }
    const create = async (firstName: string, lastName: string, contactEmail: string, key = A.key) => {
      const r = await basic('POST', '/users', { json: { firstName, lastName, contactEmail } }, key);
      assert.equal(r.status, 201, r.text);
      return r.body as { userId: number; firstName: string; lastName: string; contactEmail: string };
    };

    describe('authentication', () => {
      test('no header, another scheme, an unknown token: 401 UNAUTHORIZED with the contract message', async () => {
        for (const r of [
          await basic('GET', '/users', {}, null),
          await basic('GET', '/users', { headers: { authorization: `Basic ${A.key}` } }, null),
          await basic('GET', '/users', { headers: { 'x-api-key': A.key } }, null),
          await basic('GET', '/users', {}, 'sk_rst_unknown'),
          await basic('POST', '/users', { raw: '{', headers: { 'content-type': 'application/json' } }, null),
        ]) {
          assertError(r, 401, 'UNAUTHORIZED');
          assert.equal(r.body.message, 'Authentication is required to access this resource');
        }
      });

      test('a read-only key lists and reads, and gets 403 FORBIDDEN on POST, PATCH and DELETE (nothing changes)', async () => {
        const u = await create('Read', 'Only', 'read.only@example.com');
        const ro = A.readOnlyKey;
        assert.equal((await basic('GET', '/users', {}, ro)).status, 200);
        assert.equal((await basic('GET', `/users/${u.userId}`, {}, ro)).status, 200);
        for (const [m, p, json] of [['POST', '/users', { firstName: 'a', lastName: 'b', contactEmail: 'ro@example.com' }], ['PATCH', `/users/${u.userId}`, { firstName: 'X' }], ['DELETE', `/users/${u.userId}`, undefined], ['PATCH', '/users/abc', { firstName: 'X' }]] as const) {
          const r = await basic(m, p, json ? { json } : {}, ro);
          assertError(r, 403, 'FORBIDDEN');
          assert.equal(r.body.message, 'You do not have permission to access this resource');
        }
        assert.deepEqual((await basic('GET', `/users/${u.userId}`)).body, u);
      });
    });

    describe('POST /users', () => {
      test('201 with the four keys, an integer userId, Location; the address keeps its case', async () => {
        const r = await basic('POST', '/users', { json: { firstName: 'John', lastName: 'Doe', contactEmail: 'John.Doe@Example.com', extra: 'ignored' } });
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(Object.keys(r.body), ['userId', 'firstName', 'lastName', 'contactEmail']);
        assert.ok(Number.isInteger(r.body.userId) && r.body.userId > 0);
        assert.deepEqual(r.body, { userId: r.body.userId, firstName: 'John', lastName: 'Doe', contactEmail: 'John.Doe@Example.com' });
        assert.equal(r.headers.get('location'), `/basic/users/${r.body.userId}`);
        assert.deepEqual((await basic('GET', `/users/${r.body.userId}`)).body, r.body);
      });

      test('ids increase and are never reused, even after a delete', async () => {
        const a = await create('Id', 'One', 'id.one@example.com');
        const b = await create('Id', 'Two', 'id.two@example.com');
        assert.ok(b.userId > a.userId);
        assert.equal((await basic('DELETE', `/users/${b.userId}`)).status, 204);
        const c = await create('Id', 'Three', 'id.three@example.com');
        assert.ok(c.userId > b.userId);
      });

      test('a contactEmail in use (any case): 400 INVALID_FIELD, reason Already exists; other teams may use it', async () => {
        await create('Dup', 'One', 'dup@example.com');
        const r = await basic('POST', '/users', { json: { firstName: 'Dup', lastName: 'Two', contactEmail: 'DUP@example.COM' } });
        assertError(r, 400, 'INVALID_FIELD');
        assert.deepEqual(details(r), [{ field: 'contactEmail', reason: 'Already exists', location: 'body' }]);
        await create('Dup', 'Other', 'dup@example.com', B.key);
      });

      test('missing or null fields: 400 MISSING_REQUIRED_FIELD with the contract message', async () => {
        const r = await basic('POST', '/users', { json: { firstName: 'A', contactEmail: 'a@example.com' } });
        assertError(r, 400, 'MISSING_REQUIRED_FIELD');
        assert.equal(r.body.message, 'The `lastName` field is required.');
        assert.deepEqual(details(r), [{ field: 'lastName', reason: 'Is required', location: 'body' }]);
        const n = await basic('POST', '/users', { json: { firstName: null, lastName: 'B', contactEmail: 'n@example.com' } });
        assertError(n, 400, 'MISSING_REQUIRED_FIELD');
        assert.deepEqual(details(n), [{ field: 'firstName', reason: 'Is required', location: 'body' }]);
        const all = await basic('POST', '/users', { json: {} });
        assert.deepEqual(details(all).map((d) => d.field), ['firstName', 'lastName', 'contactEmail']);
      });

      test('several problems: all listed in body order; MISSING wins the code; the message is its first', async () => {
        const r = await basic('POST', '/users', { json: { contactEmail: 'not-an-email', userId: 7, firstName: 'x'.repeat(101) } });
        assertError(r, 400, 'MISSING_REQUIRED_FIELD');
        assert.deepEqual(details(r), [
          { field: 'contactEmail', reason: 'Invalid format', location: 'body' },
          { field: 'userId', reason: 'Read-only', location: 'body' },
          { field: 'firstName', reason: 'String too long', location: 'body' },
          { field: 'lastName', reason: 'Is required', location: 'body' },
        ]);
        assert.equal(r.body.message, 'The `lastName` field is required.');
      });

      test('field rules: lengths, types, blank names, the e-mail pattern and format, read-only userId', async () => {
        const cases: [Record<string, unknown>, string, string, string?][] = [
          [{ firstName: '' }, 'firstName', 'String too short', 'The field `firstName` must be between 1 and 100 characters'],
          [{ lastName: 'y'.repeat(101) }, 'lastName', 'String too long'],
          [{ firstName: '   ' }, 'firstName', 'Invalid value'],
          [{ firstName: 42 }, 'firstName', 'Invalid type'],
          [{ contactEmail: 'a@b' }, 'contactEmail', 'Invalid format', 'The field `contactEmail` must be a valid email address'],
          [{ contactEmail: 'a..b@example.com' }, 'contactEmail', 'Invalid format'],
          [{ contactEmail: 'a@-example.com' }, 'contactEmail', 'Invalid format'],
          [{ contactEmail: 'ü@example.com' }, 'contactEmail', 'Invalid format'],
          [{ contactEmail: `${'a'.repeat(250)}@example.com` }, 'contactEmail', 'String too long'],
          [{ userId: 99 }, 'userId', 'Read-only', 'The field `userId` is read-only'],
        ];
        for (const [patch, field, reason, message] of cases) {
          const r = await basic('POST', '/users', { json: { firstName: 'F', lastName: 'L', contactEmail: `rules.${field}@example.com`, ...patch } });
          assertError(r, 400, 'INVALID_FIELD');
          assert.deepEqual(details(r), [{ field, reason, location: 'body' }], JSON.stringify(patch));
          if (message) assert.equal(r.body.message, message);
        }
        const edge = await create('é'.repeat(100), 'L', 'x_y%z+w-1@sub-domain.example.co');
        assert.equal(edge.firstName.length, 100);
      });

      test('malformed JSON, a non-object, no body, another content type: 400 INVALID_FIELD Malformed JSON', async () => {
        const malformed = [{ field: 'body', reason: 'Malformed JSON', location: 'body' }];
        for (const r of [
          await basic('POST', '/users', { raw: '{"firstName":', headers: { 'content-type': 'application/json' } }),
          await basic('POST', '/users', { json: ['a'] }),
          await basic('POST', '/users', { json: 'text' }),
          await basic('POST', '/users', {}),
          await basic('POST', '/users', { raw: '{"firstName":"a","lastName":"b","contactEmail":"ct@example.com"}', headers: { 'content-type': 'text/plain' } }),
          await basic('POST', '/users', { raw: '{"firstName":"a"}', headers: { 'content-type': '' } }),
        ]) {
          assertError(r, 400, 'INVALID_FIELD');
          assert.deepEqual(details(r), malformed);
        }
      });
    });

    describe('GET /users', () => {
      test('{users} only, zero-indexed pages (default 20), no totals; a page past the end is empty', async () => {
        const C = await srv.newTeam();
        const made = [];
        for (let i = 0; i < 23; i++) made.push(await create(`F${String(i).padStart(2, '0')}`, 'L', `page${i}@example.com`, C.key));
        const p0 = await basic('GET', '/users', {}, C.key);
        assert.deepEqual(Object.keys(p0.body), ['users']);
        assert.deepEqual(p0.body.users, made.slice(0, 20));
        assert.deepEqual((await basic('GET', '/users?_page=1', {}, C.key)).body.users, made.slice(20));
        assert.deepEqual((await basic('GET', '/users?_page=2&_perPage=10', {}, C.key)).body.users, made.slice(20));
        assert.deepEqual((await basic('GET', '/users?_page=9', {}, C.key)).body.users, []);
        assert.deepEqual((await basic('GET', '/users?_perPage=100&_page=90071992547409', {}, C.key)).body.users, []);
        // Another team sees none of them.
        const b = await basic('GET', '/users?_perPage=100', {}, B.key);
        assert.ok(!b.body.users.some((u: { contactEmail: string }) => u.contactEmail.startsWith('page')));
      });

      test('_sort by each field, ascending or descending, by code point (capitals first), ties by userId', async () => {
        const C = await srv.newTeam();
        const z = await create('zoe', 'Same', 'b@example.com', C.key);
        const Z = await create('Zed', 'Same', 'A@example.com', C.key);
        const a = await create('alice', 'Other', 'c@example.com', C.key);
        const ids = async (q: string) => (await basic('GET', `/users?_sort=${q}`, {}, C.key)).body.users.map((u: { userId: number }) => u.userId);
        assert.deepEqual(await ids('userId'), [z.userId, Z.userId, a.userId]);
        assert.deepEqual(await ids('-userId'), [a.userId, Z.userId, z.userId]);
        assert.deepEqual(await ids('firstName'), [Z.userId, a.userId, z.userId]);
        assert.deepEqual(await ids('-firstName'), [z.userId, a.userId, Z.userId]);
        assert.deepEqual(await ids('lastName'), [a.userId, z.userId, Z.userId]);
        assert.deepEqual(await ids('-lastName'), [z.userId, Z.userId, a.userId]);
        assert.deepEqual(await ids('contactEmail'), [Z.userId, z.userId, a.userId]);
        assert.deepEqual(await ids('-contactEmail'), [a.userId, z.userId, Z.userId]);
      });

      test('bad _page, _perPage, _sort: 400 INVALID_FIELD located in the query', async () => {
        const cases: [string, string, string][] = [
          ['_page=-1', '_page', 'Invalid value'], ['_page=abc', '_page', 'Invalid format'], ['_page=1.5', '_page', 'Invalid format'],
          ['_page=1e300', '_page', 'Value too large'], ['_perPage=0', '_perPage', 'Invalid value'], ['_perPage=101', '_perPage', 'Value too large'],
          ['_sort=dueDate', '_sort', 'Invalid value'], ['_sort=--userId', '_sort', 'Invalid value'], ['_sort=userId&_sort=firstName', '_sort', 'Invalid format'],
        ];
        for (const [q, field, reason] of cases) {
          const r = await basic('GET', `/users?${q}`);
          assertError(r, 400, 'INVALID_FIELD');
          assert.deepEqual(details(r), [{ field, reason, location: 'query' }], q);
        }
        assert.equal((await basic('GET', '/users?_perPage=1&_page=0&other=1')).status, 200);
      });
    });

    describe('GET /users/{userId}', () => {
      test('one user; a bad id 400 (path); an unknown id or another team\'s 404 RESOURCE_NOT_FOUND', async () => {
        const u = await create('Get', 'Me', 'get.me@example.com');
        assert.deepEqual((await basic('GET', `/users/${u.userId}`)).body, u);
        for (const bad of ['abc', '0', '007', '-1', '1.5', '1234567890123456', '%20', '1e3']) {
          const r = await basic('GET', `/users/${bad}`);
          assertError(r, 400, 'INVALID_FIELD');
          assert.deepEqual(details(r), [{ field: 'userId', reason: 'Invalid format', location: 'path' }], bad);
        }
        const nf = await basic('GET', '/users/999999999999999');
        assertError(nf, 404, 'RESOURCE_NOT_FOUND');
        assert.equal(nf.body.message, 'The requested resource could not be found');
        // Team B has its own numbers: A's number is not B's user.
        const bUser = await basic('GET', `/users/${u.userId}`, {}, B.key);
        assert.ok(bUser.status === 404 || bUser.body.contactEmail !== u.contactEmail);
      });
    });

    describe('PATCH /users/{userId}', () => {
      test('changes only what is sent and returns the full user', async () => {
        const u = await create('Pat', 'Ch', 'pat@example.com');
        const r = await basic('PATCH', `/users/${u.userId}`, { json: { lastName: 'Changed', ignored: 1 } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body, { ...u, lastName: 'Changed' });
        const e = await basic('PATCH', `/users/${u.userId}`, { json: { contactEmail: 'PAT@example.com' } });
        assert.equal(e.status, 200, 'its own address in another case is fine');
        assert.equal(e.body.contactEmail, 'PAT@example.com');
        assert.deepEqual((await basic('GET', `/users/${u.userId}`)).body, e.body);
      });

      test('empty, no known field, null, read-only, a taken address: 400 INVALID_FIELD', async () => {
        const u = await create('Pat', 'Err', 'pat.err@example.com');
        await create('Other', 'Holder', 'taken@example.com');
        const cases: [unknown, { field: string; reason: string }[]][] = [
          [{}, [{ field: 'body', reason: 'Empty update' }]],
          [{ nickname: 'x' }, [{ field: 'body', reason: 'Empty update' }]],
          [{ firstName: null }, [{ field: 'firstName', reason: 'Invalid value' }]],
          [{ userId: 5 }, [{ field: 'userId', reason: 'Read-only' }, { field: 'body', reason: 'Empty update' }]],
          [{ userId: 5, lastName: '' }, [{ field: 'userId', reason: 'Read-only' }, { field: 'lastName', reason: 'String too short' }]],
          [{ contactEmail: 'Taken@Example.com' }, [{ field: 'contactEmail', reason: 'Already exists' }]],
          [{ contactEmail: 'bad' }, [{ field: 'contactEmail', reason: 'Invalid format' }]],
        ];
        for (const [json, want] of cases) {
          const r = await basic('PATCH', `/users/${u.userId}`, { json });
          assertError(r, 400, 'INVALID_FIELD');
          assert.deepEqual(details(r), want.map((w) => ({ ...w, location: 'body' })), JSON.stringify(json));
        }
        for (const raw of ['{', '[]', '"x"', 'null']) {
          const r = await basic('PATCH', `/users/${u.userId}`, { raw, headers: { 'content-type': 'application/json' } });
          assertError(r, 400, 'INVALID_FIELD');
          assert.deepEqual(details(r), [{ field: 'body', reason: 'Malformed JSON', location: 'body' }]);
        }
        assert.deepEqual((await basic('GET', `/users/${u.userId}`)).body, u);
      });

      test('order: bad path id 400 → unknown user 404 (even with a broken body) → body 400', async () => {
        assertError(await basic('PATCH', '/users/abc', { raw: '{', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_FIELD');
        assertError(await basic('PATCH', '/users/999999', { raw: '{', headers: { 'content-type': 'application/json' } }), 404, 'RESOURCE_NOT_FOUND');
        assertError(await basic('PATCH', '/users/999999', { json: {} }), 404, 'RESOURCE_NOT_FOUND');
        const u = await create('Order', 'Check', 'order@example.com');
        assertError(await basic('PATCH', `/users/${u.userId}`, { json: { firstName: 'B' } }, B.key), 404, 'RESOURCE_NOT_FOUND');
      });
    });

    describe('DELETE /users/{userId}', () => {
      test('204 with no body; then GET, PATCH, DELETE 404; the address is free again', async () => {
        const u = await create('Del', 'Me', 'del.me@example.com');
        assertError(await basic('DELETE', `/users/${u.userId}`, {}, B.key), 404, 'RESOURCE_NOT_FOUND');
        const r = await basic('DELETE', `/users/${u.userId}`);
        assert.equal(r.status, 204);
        assert.equal(r.text, '');
        assertError(await basic('GET', `/users/${u.userId}`), 404, 'RESOURCE_NOT_FOUND');
        assertError(await basic('PATCH', `/users/${u.userId}`, { json: { firstName: 'x' } }), 404, 'RESOURCE_NOT_FOUND');
        assertError(await basic('DELETE', `/users/${u.userId}`), 404, 'RESOURCE_NOT_FOUND');
        assertError(await basic('DELETE', '/users/0'), 400, 'INVALID_FIELD');
        await create('Del', 'Again', 'del.me@example.com');
      });
    });

    describe('routes and bad input', () => {
      test('PUT and other methods: 405 with Allow; unknown paths: 404 RESOURCE_NOT_FOUND', async () => {
        const r = await basic('PUT', '/users/1', { json: {} });
        assertError(r, 405, 'METHOD_NOT_ALLOWED');
        assert.equal(r.headers.get('allow'), 'GET, HEAD, PATCH, DELETE');
        assert.equal((await basic('DELETE', '/users')).headers.get('allow'), 'GET, HEAD, POST');
        assertError(await basic('GET', '/tasks'), 404, 'RESOURCE_NOT_FOUND');
        assertError(await basic('GET', '/users/1/tasks'), 404, 'RESOURCE_NOT_FOUND');
      });

      test('NUL, unpaired surrogates, huge numbers, wrong types, odd paths: 4xx in the contract shape, never 500', async () => {
        const bodies: unknown[] = [
          { firstName: 'a\u0000', lastName: 'b', contactEmail: 'nul@example.com' },
          { firstName: '\ud800', lastName: 'b', contactEmail: 'sur@example.com' },
          { firstName: 'a', lastName: 'b', contactEmail: 'x\u0000@example.com' },
          { firstName: 1e308, lastName: true, contactEmail: ['a@b.co'] },
          { firstName: { a: 1 }, lastName: 'b', contactEmail: 'obj@example.com' },
        ];
        for (const json of bodies) {
          const r = await basic('POST', '/users', { json });
          assertError(r, 400, 'INVALID_FIELD');
        }
        for (const raw of ['{"firstName":"a","lastName":"b","contactEmail":"big@example.com","userId":1e400}', '{"firstName":"\\ud800"}', '['.repeat(10000)]) {
          const r = await basic('POST', '/users', { raw, headers: { 'content-type': 'application/json' } });
          assert.equal(r.status, 400, r.text);
        }
        for (const p of ['/users/1%00', '/users/%F0%9F%98%80', `/users/${'9'.repeat(4000)}`, '/users/%E0%A4%A']) {
          assertError(await basic('GET', p), 400, 'INVALID_FIELD');
        }
        assertError(await basic('GET', `/users/${'9'.repeat(5000)}`), 414, 'URI_TOO_LONG');
        const big = await basic('POST', '/users', { json: { firstName: 'x'.repeat(2_000_000), lastName: 'b', contactEmail: 'big@example.com' } });
        assertError(big, 413, 'PAYLOAD_TOO_LARGE');
      });

      test('a request id sent as X-Request-Id comes back in the body and the header', async () => {
        const r = await basic('GET', '/users/abc', { headers: { 'x-request-id': 'req-0b1f7c0e-5a2d-4e8b-9c61-0f2a7d9e4b15' } });
        assert.equal(r.body.requestId, 'req-0b1f7c0e-5a2d-4e8b-9c61-0f2a7d9e4b15');
      });
    });
  });

  describe(`basic face: rate limits (${backend.name})`, () => {
    let srv: FacesServer;
    facesSuite(backend, { basicRateLimit: { max: 3, windowMs: 60_000 } }, (s) => ({ srv } = s));

    test('per key: X-RateLimit-Limit/-Remaining/-Reset (epoch seconds) on every response, then 429 with Retry-After', async () => {
      const t = await srv.newTeam();
      const other = await srv.newTeam();
      const before = Math.floor(Date.now() / 1000);
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await call(srv.baseUrl, 'GET', i === 1 ? '/basic/users/abc' : '/basic/users', { bearer: t.key });
        assert.ok(r.status === 200 || r.status === 400);
        assert.equal(r.headers.get('x-ratelimit-limit'), '3');
        seen.push(r.headers.get('x-ratelimit-remaining')!);
        const reset = Number(r.headers.get('x-ratelimit-reset'));
        assert.ok(reset >= before + 59 && reset <= before + 61, `reset ${reset} is an epoch second about a minute ahead`);
      }
      assert.deepEqual(seen, ['2', '1', '0']);
      const limited = await call(srv.baseUrl, 'POST', '/basic/users', { bearer: t.key, json: { firstName: 'a', lastName: 'b', contactEmail: 'rl@example.com' } });
      assertError(limited, 429, 'RATE_LIMIT_EXCEEDED');
      assertSpec('post', '/users', 429, limited.body);
      const retry = Number(limited.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 60);
      assert.equal(limited.body.message, `Rate limit exceeded. Try again in ${retry} seconds`);
      assert.equal(limited.headers.get('x-ratelimit-remaining'), '0');
      // Nothing was created; another key has its own bucket.
      const ok = await call(srv.baseUrl, 'GET', '/basic/users', { bearer: other.key });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('x-ratelimit-remaining'), '2');
      // 401 and 403 carry the headers too (a read-only key is limited like any key).
      const ro = await call(srv.baseUrl, 'DELETE', '/basic/users/1', { bearer: other.readOnlyKey });
      assertError(ro, 403, 'FORBIDDEN');
      assert.equal(ro.headers.get('x-ratelimit-limit'), '3');
    });

    test('a team\'s own per-minute limit wins; requests without a valid key are limited per address (401, then 429)', async () => {
      const t = await srv.newTeam();
      await srv.built.services.teams.setRateLimit(t.teamId, 5);
      const r = await call(srv.baseUrl, 'GET', '/basic/users', { bearer: t.key });
      assert.equal(r.headers.get('x-ratelimit-limit'), '5');
      assert.equal(r.headers.get('x-ratelimit-remaining'), '4');
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        const u = await call(srv.baseUrl, 'GET', '/basic/users', { bearer: `sk_rst_guess_${i}` });
        assert.equal(u.headers.get('x-ratelimit-limit'), '3');
        statuses.push(u.status);
      }
      assert.deepEqual(statuses, [401, 401, 401, 429]);
    });
  });
}
