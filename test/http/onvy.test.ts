// The Onvy face (spec/contracts/onvy-users.md) over raw HTTP: every operation, happy and error
// paths, auth and scopes, the error body and status table, evaluation order, team isolation, and
// bad input that must never be a 500.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { call, type RawRequest } from '../support/junction-http.ts';
import { facesSuite, ONVY_TIME_RE, type FacesServer, type Team } from './faces-support.ts';

const EXAMPLE = {
  id: 'user_123',
  language: 'en',
  tz_offset: 3600,
  firstname: 'Avery',
  lastname: 'Smith',
  measurement_unit: 'metric',
  gender: 'female',
  birthday: '1990-04-17',
  height: 172.5,
  weight: 64.2,
  thresholds: { ftp: 240, lthr: 168, mhr: 189 },
  location: { lat: 52.52, lon: 13.405 },
  coach_config: { enabled: true },
};

/** Contract §2.1 key order. */
const KEY_ORDER = ['id', 'created_at', 'updated_at', 'language', 'tz_offset', 'firstname', 'lastname', 'measurement_unit', 'gender', 'birthday', 'height', 'weight', 'thresholds', 'location', 'coach_config', 'data_syncs'];

function assertError(r: { status: number; body: any; headers: Headers }, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(typeof r.body?.error?.message, 'string');
  assert.equal(r.body.error.code, code, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body), ['error']);
}

const fields = (r: { body: any }) => (r.body.error.details as { field: string }[]).map((d) => d.field);

