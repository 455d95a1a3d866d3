// Property-based fuzzing (fast-check) of every route of every face: random and mutated bodies,
// paths, queries and headers. Invariants: never a 5xx, never a hang (every request has a time
// bound), every error is JSON in the face's contract shape, and state stays consistent (the number
// of live users the API reports equals what the database holds).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';

const RUNS = Number(process.env.ROSTER_FUZZ_RUNS ?? 500);
const REQUEST_BOUND_MS = 10_000;

type Face = 'junction' | 'onvy' | 'basic';
interface Route { face: Face; method: string; path: string }

const U = '{uid}';
const ROUTES: Route[] = [
  ...[
    ['GET', '/v2/user'], ['POST', '/v2/user'], ['GET', '/v2/user/metrics'], ['POST', '/v2/user/undo_delete'],
    ['GET', `/v2/user/${U}`], ['PATCH', `/v2/user/${U}`], ['DELETE', `/v2/user/${U}`], ['GET', '/v2/user/resolve/{cid}'],
    ['GET', `/v2/user/providers/${U}`], ['DELETE', `/v2/user/${U}/{provider}`], ['POST', `/v2/user/refresh/${U}`],
    ['GET', `/v2/user/${U}/device`], ['GET', `/v2/user/${U}/device/{uuid}`], ['PATCH', `/v2/user/${U}/info`],
    ['GET', `/v2/user/${U}/info/latest`], ['POST', `/v2/user/${U}/insurance`], ['GET', `/v2/user/${U}/insurance/latest`],
    ['POST', `/v2/user/${U}/sign_in_token`], ['POST', `/v2/user/${U}/create_portal_url`], ['POST', '/v2/link/connect/demo'],
  ].map(([method, path]) => ({ face: 'junction' as const, method: method!, path: path! })),
  ...[
    ['GET', '/onvy/users'], ['POST', '/onvy/users'], ['GET', '/onvy/users/{cid}'], ['PUT', '/onvy/users/{cid}'],
    ['PATCH', '/onvy/users/{cid}'], ['DELETE', '/onvy/users/{cid}'], ['GET', '/onvy/users/{cid}/data_syncs'],
    ['PUT', '/onvy/users/{cid}/data_syncs'], ['DELETE', '/onvy/users/{cid}/data_syncs/{provider}'],
  ].map(([method, path]) => ({ face: 'onvy' as const, method: method!, path: path! })),
  ...[
    ['GET', '/basic/users'], ['POST', '/basic/users'], ['GET', '/basic/users/{int}'], ['PATCH', '/basic/users/{int}'], ['DELETE', '/basic/users/{int}'],
  ].map(([method, path]) => ({ face: 'basic' as const, method: method!, path: path! })),
];

// Strings that have broken services like this one: NUL, lone surrogates, huge numbers, traversal.
const nasty = fc.constantFrom('\u0000', '\ud800', '\udfff', 'x'.repeat(2000), '9'.repeat(5000), '€'.repeat(400), '../..', '%00', '%ZZ', '%ED%A0%80',
  '99999999999999999999', '-1', '1e309', 'NaN', 'null', 'true', '{}', '[]', "' or 1=1 --", '<script>', ' ', '', 'GARMIN', 'oura', 'launch');
const anyString = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }), nasty);
const FIELD_NAMES = ['client_user_id', 'fallback_time_zone', 'fallback_birth_date', 'ingestion_start', 'ingestion_end', 'user_id', 'provider',
  'first_name', 'last_name', 'email', 'phone_number', 'gender', 'dob', 'address', 'payor_code', 'member_id', 'relationship', 'insured', 'context',
  'id', 'firstname', 'lastname', 'birthday', 'tz_offset', 'thresholds', 'firstName', 'lastName', 'contactEmail', 'data_type', 'sync_type', 'status'];
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, anyString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.oneof(anyString, fc.constantFrom(...FIELD_NAMES)), tie('value'), { maxKeys: 6 })),
})).value;

