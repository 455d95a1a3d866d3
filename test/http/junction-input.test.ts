// Bad input the SDK cannot send, over raw HTTP: authentication order, malformed JSON and types,
// text PostgreSQL cannot hold, out-of-range query integers, malformed UUIDs, unknown routes, body
// size, media types, trailing slashes and route precedence (contract §1, §1.1, §1.2, §5, §7).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, type RawRequest, type RawResponse, UUID_RE } from '../support/junction-http.ts';

const UNKNOWN_ID = '0190a0a0-0000-7000-8000-000000000000';

function assertJson(r: RawResponse) {
  assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/, `content-type of ${r.status} ${r.text.slice(0, 200)}`);
  assert.notEqual(r.body, undefined, `a JSON body: ${r.text.slice(0, 200)}`);
}

/** A 422 with a Pydantic list; returns the entries. */
function list422(r: RawResponse): { type: string; loc: (string | number)[]; msg: string; input: unknown; ctx?: Record<string, unknown> }[] {
  assert.equal(r.status, 422, r.text.slice(0, 500));
  assertJson(r);
  assert.ok(Array.isArray(r.body.detail), `detail is a list: ${r.text.slice(0, 500)}`);
  for (const e of r.body.detail) {
    assert.equal(typeof e.type, 'string');
    assert.ok(Array.isArray(e.loc));
    assert.equal(typeof e.msg, 'string');
    assert.ok('input' in e);
  }
  return r.body.detail;
}

function detail(r: RawResponse, status: number, text?: string) {
  assert.equal(r.status, status, r.text.slice(0, 500));
  assertJson(r);
  assert.equal(typeof r.body.detail, 'string', r.text.slice(0, 500));
  if (text !== undefined) assert.equal(r.body.detail, text);
}