for (const backend of backends()) {
  describe(`Onvy face (${backend.name})`, () => {
    let srv: FacesServer;
    let A: Team;
    let B: Team;
    facesSuite(backend, {}, (s) => ({ srv, A, B } = s));
    const onvy = (method: string, path: string, r: RawRequest = {}, key: string | null = A.key) =>
      call(srv.baseUrl, method, `/onvy${path}`, key ? { apiKey: key, ...r } : r);

    describe('authentication and scopes', () => {
      test('no credential, an unknown key, a malformed Authorization: 401 Unauthorized', async () => {
        assertError(await onvy('GET', '/users', {}, null), 401, 'Unauthorized');
        assertError(await onvy('GET', '/users', {}, 'sk_rst_nope'), 401, 'Unauthorized');
        assertError(await onvy('GET', '/users', { bearer: 'sk_rst_nope' }, null), 401, 'Unauthorized');
        assertError(await onvy('GET', '/users', { headers: { authorization: `Basic ${A.key}` } }, null), 401, 'Unauthorized');
        // 401 comes before anything else: an unknown user or a broken body does not change it.
        assertError(await onvy('PATCH', '/users/nobody', { raw: '{', headers: { 'content-type': 'application/json' } }, null), 401, 'Unauthorized');
      });

      test('X-API-Key, Bearer, or both (both must be valid and of one project)', async () => {
        assert.equal((await onvy('GET', '/users', {}, A.key)).status, 200);
        assert.equal((await onvy('GET', '/users', { bearer: A.key }, null)).status, 200);
        assert.equal((await onvy('GET', '/users', { bearer: A.key }, A.key)).status, 200);
        assert.equal((await onvy('GET', '/users', { bearer: A.readOnlyKey }, A.key)).status, 200);
        assertError(await onvy('GET', '/users', { bearer: 'sk_rst_nope' }, A.key), 401, 'Unauthorized');
        assertError(await onvy('GET', '/users', { bearer: A.key }, 'sk_rst_nope'), 401, 'Unauthorized');
        assertError(await onvy('GET', '/users', { bearer: B.key }, A.key), 401, 'Unauthorized');
      });

      test('a read-only key reads but gets 403 Forbidden on every write, which changes nothing', async () => {
        assert.equal((await onvy('POST', '/users', { json: { id: 'ro-target', firstname: 'Ro' } })).status, 201);
        const ro = A.readOnlyKey;
        assert.equal((await onvy('GET', '/users', {}, ro)).status, 200);
        assert.equal((await onvy('GET', '/users/ro-target', {}, ro)).status, 200);
        assert.equal((await onvy('GET', '/users/ro-target/data_syncs', {}, ro)).status, 200);
        const writes: [string, string, unknown][] = [
          ['POST', '/users', { id: 'ro-new' }],
          ['PUT', '/users/ro-target', { firstname: 'X' }],
          ['PATCH', '/users/ro-target', { firstname: 'X' }],
          ['DELETE', '/users/ro-target', undefined],
          ['PUT', '/users/ro-target/data_syncs', { provider: 'GARMIN', data_type: 'auth', sync_type: 'historical', status: 'pending' }],
          ['DELETE', '/users/ro-target/data_syncs/GARMIN', undefined],
        ];
        for (const [m, p, json] of writes) {
          assertError(await onvy(m, p, json === undefined ? {} : { json }, ro), 403, 'Forbidden');
          // As a bearer token too, and before the body is looked at.
          assertError(await onvy(m, p, { bearer: ro, raw: '{', headers: { 'content-type': 'application/json' } }, null), 403, 'Forbidden');
        }
        // A full key together with a read-only key of the same project: the narrower one decides.
        assertError(await onvy('PATCH', '/users/ro-target', { bearer: ro, json: { firstname: 'X' } }, A.key), 403, 'Forbidden');
        const after = await onvy('GET', '/users/ro-target');
        assert.equal(after.body.firstname, 'Ro');
        assert.equal((await onvy('GET', '/users/ro-new')).status, 404);
      });
    });

    describe('POST /users', () => {
      test('creates with every field: 201 and the contract example back, in order, timestamps in whole seconds', async () => {
        const r = await onvy('POST', '/users', { json: EXAMPLE });
        assert.equal(r.status, 201, r.text);
        const { created_at, updated_at, data_syncs, ...rest } = r.body;
        assert.match(created_at, ONVY_TIME_RE);
        assert.equal(updated_at, created_at);
        assert.deepEqual(data_syncs, []);
        assert.deepEqual(rest, EXAMPLE);
        assert.deepEqual(Object.keys(r.body), KEY_ORDER);
        assert.deepEqual(await (await onvy('GET', '/users/user_123')).body, r.body);
      });

      test('minimal user: unset fields are omitted, never null; measurement_unit defaults to metric', async () => {
        const r = await onvy('POST', '/users', { json: { id: 'minimal', firstname: null, thresholds: null, created_at: 'ignored', updated_at: 5, data_syncs: [{ x: 1 }] } });
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(Object.keys(r.body), ['id', 'created_at', 'updated_at', 'measurement_unit', 'data_syncs']);
        assert.equal(r.body.measurement_unit, 'metric');
        assert.deepEqual(r.body.data_syncs, []);
        assert.match(r.body.created_at, ONVY_TIME_RE);
      });

      test('nested objects: only the members sent; empty objects leave the field unset', async () => {
        const r = await onvy('POST', '/users', { json: { id: 'nested', thresholds: { ftp: 250 }, location: { lat: -33.9 }, coach_config: {} } });
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(r.body.thresholds, { ftp: 250 });
        assert.deepEqual(r.body.location, { lat: -33.9 });
        assert.equal('coach_config' in r.body, false);
      });

      test('an id already in the project: 409 Conflict; the same id in another project is fine', async () => {
        assert.equal((await onvy('POST', '/users', { json: { id: 'dup' } })).status, 201);
        assertError(await onvy('POST', '/users', { json: { id: 'dup', firstname: 'Other' } }), 409, 'Conflict');
        assert.equal((await onvy('POST', '/users', { json: { id: 'dup' } }, B.key)).status, 201);
      });

      test('field rules: 422 ValidationError listing every broken field', async () => {
        const r = await onvy('POST', '/users', {
          json: {
            id: 'rules', first_name: 'typo', gender: 'x', measurement_unit: 'stones', tz_offset: 3600.5, height: 0, weight: 651,
            thresholds: { ftp: 2001, lthr: -1, mhr: 'x', vo2: 1 }, location: { lat: 91, lon: -181 }, coach_config: { enabled: 'yes' },
            language: 'e', birthday: '1990-02-30',
          },
        });
        assertError(r, 422, 'ValidationError');
        const got = new Map((r.body.error.details as { field: string; message: string }[]).map((d) => [d.field, d.message]));
        for (const f of ['first_name', 'gender', 'measurement_unit', 'tz_offset', 'height', 'weight', 'thresholds.ftp', 'thresholds.lthr', 'thresholds.mhr', 'thresholds.vo2', 'location.lat', 'location.lon', 'coach_config.enabled', 'language', 'birthday']) {
          assert.ok(got.has(f), `${f} in ${JSON.stringify(r.body.error.details)}`);
        }
        assert.equal(got.get('first_name'), 'is not a recognised field');
        assert.equal(got.get('gender'), 'must be one of: male, female, other');
        assert.equal(got.get('height'), 'must be greater than 0');
        assert.equal(got.get('weight'), 'must be less than or equal to 650');
        assert.equal(got.get('tz_offset'), 'must be an integer');
        assert.equal((await onvy('GET', '/users/rules')).status, 404);
      });

      test('more field rules: birthday not in the future nor in another form, ids, language, tz range, bounds inclusive', async () => {
        const bad: [Record<string, unknown>, string][] = [
          [{ id: 'b1', birthday: '2999-01-01' }, 'birthday'],
          [{ id: 'b2', birthday: '1990-04-17T00:00:00Z' }, 'birthday'],
          [{ id: 'b3', birthday: 19900417 }, 'birthday'],
          [{ id: 'b4', tz_offset: 50401 }, 'tz_offset'],
          [{ id: 'b5', tz_offset: -43201 }, 'tz_offset'],
          [{ id: 'b6', language: 'en_GB' }, 'language'],
          [{ id: 'b7', firstname: '' }, 'firstname'],
          [{ id: 'b8', firstname: 'x'.repeat(101) }, 'firstname'],
          [{ id: 'b9', lastname: '   ' }, 'lastname'],
          [{ id: 'a/b' }, 'id'],
          [{ id: ' lead' }, 'id'],
          [{ id: 'trail ' }, 'id'],
          [{ id: 'x'.repeat(129) }, 'id'],
          [{ id: '' }, 'id'],
          [{ id: 'ctl\u0001' }, 'id'],
          [{ id: 42 }, 'id'],
          [{}, 'id'],
        ];
        for (const [json, field] of bad) {
          const r = await onvy('POST', '/users', { json });
          assertError(r, 422, 'ValidationError');
          assert.ok(fields(r).includes(field), `${JSON.stringify(json)} → ${JSON.stringify(r.body)}`);
        }
        const ok = await onvy('POST', '/users', { json: { id: 'x'.repeat(128), tz_offset: 50400, height: 300, weight: 650, thresholds: { ftp: 2000, lthr: 250, mhr: 250 }, location: { lat: -90, lon: 180 }, language: 'en-GB', firstname: 'é'.repeat(100) } });
        assert.equal(ok.status, 201, ok.text);
        assert.equal((await onvy('POST', '/users', { json: { id: 'tz-low', tz_offset: -43200 } })).status, 201);
      });

      test('not JSON, not an object, no body: 400 BadRequest; another media type: 415', async () => {
        assertError(await onvy('POST', '/users', { raw: '{"id": "x",', headers: { 'content-type': 'application/json' } }), 400, 'BadRequest');
        assertError(await onvy('POST', '/users', { json: [{ id: 'x' }] }), 400, 'BadRequest');
        assertError(await onvy('POST', '/users', { json: 'user' }), 400, 'BadRequest');
        assertError(await onvy('POST', '/users', { raw: 'null', headers: { 'content-type': 'application/json' } }), 400, 'BadRequest');
        assertError(await onvy('POST', '/users', {}), 400, 'BadRequest');
        assertError(await onvy('POST', '/users', { raw: '{"id":"x"}', headers: { 'content-type': 'text/plain' } }), 415, 'UnsupportedMediaType');
        const charset = await onvy('POST', '/users', { raw: '{"id":"charset"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
        assert.equal(charset.status, 201);
      });
    });

    describe('GET /users/{user_id}', () => {
      test('the user; unknown id and another project\'s id: 404 NotFound; ids are matched exactly and percent-decoded', async () => {
        assert.equal((await onvy('POST', '/users', { json: { id: 'Mixed Case ü', firstname: 'Ü' } })).status, 201);
        const r = await onvy('GET', `/users/${encodeURIComponent('Mixed Case ü')}`);
        assert.equal(r.status, 200);
        assert.equal(r.body.id, 'Mixed Case ü');
        assertError(await onvy('GET', `/users/${encodeURIComponent('mixed case ü')}`), 404, 'NotFound');
        assertError(await onvy('GET', '/users/never-made'), 404, 'NotFound');
        assertError(await onvy('GET', `/users/${encodeURIComponent('Mixed Case ü')}`, {}, B.key), 404, 'NotFound');
      });
    });

    describe('GET /users', () => {
      test('pages with opaque tokens, oldest first, stable while users are added, total counts the project', async () => {
        const C = await srv.newTeam();
        const made: string[] = [];
        for (let i = 0; i < 5; i++) {
          const id = `p${i}`;
          assert.equal((await onvy('POST', '/users', { json: { id } }, C.key)).status, 201);
          made.push(id);
        }
        const first = await onvy('GET', '/users?limit=2', {}, C.key);
        assert.equal(first.status, 200);
        assert.deepEqual(Object.keys(first.body), ['users', 'pagination']);
        assert.deepEqual(first.body.users.map((u: { id: string }) => u.id), made.slice(0, 2));
        assert.deepEqual({ ...first.body.pagination, next_page: typeof first.body.pagination.next_page }, { limit: 2, total: 5, page: null, next_page: 'string' });
        // Users added between pages do not shift what comes next.
        assert.equal((await onvy('POST', '/users', { json: { id: 'p5' } }, C.key)).status, 201);
        const token = first.body.pagination.next_page as string;
        const second = await onvy('GET', `/users?limit=2&page=${token}`, {}, C.key);
        assert.deepEqual(second.body.users.map((u: { id: string }) => u.id), ['p2', 'p3']);
        assert.equal(second.body.pagination.page, token);
        assert.equal(second.body.pagination.total, 6);
        const third = await onvy('GET', `/users?limit=2&page=${second.body.pagination.next_page}`, {}, C.key);
        assert.deepEqual(third.body.users.map((u: { id: string }) => u.id), ['p4', 'p5']);
        assert.equal(third.body.pagination.next_page, null);
        // Defaults: limit 100, first page.
        const all = await onvy('GET', '/users?unknown=1', {}, C.key);
        assert.equal(all.body.pagination.limit, 100);
        assert.equal(all.body.users.length, 6);
        assert.ok(all.body.users.every((u: Record<string, unknown>) => Array.isArray(u.data_syncs) && u.measurement_unit === 'metric'));
        // The other project sees none of them.
        const b = await onvy('GET', '/users', {}, B.key);
        assert.ok(!b.body.users.some((u: { id: string }) => made.includes(u.id) && u.id !== 'dup'));
      });

      test('bad limit or page token: 400 BadRequest with details', async () => {
        for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'limit=1e30', 'limit=1&limit=2']) {
          const r = await onvy('GET', `/users?${q}`);
          assertError(r, 400, 'BadRequest');
          assert.deepEqual(fields(r), ['limit'], q);
        }
        for (const page of ['garbage!', 'eyJ4IjoxfQ', Buffer.from('{"t":"2026-13-45T99:00:00.000000Z","i":"x"}').toString('base64url'), 'A'.repeat(5000), '']) {
          const r = await onvy('GET', `/users?page=${page}`);
          assertError(r, 400, 'BadRequest');
          assert.deepEqual(fields(r), ['page']);
        }
        assert.equal((await onvy('GET', '/users?limit=1000')).status, 200);
        assert.equal((await onvy('GET', '/users?limit=1')).status, 200);
      });
    });

    describe('PUT /users/{user_id}', () => {
      test('replaces the whole profile: absent fields unset, measurement_unit back to metric; id and created_at kept; updated_at bumped', async () => {
        const made = await onvy('POST', '/users', { json: { ...EXAMPLE, id: 'put-me', measurement_unit: 'imperial' } });
        await new Promise((r) => setTimeout(r, 1100));
        const r = await onvy('PUT', '/users/put-me', { json: { id: 'put-me', lastname: 'Only', coach_config: { enabled: false }, updated_at: 'ignored' } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(Object.keys(r.body), ['id', 'created_at', 'updated_at', 'lastname', 'measurement_unit', 'coach_config', 'data_syncs']);
        assert.equal(r.body.measurement_unit, 'metric');
        assert.deepEqual(r.body.coach_config, { enabled: false });
        assert.equal(r.body.created_at, made.body.created_at);
        assert.ok(r.body.updated_at > made.body.updated_at);
        assert.deepEqual((await onvy('GET', '/users/put-me')).body, r.body);
      });

      test('order: unknown user 404 before a broken body; 422 for fields and for a different id; 400 for a non-object', async () => {
        assertError(await onvy('PUT', '/users/nobody', { json: { height: -5 } }), 404, 'NotFound');
        assertError(await onvy('PUT', '/users/nobody', { json: { id: 'other' } }), 404, 'NotFound');
        assertError(await onvy('PUT', '/users/nobody', { json: { firstname: 'Fine' } }), 404, 'NotFound');
        assert.equal((await onvy('POST', '/users', { json: { id: 'put-order', firstname: 'Keep' } })).status, 201);
        const bad = await onvy('PUT', '/users/put-order', { json: { height: -5, nope: 1 } });
        assertError(bad, 422, 'ValidationError');
        assert.deepEqual(fields(bad).sort(), ['height', 'nope']);
        assert.deepEqual(fields(await onvy('PUT', '/users/put-order', { json: { id: 'renamed' } })), ['id']);
        assertError(await onvy('PUT', '/users/put-order', { json: [1] }), 400, 'BadRequest');
        assertError(await onvy('PUT', '/users/put-order', { raw: '{', headers: { 'content-type': 'application/json' } }), 400, 'BadRequest');
        assertError(await onvy('PUT', '/users/put-order', {}), 400, 'BadRequest');
        assert.equal((await onvy('GET', '/users/put-order')).body.firstname, 'Keep');
        assertError(await onvy('PUT', '/users/put-order', { json: { firstname: 'B' } }, B.key), 404, 'NotFound');
      });
    });

    describe('PATCH /users/{user_id}', () => {
      test('merge patch: absent kept, null cleared, nested objects merged member by member', async () => {
        assert.equal((await onvy('POST', '/users', { json: { ...EXAMPLE, id: 'patch-me', measurement_unit: 'imperial' } })).status, 201);
        const r = await onvy('PATCH', '/users/patch-me', { json: { thresholds: { ftp: 250, mhr: null }, firstname: null, measurement_unit: null, location: null, id: 'patch-me' } });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.thresholds, { ftp: 250, lthr: 168 });
        assert.equal('firstname' in r.body, false);
        assert.equal('location' in r.body, false);
        assert.equal(r.body.measurement_unit, 'metric');
        assert.equal(r.body.lastname, 'Smith');
        assert.equal(r.body.birthday, '1990-04-17');
        const cleared = await onvy('PATCH', '/users/patch-me', { json: { thresholds: null, coach_config: { enabled: null } } });
        assert.equal('thresholds' in cleared.body, false);
        assert.equal('coach_config' in cleared.body, false);
      });

      test('an empty patch changes nothing and keeps updated_at; application/merge-patch+json is accepted', async () => {
        const made = await onvy('POST', '/users', { json: { id: 'empty-patch', firstname: 'Same' } });
        await new Promise((r) => setTimeout(r, 1100));
        const r = await onvy('PATCH', '/users/empty-patch', { json: {} });
        assert.equal(r.status, 200);
        assert.equal(r.body.updated_at, made.body.updated_at);
        const same = await onvy('PATCH', '/users/empty-patch', { json: { firstname: 'Same' } });
        assert.equal(same.body.updated_at, made.body.updated_at);
        const mp = await onvy('PATCH', '/users/empty-patch', { raw: JSON.stringify({ lastname: 'Merged' }), headers: { 'content-type': 'application/merge-patch+json' } });
        assert.equal(mp.status, 200, mp.text);
        assert.equal(mp.body.lastname, 'Merged');
        assert.ok(mp.body.updated_at > made.body.updated_at);
      });

      test('errors: 404 before 422, id changes and null id refused, bad JSON 400, other project 404', async () => {
        assertError(await onvy('PATCH', '/users/nobody', { json: { gender: 'robot' } }), 404, 'NotFound');
        assert.equal((await onvy('POST', '/users', { json: { id: 'patch-err' } })).status, 201);
        assert.deepEqual(fields(await onvy('PATCH', '/users/patch-err', { json: { gender: 'robot' } })), ['gender']);
        assert.deepEqual(fields(await onvy('PATCH', '/users/patch-err', { json: { id: 'new-id' } })), ['id']);
        assert.deepEqual(fields(await onvy('PATCH', '/users/patch-err', { json: { id: null } })), ['id']);
        assertError(await onvy('PATCH', '/users/patch-err', { raw: '{"a":', headers: { 'content-type': 'application/json' } }), 400, 'BadRequest');
        assertError(await onvy('PATCH', '/users/patch-err', { json: { firstname: 'B' } }, B.key), 404, 'NotFound');
        assert.equal((await onvy('GET', '/users/patch-err')).status, 200);
      });
    });

    describe('DELETE /users/{user_id}', () => {
      test('204 with no body; then 404 everywhere; the id can be created again', async () => {
        assert.equal((await onvy('POST', '/users', { json: { id: 'del-me', firstname: 'Old' } })).status, 201);
        assertError(await onvy('DELETE', '/users/del-me', {}, B.key), 404, 'NotFound');
        const r = await onvy('DELETE', '/users/del-me');
        assert.equal(r.status, 204);
        assert.equal(r.text, '');
        assertError(await onvy('GET', '/users/del-me'), 404, 'NotFound');
        assertError(await onvy('DELETE', '/users/del-me'), 404, 'NotFound');
        assertError(await onvy('PATCH', '/users/del-me', { json: {} }), 404, 'NotFound');
        const again = await onvy('POST', '/users', { json: { id: 'del-me' } });
        assert.equal(again.status, 201);
        assert.equal('firstname' in again.body, false);
      });
    });

    describe('data syncs', () => {
      const garmin = { provider: 'GARMIN', data_type: 'auth', sync_type: 'historical', status: 'pending' };

      test('record, read (alone and on the user), update, disconnect', async () => {
        const made = await onvy('POST', '/users', { json: { id: 'syncer' } });
        assert.deepEqual((await onvy('GET', '/users/syncer/data_syncs')).body, { data_syncs: [] });
        await new Promise((r) => setTimeout(r, 1100));
        const put = await onvy('PUT', '/users/syncer/data_syncs', { json: garmin });
        assert.equal(put.status, 200, put.text);
        assert.deepEqual(Object.keys(put.body), ['data_type', 'sync_type', 'provider', 'status', 'updated_at']);
        assert.match(put.body.updated_at, ONVY_TIME_RE);
        const user = await onvy('GET', '/users/syncer');
        assert.deepEqual(user.body.data_syncs, [put.body]);
        assert.ok(user.body.updated_at > made.body.updated_at, 'the user\'s updated_at is bumped');
        // Same (provider, data_type, sync_type): updated in place. Another entry: added, sorted.
        assert.equal((await onvy('PUT', '/users/syncer/data_syncs', { json: { ...garmin, status: 'completed' } })).status, 200);
        assert.equal((await onvy('PUT', '/users/syncer/data_syncs', { json: { provider: 'GARMIN', data_type: 'daily', sync_type: 'live', status: 'in_progress' } })).status, 200);
        assert.equal((await onvy('PUT', '/users/syncer/data_syncs', { json: { provider: 'APPLE', data_type: 'auth', sync_type: 'historical', status: 'failed' } })).status, 200);
        const list = (await onvy('GET', '/users/syncer/data_syncs')).body.data_syncs as Record<string, string>[];
        assert.deepEqual(list.map((s) => `${s.provider}/${s.data_type}/${s.sync_type}/${s.status}`), [
          'APPLE/auth/historical/failed', 'GARMIN/auth/historical/completed', 'GARMIN/daily/live/in_progress',
        ]);
        const del = await onvy('DELETE', '/users/syncer/data_syncs/GARMIN');
        assert.equal(del.status, 204);
        assert.equal(del.text, '');
        assert.deepEqual((await onvy('GET', '/users/syncer/data_syncs')).body.data_syncs.map((s: { provider: string }) => s.provider), ['APPLE']);
        assertError(await onvy('DELETE', '/users/syncer/data_syncs/GARMIN'), 404, 'NotFound');
        assertError(await onvy('DELETE', '/users/syncer/data_syncs/NOT_A_PROVIDER'), 404, 'NotFound');
        assertError(await onvy('DELETE', '/users/syncer/data_syncs/garmin'), 404, 'NotFound');
      });

      test('errors: unknown user 404 (before 422), bad entries 422, other project 404, not an object 400', async () => {
        assertError(await onvy('GET', '/users/nobody/data_syncs'), 404, 'NotFound');
        assertError(await onvy('PUT', '/users/nobody/data_syncs', { json: { provider: 'NOPE' } }), 404, 'NotFound');
        assertError(await onvy('DELETE', '/users/nobody/data_syncs/GARMIN'), 404, 'NotFound');
        assert.equal((await onvy('POST', '/users', { json: { id: 'sync-err' } })).status, 201);
        const bad = await onvy('PUT', '/users/sync-err/data_syncs', { json: { provider: 'garmin', data_type: 'steps', sync_type: 'x', status: 'done', extra: 1 } });
        assertError(bad, 422, 'ValidationError');
        assert.deepEqual(fields(bad).sort(), ['data_type', 'extra', 'provider', 'status', 'sync_type']);
        assert.deepEqual(fields(await onvy('PUT', '/users/sync-err/data_syncs', { json: {} })).sort(), ['data_type', 'provider', 'status', 'sync_type']);
        assertError(await onvy('PUT', '/users/sync-err/data_syncs', { json: [garmin] }), 400, 'BadRequest');
        assertError(await onvy('PUT', '/users/sync-err/data_syncs', { json: garmin }, B.key), 404, 'NotFound');
        assertError(await onvy('GET', '/users/sync-err/data_syncs', {}, B.key), 404, 'NotFound');
        assert.deepEqual((await onvy('GET', '/users/sync-err/data_syncs')).body.data_syncs, []);
      });
    });

    describe('routes', () => {
      test('a known path with another method: 405 with Allow; an unknown path: 404 NotFound', async () => {
        const r = await onvy('POST', '/users/someone');
        assertError(r, 405, 'MethodNotAllowed');
        assert.equal(r.headers.get('allow'), 'GET, HEAD, PUT, PATCH, DELETE');
        assert.equal((await onvy('DELETE', '/users')).headers.get('allow'), 'GET, HEAD, POST');
        assert.equal((await onvy('POST', '/users/x/data_syncs')).headers.get('allow'), 'GET, HEAD, PUT');
        assert.equal((await onvy('GET', '/users/x/data_syncs/GARMIN')).headers.get('allow'), 'DELETE');
        assertError(await onvy('GET', '/nothing-here'), 404, 'NotFound');
        assertError(await onvy('GET', '/users/a/b/c/d'), 404, 'NotFound');
      });
    });

    describe('bad input is never a 500', () => {
      test('a NUL in a path does not stop the audit trail (the entry is kept, without the user id)', async () => {
        assert.equal((await onvy('DELETE', '/users/audit%00probe')).status, 404);
        assert.equal((await onvy('POST', '/users', { json: { id: 'audit-after-nul' } })).status, 201);
        const audit = srv.built.services.audit;
        let actions: string[] = [];
        for (let i = 0; i < 50 && !actions.includes('onvy.createUser'); i++) {
          await new Promise((r) => setTimeout(r, 20));
          actions = (await audit.list({ teamId: A.teamId, limit: 5 })).map((e) => e.action);
        }
        assert.ok(actions.includes('onvy.createUser') && actions.includes('onvy.deleteUser'), JSON.stringify(actions));
      });

      test('NUL, unpaired surrogates, huge numbers, wrong types, deep and large bodies, odd paths', async () => {
        const bodies: unknown[] = [
          { id: 'nul\u0000' }, { id: 'ok-nul', firstname: 'a\u0000b' }, { id: 'ok-sur', lastname: '\ud800x' }, { id: '\udfff' },
          { id: 'num', height: 1e308 }, { id: 'num2', tz_offset: 9007199254740993 }, { id: 'num3', weight: -0.0000001 },
          { id: 'types', firstname: 5, thresholds: [1, 2], location: 'here', coach_config: true, gender: ['male'] },
          { id: { nested: true } }, { id: 'deep', thresholds: { ftp: { a: { b: { c: 1 } } } } },
        ];
        for (const json of bodies) {
          const r = await onvy('POST', '/users', { json });
          assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(json)} → ${r.status} ${r.text}`);
          assert.equal(r.body.error.code, 'ValidationError');
        }
        const raws = ['{"id":"big","height":1e400}', '{"id":"x","firstname":"\\ud800"}', '{"id":"\\u0000"}', '[' .repeat(5000), '{"id":"x"}garbage'];
        for (const raw of raws) {
          const r = await onvy('POST', '/users', { raw, headers: { 'content-type': 'application/json' } });
          assert.ok(r.status >= 400 && r.status < 500, `${raw.slice(0, 40)} → ${r.status} ${r.text}`);
          assert.ok(r.body?.error?.code, r.text);
        }
        const huge = await onvy('POST', '/users', { json: { id: 'huge', firstname: 'x'.repeat(2_000_000) } });
        assertError(huge, 413, 'PayloadTooLarge');
        for (const path of ['/users/a%00b', '/users/%F0%9F%98%80', `/users/${'x'.repeat(3000)}`, '/users/%2F', '/users/a%00b/data_syncs', '/users/x/data_syncs/%00']) {
          for (const m of ['GET', 'DELETE']) {
            const r = await onvy(m, path);
            assert.ok(r.status === 404 || r.status === 405, `${m} ${path} → ${r.status} ${r.text}`);
            assert.ok(['NotFound', 'MethodNotAllowed'].includes(r.body.error.code));
          }
          const p = await onvy('PATCH', path.replace(/\/data_syncs.*$/, ''), { json: { firstname: 'x' } });
          assert.equal(p.status, 404, `${path} → ${p.text}`);
        }
        // Not UTF-8: decoded leniently, so the route answers (no such user); over the router's limit: 414.
        assertError(await onvy('GET', '/users/%E0%A4%A'), 404, 'NotFound');
        assertError(await onvy('GET', `/users/${'9'.repeat(5000)}`), 414, 'UriTooLong');
        assert.equal((await onvy('GET', '/users?limit=99999999999999999999999')).status, 400);
        assert.equal((await onvy('GET', '/users?page=%00')).status, 400);
      });
    });
  });

  describe(`Onvy face: sandbox cap (${backend.name})`, () => {
    let srv: FacesServer;
    facesSuite(backend, { sandboxUserCap: 2 }, (s) => ({ srv } = s));

    test('creates beyond the sandbox cap: 403 Forbidden; production teams have no cap', async () => {
      const s = await srv.newTeam('sandbox');
      for (const id of ['c1', 'c2']) assert.equal((await call(srv.baseUrl, 'POST', '/onvy/users', { apiKey: s.key, json: { id } })).status, 201);
      assertError(await call(srv.baseUrl, 'POST', '/onvy/users', { apiKey: s.key, json: { id: 'c3' } }), 403, 'Forbidden');
      const p = await srv.newTeam('production');
      for (const id of ['c1', 'c2', 'c3']) assert.equal((await call(srv.baseUrl, 'POST', '/onvy/users', { apiKey: p.key, json: { id } })).status, 201);
    });
  });
}