/** Bodies: valid-looking objects with mutated fields, or any JSON at all, or broken JSON text. */
const body = fc.oneof(
  fc.record({ client_user_id: anyString, fallback_time_zone: fc.oneof(anyString, fc.constant('Europe/London'), fc.constant(null)), fallback_birth_date: fc.oneof(anyString, fc.constant('1990-01-01')) }, { requiredKeys: [] }),
  fc.record({ id: anyString, firstname: anyString, lastname: anyString, birthday: anyString, tz_offset: fc.oneof(fc.integer(), anyString) }, { requiredKeys: [] }),
  fc.record({ firstName: anyString, lastName: anyString, contactEmail: fc.oneof(anyString, fc.constant('a@b.co')) }, { requiredKeys: [] }),
  json,
).map((v) => ({ text: JSON.stringify(v) ?? 'null' }));
const rawBody = fc.oneof(body, fc.constantFrom('{', '{"a":', '\u0000', '[1,', 'nul', '').map((text) => ({ text })));

const segment = fc.oneof(anyString, fc.uuid(), fc.constantFrom('metrics', 'resolve', 'undo_delete', '0', '1', '-1', '99999999999999999999'));
const query = fc.dictionary(fc.constantFrom('offset', 'limit', 'timeout', 'is_primary', 'user_id', 'client_user_id', 'page', '_page', '_perPage', '_sort'), fc.oneof(anyString, fc.integer().map(String)), { maxKeys: 3 });

function fill(path: string, seg: string, liveUser: { id: string; cid: string; basicId: string }, pick: number): string {
  // Lone surrogates cannot be percent-encoded by the client: send the raw UTF-8 bytes of one instead.
  const enc = (s: string) => { try { return encodeURIComponent(s); } catch { return '%ED%A0%80'; } };
  return path
    .replace('{uid}', pick % 3 === 0 ? liveUser.id : enc(seg))
    .replace('{cid}', pick % 3 === 1 ? enc(liveUser.cid) : enc(seg))
    .replace('{int}', pick % 3 === 2 ? liveUser.basicId : enc(seg))
    .replace('{uuid}', pick % 2 ? enc(seg) : '00000000-0000-4000-8000-000000000000')
    .replace('{provider}', pick % 2 ? 'oura' : enc(seg));
}

function authHeaders(face: Face, key: string, mode: number): Record<string, string> {
  if (mode === 1) return {}; // no credentials at all
  const k = mode === 2 ? `${key}x` : key; // 2: a wrong key
  if (face === 'junction') return { 'x-vital-api-key': k };
  if (face === 'onvy') return mode === 3 ? { authorization: `Bearer ${k}` } : { 'x-api-key': k };
  return { authorization: `Bearer ${k}` };
}

/** The error body each contract promises, and no other face's (no `detail` outside Junction). */
function assertErrorShape(face: Face, status: number, parsed: unknown, text: string, headers: Headers) {
  assert.ok(parsed !== undefined, `${status} body is not JSON: ${text.slice(0, 200)}`);
  const b = parsed as Record<string, unknown>;
  if (face === 'junction') {
    assert.ok('detail' in b || 'success' in b, `junction error without detail: ${text.slice(0, 200)}`);
  } else if (face === 'onvy') {
    const e = b.error as { code?: unknown; message?: unknown } | undefined;
    assert.ok(Object.keys(b).length === 1 && typeof e?.code === 'string' && /^[A-Z][A-Za-z]+$/.test(e.code) && typeof e.message === 'string',
      `onvy error shape (${status}): ${text.slice(0, 200)}`);
  } else {
    assert.ok(typeof b.code === 'string' && /^[A-Z_]+$/.test(b.code) && typeof b.message === 'string' && !('detail' in b) && !('error' in b),
      `basic error shape (${status}): ${text.slice(0, 200)}`);
    assert.ok(typeof b.requestId === 'string' && /^req-/.test(b.requestId) && headers.get('x-request-id') === b.requestId, `basic requestId (${status}): ${text.slice(0, 200)}`);
  }
}