for (const backend of backends()) {
  describe(`Junction face, raw input (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let key: string;
    let liveId: string;
    const req = (method: string, path: string, r: RawRequest = {}) => call(srv.baseUrl, method, path, { key, ...r });

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      key = (await srv.newTeam('input')).apiKey;
      const r = await req('POST', '/v2/user', { json: { client_user_id: 'input-live' } });
      assert.equal(r.status, 200, r.text);
      liveId = r.body.user_id;
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    describe('authentication comes first', () => {
      const cases: [string, string, RawRequest][] = [
        ['GET', '/v2/user', {}],
        ['GET', '/v2/user?limit=abc', {}],
        ['POST', '/v2/user', { json: { client_user_id: 'auth-check' } }],
        ['POST', '/v2/user', { raw: '{not json', headers: { 'content-type': 'application/json' } }],
        ['POST', '/v2/user', { json: [1, 2] }],
        ['GET', '/v2/user/not-a-uuid', {}],
        ['DELETE', '/v2/user/not-a-uuid', {}],
        ['GET', `/v2/user/${UNKNOWN_ID}`, {}],
        ['PATCH', `/v2/user/${UNKNOWN_ID}`, { json: {} }],
        ['GET', '/v2/user/resolve/nobody', {}],
        ['GET', '/v2/user/metrics', {}],
        ['POST', '/v2/user/undo_delete', {}],
        ['POST', '/v2/user', { raw: '{"client_user_id":"' + 'x'.repeat(1_100_000) + '"}', headers: { 'content-type': 'application/json' } }],
      ];
      for (const [method, path, r] of cases) {
        test(`${method} ${path.slice(0, 60)}${r.raw ? ' (raw body)' : ''}: no key → 401 {"detail": string}`, async () => {
          detail(await call(srv.baseUrl, method, path, { ...r, key: null }), 401);
        });
        test(`${method} ${path.slice(0, 60)}${r.raw ? ' (raw body)' : ''}: unknown key → 401`, async () => {
          detail(await call(srv.baseUrl, method, path, { ...r, key: 'sk_rst_' + 'A'.repeat(43) }), 401);
        });
      }

      test('an empty key, or a huge one, is refused with 401', async () => {
        detail(await call(srv.baseUrl, 'GET', '/v2/user', { headers: { 'x-vital-api-key': '' } }), 401);
        detail(await call(srv.baseUrl, 'GET', '/v2/user', { headers: { 'x-vital-api-key': 'k'.repeat(8000) } }), 401);
      });

      test('a real user\'s id without a key → 401, and nothing about the user leaks', async () => {
        const r = await call(srv.baseUrl, 'GET', `/v2/user/${liveId}`, { key: null });
        detail(r, 401);
        assert.ok(!r.text.includes(liveId));
      });

      test('the header name is case-insensitive', async () => {
        for (const name of ['x-vital-api-key', 'X-Vital-Api-Key', 'X-VITAL-API-KEY']) {
          const r = await call(srv.baseUrl, 'GET', '/v2/user', { headers: { [name]: key } });
          assert.equal(r.status, 200, `${name}: ${r.text}`);
        }
      });

      test('/healthz and /readyz need no key', async () => {
        const h = await call(srv.baseUrl, 'GET', '/healthz');
        assert.equal(h.status, 200);
        assertJson(h);
        const r = await call(srv.baseUrl, 'GET', '/readyz');
        assert.equal(r.status, 200);
        assertJson(r);
      });
    });

    describe('request bodies', () => {
      test('invalid JSON → 422 json_invalid at a character offset', async () => {
        for (const raw of ['{not json', '{"client_user_id": "a",}', '{"client_user_id": "a"', "{'a': 1}"]) {
          const [e, ...rest] = list422(await req('POST', '/v2/user', { raw, headers: { 'content-type': 'application/json' } }));
          assert.equal(rest.length, 0);
          assert.equal(e!.type, 'json_invalid', raw);
          assert.equal(e!.loc[0], 'body');
          assert.equal(typeof e!.loc[1], 'number');
          assert.equal(e!.msg, 'JSON decode error');
          assert.equal(typeof e!.ctx?.error, 'string');
        }
      });

      test('invalid JSON on PATCH → 422 json_invalid too', async () => {
        const [e] = list422(await req('PATCH', `/v2/user/${liveId}`, { raw: '{"ingestion_end": ', headers: { 'content-type': 'application/json' } }));
        assert.equal(e!.type, 'json_invalid');
      });

      test('JSON that is not an object → 422 model_attributes_type on ["body"]', async () => {
        for (const raw of ['[]', '[{"client_user_id":"a"}]', '"a string"', '42', 'true']) {
          const [e, ...rest] = list422(await req('POST', '/v2/user', { raw, headers: { 'content-type': 'application/json' } }));
          assert.equal(rest.length, 0, raw);
          assert.equal(e!.type, 'model_attributes_type', raw);
          assert.deepEqual(e!.loc, ['body'], raw);
          assert.equal(e!.msg, 'Input should be a valid dictionary or object to extract fields from');
        }
      });

      test('JSON null, or no body at all → 422 missing on ["body"]', async () => {
        for (const r of [{ raw: 'null', headers: { 'content-type': 'application/json' } }, {}, { raw: '', headers: { 'content-type': 'application/json' } }]) {
          const [e, ...rest] = list422(await req('POST', '/v2/user', r));
          assert.equal(rest.length, 0);
          assert.equal(e!.type, 'missing');
          assert.deepEqual(e!.loc, ['body']);
          assert.equal(e!.msg, 'Field required');
        }
      });

      test('PATCH with a body that is not an object → 422 model_attributes_type', async () => {
        for (const raw of ['[]', '"x"', '7']) {
          const [e] = list422(await req('PATCH', `/v2/user/${liveId}`, { raw, headers: { 'content-type': 'application/json' } }));
          assert.equal(e!.type, 'model_attributes_type', raw);
          assert.deepEqual(e!.loc, ['body']);
        }
      });

      test('a missing client_user_id → missing entry with the whole body as input', async () => {
        const body = { fallback_time_zone: 'Europe/London' };
        const [e, ...rest] = list422(await req('POST', '/v2/user', { json: body }));
        assert.equal(rest.length, 0);
        assert.equal(e!.type, 'missing');
        assert.deepEqual(e!.loc, ['body', 'client_user_id']);
        assert.equal(e!.msg, 'Field required');
        assert.deepEqual(e!.input, body);
      });

      test('wrong JSON types → string_type entries, all together', async () => {
        const list = list422(await req('POST', '/v2/user', { json: { client_user_id: 123, fallback_time_zone: 5, fallback_birth_date: true, ingestion_start: {}, ingestion_end: [] } }));
        assert.deepEqual(list.map((e) => e.loc), [
          ['body', 'client_user_id'], ['body', 'fallback_time_zone'], ['body', 'fallback_birth_date'], ['body', 'ingestion_start'], ['body', 'ingestion_end'],
        ]);
        assert.equal(list[0]!.type, 'string_type');
        assert.equal(list[0]!.msg, 'Input should be a valid string');
        assert.equal(list[0]!.input, 123);
        assert.equal(list[1]!.type, 'string_type');
      });

      test('wrong types on PATCH → 422, nothing changed', async () => {
        const list = list422(await req('PATCH', `/v2/user/${liveId}`, { json: { client_user_id: 5, ingestion_end: 20240101 } }));
        assert.deepEqual(list.map((e) => e.loc), [['body', 'client_user_id'], ['body', 'ingestion_end']]);
        const u = await req('GET', `/v2/user/${liveId}`);
        assert.equal(u.body.client_user_id, 'input-live');
        assert.equal(u.body.ingestion_end, null);
      });

      test('unknown keys are ignored', async () => {
        const r = await req('POST', '/v2/user', { json: { client_user_id: 'input-extra-keys', not_a_field: 1, team_id: UNKNOWN_ID } });
        assert.equal(r.status, 200, r.text);
        assert.notEqual(r.body.team_id, UNKNOWN_ID);
      });

      test('a body without a content type (or an odd one) is still read as JSON', async () => {
        const a = await req('POST', '/v2/user', { raw: '{"client_user_id":"input-no-ctype"}' });
        assert.equal(a.status, 200, a.text);
        const b = await req('POST', '/v2/user', { raw: '{"client_user_id":"input-text-ctype"}', headers: { 'content-type': 'text/plain' } });
        assert.equal(b.status, 200, b.text);
        assert.equal(b.body.client_user_id, 'input-text-ctype');
      });

      test('a body over 1 MiB → 413 JSON', async () => {
        const r = await req('POST', '/v2/user', { raw: '{"client_user_id":"' + 'x'.repeat(1_100_000) + '"}', headers: { 'content-type': 'application/json' } });
        detail(r, 413);
      });
    });

    describe('client_user_id text rules', () => {
      const bad: [string, string, string][] = [
        ['1025 ASCII bytes', JSON.stringify({ client_user_id: 'a'.repeat(1025) }), 'string_too_long'],
        ['342 × € (1026 bytes)', JSON.stringify({ client_user_id: '€'.repeat(342) }), 'string_too_long'],
        ['empty', JSON.stringify({ client_user_id: '' }), 'string_too_short'],
        ['U+0000', '{"client_user_id":"a\\u0000b"}', 'value_error'],
        ['an unpaired high surrogate', '{"client_user_id":"a\\ud800"}', 'value_error'],
        ['an unpaired low surrogate', '{"client_user_id":"\\udc00b"}', 'value_error'],
        ['reversed surrogates', '{"client_user_id":"\\udc00\\ud800"}', 'value_error'],
      ];
      for (const [what, raw, type] of bad) {
        test(`create with ${what} → 422 ${type} (never 500), nothing stored`, async () => {
          const before = (await req('GET', '/v2/user?limit=0')).body.total;
          const [e, ...rest] = list422(await req('POST', '/v2/user', { raw, headers: { 'content-type': 'application/json' } }));
          assert.equal(rest.length, 0);
          assert.equal(e!.type, type);
          assert.deepEqual(e!.loc, ['body', 'client_user_id']);
          assert.equal((await req('GET', '/v2/user?limit=0')).body.total, before);
        });
        test(`patch to ${what} → 422 ${type}, nothing changed`, async () => {
          const [e] = list422(await req('PATCH', `/v2/user/${liveId}`, { raw, headers: { 'content-type': 'application/json' } }));
          assert.equal(e!.type, type);
          assert.deepEqual(e!.loc, ['body', 'client_user_id']);
          assert.equal((await req('GET', `/v2/user/${liveId}`)).body.client_user_id, 'input-live');
        });
      }

      test('the too-long entry says the limit counts bytes', async () => {
        const [e] = list422(await req('POST', '/v2/user', { json: { client_user_id: '€'.repeat(342) } }));
        assert.deepEqual(e!.ctx, { max_length: 1024 });
      });

      test('1024 ASCII bytes and 341 × € (1023 bytes) are accepted and resolve', async () => {
        for (const cid of ['a'.repeat(1024), '€'.repeat(341)]) {
          const r = await req('POST', '/v2/user', { json: { client_user_id: cid } });
          assert.equal(r.status, 200, r.text.slice(0, 300));
          assert.equal(r.body.client_user_id, cid);
          const g = await req('GET', `/v2/user/resolve/${encodeURIComponent(cid)}`);
          assert.equal(g.status, 200, g.text.slice(0, 300));
          assert.equal(g.body.user_id, r.body.user_id);
        }
      });

      test('a valid surrogate pair (emoji) is stored exactly', async () => {
        const r = await req('POST', '/v2/user', { raw: '{"client_user_id":"e-\\ud83d\\ude00"}', headers: { 'content-type': 'application/json' } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.client_user_id, 'e-😀');
        const g = await req('GET', `/v2/user/resolve/${encodeURIComponent('e-😀')}`);
        assert.equal(g.body.user_id, r.body.user_id);
      });

      test('resolve with text PostgreSQL cannot hold, or malformed percent-encoding → 404, never 500', async () => {
        for (const p of ['%00', 'a%00b', '%ED%A0%80', '%C0%AF', '%', '%zz', '%E2%82', encodeURIComponent('x'.repeat(1025))]) {
          detail(await req('GET', `/v2/user/resolve/${p}`), 404, 'User not found');
        }
      });

      test('undo by such a client_user_id (query or body) → 404 "User not found" (a NUL in a body: 422, security review C7), never 500', async () => {
        for (const p of ['%00', 'a%00b', '%ED%A0%80', 'x'.repeat(1025)]) {
          detail(await req('POST', `/v2/user/undo_delete?client_user_id=${p}`), 404, 'User not found');
        }
        detail(await req('POST', '/v2/user/undo_delete', { raw: '{"client_user_id":"\\ud800"}', headers: { 'content-type': 'application/json' } }), 404, 'User not found');
        const nul = await req('POST', '/v2/user/undo_delete', { raw: '{"client_user_id":"a\\u0000"}', headers: { 'content-type': 'application/json' } });
        assert.equal(nul.status, 422, nul.text);
      });
    });

    describe('query integers (U1)', () => {
      const check = async (qs: string, type: string, loc: string[], extra: Record<string, unknown> = {}) => {
        const list = list422(await req('GET', `/v2/user?${qs}`));
        const e = list.find((x) => JSON.stringify(x.loc) === JSON.stringify(loc));
        assert.ok(e, `${qs}: ${JSON.stringify(list)}`);
        assert.equal(e.type, type, qs);
        for (const [k, v] of Object.entries(extra)) assert.deepEqual((e as Record<string, unknown>)[k], v, `${qs} ${k}`);
      };

      test('limit=501 → less_than_equal with ctx.le 500 and the raw input', async () => {
        await check('limit=501', 'less_than_equal', ['query', 'limit'], { ctx: { le: 500 }, input: '501', msg: 'Input should be less than or equal to 500' });
      });
      test('limit=-1 and offset=-1 → greater_than_equal with ctx.ge 0', async () => {
        await check('limit=-1', 'greater_than_equal', ['query', 'limit'], { ctx: { ge: 0 }, input: '-1' });
        await check('offset=-1', 'greater_than_equal', ['query', 'offset'], { ctx: { ge: 0 } });
      });
      test('limit=abc, limit=1.5, limit= → int_parsing', async () => {
        for (const v of ['abc', '1.5', '', '5abc', '--1']) {
          await check(`limit=${v}`, 'int_parsing', ['query', 'limit'], { input: v, msg: 'Input should be a valid integer, unable to parse string as an integer' });
        }
      });
      test('hex, binary and exponent spellings are not decimal integers → int_parsing', async () => {
        for (const v of ['0x10', '0b1', '0o7', '1e2']) {
          await check(`limit=${v}`, 'int_parsing', ['query', 'limit'], { input: v, msg: 'Input should be a valid integer, unable to parse string as an integer' });
        }
      });
      test('integers beyond 64 bits → 422, not 500', async () => {
        for (const qs of ['offset=99999999999999999999', 'limit=1e309', 'offset=1e309', 'limit=99999999999999999999', 'offset=9223372036854775808']) {
          const list = list422(await req('GET', `/v2/user?${qs}`));
          assert.ok(['int_parsing', 'less_than_equal'].includes(list[0]!.type), `${qs}: ${JSON.stringify(list)}`);
        }
      });
      test('both bad at once → two entries', async () => {
        const list = list422(await req('GET', '/v2/user?offset=x&limit=600'));
        assert.deepEqual(list.map((e) => e.loc).sort(), [['query', 'limit'], ['query', 'offset']]);
      });
      test('limit=500 and limit=0 are fine', async () => {
        const a = await req('GET', '/v2/user?limit=500');
        assert.equal(a.status, 200);
        assert.equal(a.body.limit, 500);
        const b = await req('GET', '/v2/user?limit=0&offset=3');
        assert.equal(b.status, 200);
        assert.deepEqual(b.body.users, []);
        assert.equal(b.body.offset, 3);
        assert.equal(typeof b.body.total, 'number');
      });
    });

    describe('malformed UUIDs in paths', () => {
      test('GET /v2/user/{bad} → 422 with the Go-style string', async () => {
        const r = await req('GET', '/v2/user/abc');
        detail(r, 422, "Invalid format for parameter user_id: error unmarshaling 'abc' text as *uuid.UUID: invalid UUID length: 3");
        const r2 = await req('GET', `/v2/user/${UNKNOWN_ID}x`);
        detail(r2, 422);
        assert.match(r2.body.detail, /^Invalid format for parameter user_id: /);
      });

      for (const method of ['DELETE', 'PATCH']) {
        test(`${method} /v2/user/{bad} → 422 uuid_parsing on ["path","user_id"]`, async () => {
          for (const bad of ['abc', `${UNKNOWN_ID}0`, 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', '%00']) {
            const r = await req(method, `/v2/user/${bad}`, method === 'PATCH' ? { json: { ingestion_end: null } } : {});
            const [e, ...rest] = list422(r);
            assert.equal(rest.length, 0, bad);
            assert.equal(e!.type, 'uuid_parsing', bad);
            assert.deepEqual(e!.loc, ['path', 'user_id']);
            assert.equal(e!.input, decodeURIComponent(bad));
            assert.match(e!.msg, /^Input should be a valid UUID, /);
          }
        });
      }

      test('undo_delete?user_id=bad → 422 uuid_parsing on ["query","user_id"]', async () => {
        const [e] = list422(await req('POST', '/v2/user/undo_delete?user_id=nope'));
        assert.equal(e!.type, 'uuid_parsing');
        assert.deepEqual(e!.loc, ['query', 'user_id']);
        assert.equal(e!.input, 'nope');
      });
    });

    describe('routes', () => {
      test('unknown routes and methods → 404 JSON', async () => {
        for (const [m, p] of [['GET', '/v2/nothing'], ['GET', '/v3/user'], ['PUT', '/v2/user'], ['PUT', `/v2/user/${liveId}`], ['POST', `/v2/user/${liveId}`], ['GET', '/'], ['DELETE', '/v2/user/metrics/extra/segments']]) {
          const r = await req(m!, p!);
          assert.equal(r.status, 404, `${m} ${p}: ${r.status} ${r.text}`);
          assertJson(r);
        }
      });

      test('trailing slash works on /v2/user/ without a redirect', async () => {
        const l = await req('GET', '/v2/user/');
        assert.equal(l.status, 200, l.text);
        assert.equal(typeof l.body.total, 'number');
        const c = await req('POST', '/v2/user/', { json: { client_user_id: 'input-trailing' } });
        assert.equal(c.status, 200, c.text);
        assert.equal(c.body.client_user_id, 'input-trailing');
        const g = await req('GET', `/v2/user/${c.body.user_id}/`);
        assert.equal(g.status, 200);
        assert.equal(g.body.user_id, c.body.user_id);
      });

      test('GET /v2/user/metrics is the metrics route, not a user id', async () => {
        const r = await req('GET', '/v2/user/metrics');
        assert.equal(r.status, 200, r.text);
        assert.match(r.body.team_id, UUID_RE);
        assert.equal(typeof r.body.number_of_users, 'number');
      });

      test('POST /v2/user/undo_delete is the undo route (bodiless, no content type)', async () => {
        const r = await req('POST', '/v2/user/undo_delete');
        detail(r, 400, 'Provide exactly one of user_id or client_user_id');
        const c = await req('POST', '/v2/user', { json: { client_user_id: 'input-undo' } });
        assert.equal((await req('DELETE', `/v2/user/${c.body.user_id}`)).status, 200);
        const u = await req('POST', `/v2/user/undo_delete?user_id=${c.body.user_id}`);
        assert.equal(u.status, 200, u.text);
        assert.deepEqual(u.body, { success: true });
      });

      test('undo_delete also takes the keys in a JSON body (fallback)', async () => {
        const c = await req('POST', '/v2/user', { json: { client_user_id: 'input-undo-body' } });
        await req('DELETE', `/v2/user/${c.body.user_id}`);
        const u = await req('POST', '/v2/user/undo_delete', { json: { client_user_id: 'input-undo-body' } });
        assert.equal(u.status, 200, u.text);
        assert.equal((await req('GET', `/v2/user/${c.body.user_id}`)).status, 200);
      });

      test('GET /v2/user/resolve/metrics resolves the client id "metrics"', async () => {
        detail(await req('GET', '/v2/user/resolve/metrics'), 404, 'User not found');
        const c = await req('POST', '/v2/user', { json: { client_user_id: 'metrics' } });
        const r = await req('GET', '/v2/user/resolve/metrics');
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.user_id, c.body.user_id);
      });

      test('resolve decodes exactly once: %2F is a slash, %252F stays %2F', async () => {
        const a = await req('POST', '/v2/user', { json: { client_user_id: 'p/q' } });
        const b = await req('POST', '/v2/user', { json: { client_user_id: 'p%2Fq' } });
        assert.equal((await req('GET', '/v2/user/resolve/p%2Fq')).body.user_id, a.body.user_id);
        assert.equal((await req('GET', '/v2/user/resolve/p%252Fq')).body.user_id, b.body.user_id);
        assert.equal((await req('GET', '/v2/user/resolve/p/q')).body.user_id, a.body.user_id);
      });
    });

    describe('every error response is application/json', () => {
      test('401, 404, 413, 422 and 400 across routes', async () => {
        const rs = [
          await call(srv.baseUrl, 'GET', '/v2/user', {}),
          await req('GET', '/v2/nothing'),
          await req('GET', `/v2/user/${UNKNOWN_ID}`),
          await req('GET', '/v2/user/abc'),
          await req('DELETE', '/v2/user/abc'),
          await req('POST', '/v2/user', { raw: '{', headers: { 'content-type': 'application/json' } }),
          await req('POST', '/v2/user', { json: { client_user_id: 'input-live' } }),
          await req('PATCH', `/v2/user/${liveId}`, { json: {} }),
          await req('POST', '/v2/user/undo_delete'),
          await req('GET', '/v2/user?limit=x'),
          await req('POST', '/v2/user', { raw: 'x'.repeat(1_100_000), headers: { 'content-type': 'application/json' } }),
        ];
        for (const r of rs) {
          assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text.slice(0, 200)}`);
          assertJson(r);
          assert.ok('detail' in r.body, r.text.slice(0, 200));
        }
      });
    });
  });
}