for (const backend of backends()) {
  describe(`fuzzing every route (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let key: string;
    let teamId: string;
    let live: { id: string; cid: string; basicId: string };
    const stats = { requests: 0, byStatus: {} as Record<string, number> };

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      const t = await srv.newTeam('fuzz');
      key = t.apiKey;
      teamId = t.teamId;
      const r = await fetch(`${srv.baseUrl}/basic/users`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ firstName: 'Fuzz', lastName: 'Target', contactEmail: 'fuzz@example.com' }) });
      const basic = await r.json() as { userId: number };
      const j = await (await fetch(`${srv.baseUrl}/v2/user?limit=1`, { headers: { 'x-vital-api-key': key } })).json() as { users: { user_id: string; client_user_id: string }[] };
      live = { id: j.users[0]!.user_id, cid: j.users[0]!.client_user_id, basicId: String(basic.userId) };
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test(`${RUNS} random requests: no 5xx, no hang, contract-shaped errors`, async () => {
      await fc.assert(fc.asyncProperty(
        fc.constantFrom(...ROUTES), segment, query, rawBody, fc.nat(9), fc.nat(9), fc.boolean(),
        async (route, seg, q, b, authMode, pick, withType) => {
          const path = fill(route.path, seg, live, pick);
          const qs = new URLSearchParams(q as Record<string, string>).toString();
          // Mostly a valid key (header or bearer), sometimes none or a wrong one.
          const mode = authMode < 8 ? (authMode % 2 ? 3 : 0) : authMode === 8 ? 1 : 2;
          const headers: Record<string, string> = { ...authHeaders(route.face, key, mode) };
          const hasBody = route.method !== 'GET' && route.method !== 'DELETE' && pick % 4 !== 0;
          if (hasBody && withType) headers['content-type'] = 'application/json';
          if (pick === 7) headers['idempotency-key'] = `fuzz-${seg.slice(0, 30)}`;
          let res: Response;
          try {
            res = await fetch(`${srv.baseUrl}${path}${qs ? `?${qs}` : ''}`, {
              method: route.method, headers, ...(hasBody ? { body: b.text } : {}), signal: AbortSignal.timeout(REQUEST_BOUND_MS),
            });
          } catch (e) {
            // A URL the client itself refuses to send is not a server finding; a timeout is.
            if ((e as Error).name === 'TimeoutError') throw new Error(`${route.method} ${path}: no answer within ${REQUEST_BOUND_MS} ms`);
            if (e instanceof TypeError) return;
            throw e;
          }
          const text = await res.text();
          stats.requests++;
          stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
          assert.ok(res.status < 500, `${route.method} ${path}?${qs} → ${res.status}: ${text.slice(0, 300)}`);
          if (res.status >= 400) {
            assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${route.method} ${path} error is not JSON`);
            let parsed: unknown;
            try { parsed = JSON.parse(text); } catch { parsed = undefined; }
            assertErrorShape(route.face, res.status, parsed, text, res.headers);
          }
        },
      ), { numRuns: RUNS, seed: Number(process.env.ROSTER_FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true });
    });

    test('state stays consistent: live users listed = live users stored', async (t) => {
      const j = await (await fetch(`${srv.baseUrl}/v2/user?limit=0`, { headers: { 'x-vital-api-key': key } })).json() as { total: number };
      const { n } = await tdb.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('team_id', '=', teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
      assert.equal(j.total, Number(n));
      const onvy = await fetch(`${srv.baseUrl}/onvy/users?limit=1000`, { headers: { 'x-api-key': key } });
      assert.equal(onvy.status, 200, 'onvy list answers after the fuzzing');
      t.diagnostic(`reliability: ${JSON.stringify({ fault: 'fuzz-every-route', title: 'fast-check: random and mutated bodies, paths, queries and headers on every route of every face', kind: 'hostile input', backend: backend.name, runs: stats.requests, expected: 'never a 5xx, never a hang, errors in the face\'s JSON shape, user count consistent', observed: stats.byStatus, ok: true })}`);
    });
  });
}
