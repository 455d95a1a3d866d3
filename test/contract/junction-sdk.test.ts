// The official Junction SDK (@tryvital/vital-node 3.1.551) through every user operation of the
// foundation (contract U1, U2, U3, U9, U11, U12, U13, U14). Every success must parse in the SDK
// (it throws ParseError otherwise) and every error must surface as the class contract §2 names.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Vital, VitalClient, VitalError } from '@tryvital/vital-node';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, ISO_OFFSET_RE, UUID_RE } from '../support/junction-http.ts';
import { pydanticEntries, sdkError } from '../support/records.ts';

/** Errors must show at once: no retries with backoff. */
const NO_RETRY = { maxRetries: 0 } as const;
const UNKNOWN_ID = '0190a0a0-0000-7000-8000-000000000000';

const entries = (e: VitalError) => pydanticEntries((e.body as { detail: unknown }).detail, JSON.stringify(e.body));

describe('SDK error classes of @tryvital/vital-node 3.1.551', () => {
  test('BadRequestError, UnprocessableEntityError and NotFoundError exist and extend VitalError', () => {
    for (const cls of [Vital.BadRequestError, Vital.UnprocessableEntityError, Vital.NotFoundError]) {
      assert.equal(typeof cls, 'function');
      assert.ok(cls.prototype instanceof VitalError, cls.name);
    }
  });
});

for (const backend of backends()) {
  describe(`Junction SDK, user operations (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let team: { teamId: string; apiKey: string };
    let client: VitalClient;
    /** Raw GET of a user, to see the exact wire strings the SDK turns into Dates. */
    const rawUser = (id: string) => call(srv.baseUrl, 'GET', `/v2/user/${id}`, { key: team.apiKey });

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      team = await srv.newTeam('sdk-team');
      client = new VitalClient({ apiKey: team.apiKey, baseUrl: srv.baseUrl, maxRetries: 0 });
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    // ---------- U2 create ----------

    describe('create (U2)', () => {
      test('minimal body: 200 with user_id and client_user_id, and the full user alongside', async () => {
        const { data, rawResponse } = await client.user.create({ clientUserId: 'create-min' }).withRawResponse();
        assert.equal(rawResponse.status, 200);
        assert.match(data.userId, UUID_RE);
        assert.equal(data.clientUserId, 'create-min');
        // Extra keys pass through the SDK under their wire names: the full ClientFacingUser is sent.
        const extra = data as unknown as Record<string, unknown>;
        assert.equal(extra.team_id, team.teamId);
        assert.match(String(extra.created_on), ISO_OFFSET_RE);
        assert.deepEqual(extra.connected_sources, []);
        assert.equal(extra.fallback_time_zone, null);
        assert.equal(extra.fallback_birth_date, null);
        assert.equal(extra.ingestion_start, null);
        assert.equal(extra.ingestion_end, null);
      });

      test('full body: fallbacks are stored as manual values, bounds as dates', async () => {
        const before = Date.now();
        const c = await client.user.create({
          clientUserId: 'create-full',
          fallbackTimeZone: 'Europe/London',
          fallbackBirthDate: '1990-05-06',
          ingestionStart: '2024-01-01',
          ingestionEnd: '2024-12-31',
        });
        const u = await client.user.get(c.userId);
        assert.equal(u.userId, c.userId);
        assert.equal(u.teamId, team.teamId);
        assert.equal(u.clientUserId, 'create-full');
        assert.ok(u.createdOn instanceof Date);
        assert.ok(Math.abs(u.createdOn.getTime() - before) < 60_000);
        assert.deepEqual(u.connectedSources, []);
        assert.equal(u.fallbackTimeZone?.id, 'Europe/London');
        assert.equal(u.fallbackTimeZone?.sourceSlug, 'manual');
        assert.ok(u.fallbackTimeZone?.updatedAt instanceof Date);
        assert.equal(u.fallbackBirthDate?.value, '1990-05-06');
        assert.equal(u.fallbackBirthDate?.sourceSlug, 'manual');
        assert.ok(u.fallbackBirthDate?.updatedAt instanceof Date);
        assert.equal(u.ingestionStart, '2024-01-01');
        assert.equal(u.ingestionEnd, '2024-12-31');
      });

      test('equal bounds are accepted; a midnight datetime is stored as its date', async () => {
        const c = await client.user.create({ clientUserId: 'create-bounds-eq', ingestionStart: '2024-03-03T00:00:00+00:00', ingestionEnd: '2024-03-03' });
        const u = await client.user.get(c.userId);
        assert.equal(u.ingestionStart, '2024-03-03');
        assert.equal(u.ingestionEnd, '2024-03-03');
      });

      test('a duplicate live client_user_id → BadRequestError naming the existing user', async () => {
        const first = await client.user.create({ clientUserId: 'create-dup' });
        const e = await sdkError(client.user.create({ clientUserId: 'create-dup' }, NO_RETRY), Vital.BadRequestError, 400);
        const d = (e.body as { detail: Record<string, unknown> }).detail;
        assert.equal(d.error_type, 'INVALID_REQUEST');
        assert.equal(d.error_message, 'Client user id already exists.');
        assert.equal(d.user_id, first.userId);
        const raw = await rawUser(first.userId);
        assert.equal(d.created_on, raw.body.created_on, 'created_on of the existing user, as rendered elsewhere');
        // Still exactly one user with that id.
        assert.equal((await client.user.getByClientUserId('create-dup')).userId, first.userId);
      });

      test('bad time zone → UnprocessableEntityError with a value_error entry', async () => {
        const e = await sdkError(client.user.create({ clientUserId: 'create-bad-tz', fallbackTimeZone: 'Mars/Olympus' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x, ...rest] = entries(e);
        assert.equal(rest.length, 0);
        assert.equal(x!.type, 'value_error');
        assert.deepEqual(x!.loc, ['body', 'fallback_time_zone']);
        assert.equal(x!.msg, 'Value error, Invalid IANA time zone: Mars/Olympus');
        assert.equal(x!.input, 'Mars/Olympus');
        await sdkError(client.user.getByClientUserId('create-bad-tz', NO_RETRY), VitalError, 404);
      });

      test('bad dates → one date_from_datetime_parsing entry per field, all reported together', async () => {
        const e = await sdkError(client.user.create({ clientUserId: 'create-bad-dates', fallbackBirthDate: '1990-02-30', ingestionStart: '2024/01/01', ingestionEnd: '24-01-01' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const list = entries(e);
        assert.deepEqual(list.map((x) => [x.type, x.loc]), [
          ['date_from_datetime_parsing', ['body', 'fallback_birth_date']],
          ['date_from_datetime_parsing', ['body', 'ingestion_start']],
          ['date_from_datetime_parsing', ['body', 'ingestion_end']],
        ]);
        assert.equal(list[0]!.msg, 'Input should be a valid date or datetime, day value is outside expected range');
        assert.deepEqual(list[0]!.ctx, { error: 'day value is outside expected range' });
        assert.equal(list[1]!.msg, 'Input should be a valid date or datetime, invalid date separator, expected `-`');
        assert.equal(list[2]!.msg, 'Input should be a valid date or datetime, input is too short');
        assert.equal(list[2]!.input, '24-01-01');
      });

      test('ingestion_end before ingestion_start → 422 value_error on ["body"]', async () => {
        const e = await sdkError(client.user.create({ clientUserId: 'create-bad-order', ingestionStart: '2024-06-02', ingestionEnd: '2024-06-01' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x, ...rest] = entries(e);
        assert.equal(rest.length, 0);
        assert.equal(x!.type, 'value_error');
        assert.deepEqual(x!.loc, ['body']);
        assert.match(x!.msg, /^Value error, /);
        await sdkError(client.user.getByClientUserId('create-bad-order', NO_RETRY), VitalError, 404);
      });
    });

    // ---------- U1 list ----------

    describe('getAll (U1)', () => {
      let sub: VitalClient;
      const ids: string[] = [];
      before(async () => {
        const t = await srv.newTeam('sdk-list');
        sub = new VitalClient({ apiKey: t.apiKey, baseUrl: srv.baseUrl, maxRetries: 0 });
        for (let i = 0; i < 7; i++) ids.push((await sub.user.create({ clientUserId: `list-${i}` })).userId);
      });

      test('defaults: offset 0, limit 100, total = live users, newest first', async () => {
        const page = await sub.user.getAll();
        assert.equal(page.offset, 0);
        assert.equal(page.limit, 100);
        assert.equal(page.total, 7);
        assert.equal(page.users.length, 7);
        assert.deepEqual(new Set(page.users.map((u) => u.userId)), new Set(ids));
        // Order: created_on descending, ties by user_id descending.
        const sorted = [...page.users].sort((a, b) => b.createdOn.getTime() - a.createdOn.getTime() || (a.userId < b.userId ? 1 : a.userId > b.userId ? -1 : 0));
        assert.deepEqual(page.users.map((u) => u.userId), sorted.map((u) => u.userId));
        // Created one after another, so the last one created is newest (or tied for newest).
        const last = page.users.find((u) => u.userId === ids[6])!;
        assert.equal(page.users[0]!.createdOn.getTime(), last.createdOn.getTime());
        const first = page.users.find((u) => u.userId === ids[0])!;
        assert.equal(page.users[6]!.createdOn.getTime(), first.createdOn.getTime());
        for (const u of page.users) assert.equal(u.teamId, page.users[0]!.teamId);
      });

      test('offset and limit page through without overlap; total stays the team total', async () => {
        const all = (await sub.user.getAll()).users.map((u) => u.userId);
        const seen: string[] = [];
        for (let offset = 0; offset < 7; offset += 3) {
          const p = await sub.user.getAll({ offset, limit: 3 });
          assert.equal(p.offset, offset);
          assert.equal(p.limit, 3);
          assert.equal(p.total, 7);
          seen.push(...p.users.map((u) => u.userId));
        }
        assert.deepEqual(seen, all);
        const past = await sub.user.getAll({ offset: 50, limit: 10 });
        assert.deepEqual(past.users, []);
        assert.equal(past.total, 7, 'total is the team total even past the end');
        const empty = await sub.user.getAll({ limit: 0 });
        assert.deepEqual(empty.users, []);
        assert.equal(empty.limit, 0);
        assert.equal(empty.total, 7);
      });

      test('soft-deleted users leave the list and the total; undo brings them back', async () => {
        await sub.user.delete(ids[3]!);
        const p = await sub.user.getAll();
        assert.equal(p.total, 6);
        assert.ok(!p.users.some((u) => u.userId === ids[3]));
        await sub.user.undoDelete({ userId: ids[3]! });
        const q = await sub.user.getAll();
        assert.equal(q.total, 7);
        assert.ok(q.users.some((u) => u.userId === ids[3]));
      });

      test('limit above 500 → UnprocessableEntityError less_than_equal', async () => {
        const e = await sdkError(sub.user.getAll({ limit: 501 }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x] = entries(e);
        assert.equal(x!.type, 'less_than_equal');
        assert.deepEqual(x!.loc, ['query', 'limit']);
        assert.deepEqual(x!.ctx, { le: 500 });
        assert.equal(x!.input, '501');
      });

      test('negative offset → UnprocessableEntityError greater_than_equal', async () => {
        const e = await sdkError(sub.user.getAll({ offset: -1 }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x] = entries(e);
        assert.equal(x!.type, 'greater_than_equal');
        assert.deepEqual(x!.loc, ['query', 'offset']);
        assert.deepEqual(x!.ctx, { ge: 0 });
      });
    });

    // ---------- U11 get ----------

    describe('get (U11)', () => {
      test('unknown user → VitalError 404 "Not found" (not NotFoundError: SDK maps only 422 here)', async () => {
        const e = await sdkError(client.user.get(UNKNOWN_ID, NO_RETRY), VitalError, 404);
        assert.ok(!(e instanceof Vital.NotFoundError));
        assert.deepEqual(e.body, { detail: 'Not found' });
      });

      test('pending deletion → 404 "You have scheduled this user for deletion."', async () => {
        const c = await client.user.create({ clientUserId: 'get-pending' });
        await client.user.delete(c.userId);
        const e = await sdkError(client.user.get(c.userId, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'You have scheduled this user for deletion.' });
      });

      test('malformed id → UnprocessableEntityError with the Go-style string detail', async () => {
        const e = await sdkError(client.user.get('abc', NO_RETRY), Vital.UnprocessableEntityError, 422);
        assert.deepEqual(e.body, { detail: "Invalid format for parameter user_id: error unmarshaling 'abc' text as *uuid.UUID: invalid UUID length: 3" });
      });

      test('upper-case and 32-hex spellings of an id find the same user', async () => {
        const c = await client.user.create({ clientUserId: 'get-spellings' });
        assert.equal((await client.user.get(c.userId.toUpperCase())).userId, c.userId);
        assert.equal((await client.user.get(c.userId.replace(/-/g, ''))).userId, c.userId);
      });
    });

    // ---------- U9 resolve ----------

    describe('getByClientUserId (U9)', () => {
      const awkward = [
        'with/slash',
        'a/b/c',
        '/leading-slash',
        'trailing-slash/',
        'with space',
        'question?mark=1&x',
        'hash#frag',
        'percent%2Fliteral',
        'plus+sign',
        'ünïcödé-日本語',
        'emoji-😀-👩‍👩‍👧',
        // Not '.' or '..': the SDK builds the URL with the WHATWG parser, which resolves those
        // segments away on the client (/v2/user/resolve/.. becomes /v2/user/) before any request.
        'metrics',
        'user@example.com',
      ];
      for (const cid of awkward) {
        test(`resolves ${JSON.stringify(cid)}`, async () => {
          const c = await client.user.create({ clientUserId: cid });
          assert.equal(c.clientUserId, cid);
          const r = await client.user.getByClientUserId(cid);
          assert.equal(r.userId, c.userId);
          assert.equal(r.clientUserId, cid);
          assert.equal((await client.user.get(c.userId)).clientUserId, cid);
        });
      }

      test('unknown → VitalError 404 "User not found"', async () => {
        const e = await sdkError(client.user.getByClientUserId('nobody-has-this', NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
      });

      test('soft-deleted → 404 "User not found"', async () => {
        const c = await client.user.create({ clientUserId: 'resolve-deleted' });
        await client.user.delete(c.userId);
        const e = await sdkError(client.user.getByClientUserId('resolve-deleted', NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
      });
    });

    // ---------- U13 patch ----------

    describe('patch (U13)', () => {
      test('each field can be set, and the others are left alone', async () => {
        const c = await client.user.create({ clientUserId: 'patch-each', fallbackTimeZone: 'Europe/London', ingestionStart: '2024-01-01' });
        const before = await client.user.get(c.userId);

        await client.user.patch(c.userId, { fallbackTimeZone: 'America/New_York' });
        let u = await client.user.get(c.userId);
        assert.equal(u.fallbackTimeZone?.id, 'America/New_York');
        assert.equal(u.fallbackTimeZone?.sourceSlug, 'manual');
        assert.ok(u.fallbackTimeZone!.updatedAt.getTime() >= before.fallbackTimeZone!.updatedAt.getTime());
        assert.equal(u.ingestionStart, '2024-01-01');

        await client.user.patch(c.userId, { fallbackBirthDate: '1985-12-24' });
        u = await client.user.get(c.userId);
        assert.equal(u.fallbackBirthDate?.value, '1985-12-24');
        assert.equal(u.fallbackBirthDate?.sourceSlug, 'manual');
        assert.equal(u.fallbackTimeZone?.id, 'America/New_York');

        await client.user.patch(c.userId, { ingestionStart: '2023-01-01' });
        await client.user.patch(c.userId, { ingestionEnd: '2025-01-01' });
        u = await client.user.get(c.userId);
        assert.equal(u.ingestionStart, '2023-01-01');
        assert.equal(u.ingestionEnd, '2025-01-01');

        await client.user.patch(c.userId, { clientUserId: 'patch-each-renamed' });
        u = await client.user.get(c.userId);
        assert.equal(u.clientUserId, 'patch-each-renamed');
        assert.equal((await client.user.getByClientUserId('patch-each-renamed')).userId, c.userId);
        await sdkError(client.user.getByClientUserId('patch-each', NO_RETRY), VitalError, 404);

        assert.equal(u.userId, before.userId);
        assert.equal(u.createdOn.getTime(), before.createdOn.getTime());
        assert.equal(u.teamId, before.teamId);
      });

      test('setting the client_user_id a user already has is a no-op, not a conflict', async () => {
        const c = await client.user.create({ clientUserId: 'patch-same' });
        await client.user.patch(c.userId, { clientUserId: 'patch-same' });
        assert.equal((await client.user.get(c.userId)).clientUserId, 'patch-same');
      });

      test('null clears (the SDK sends null for a key whose value is undefined)', async () => {
        const c = await client.user.create({ clientUserId: 'patch-null', fallbackTimeZone: 'Asia/Tokyo', fallbackBirthDate: '2000-01-01', ingestionStart: '2024-01-01', ingestionEnd: '2024-02-01' });
        await client.user.patch(c.userId, { fallbackTimeZone: undefined, ingestionEnd: undefined });
        let u = await client.user.get(c.userId);
        assert.equal(u.fallbackTimeZone, undefined);
        assert.equal(u.ingestionEnd, undefined);
        assert.equal(u.fallbackBirthDate?.value, '2000-01-01');
        assert.equal(u.ingestionStart, '2024-01-01');
        const raw = await rawUser(c.userId);
        assert.equal(raw.body.fallback_time_zone, null, 'explicit null on the wire');
        assert.equal(raw.body.ingestion_end, null);
        await client.user.patch(c.userId, { fallbackBirthDate: undefined, ingestionStart: undefined });
        u = await client.user.get(c.userId);
        assert.equal(u.fallbackBirthDate, undefined);
        assert.equal(u.ingestionStart, undefined);
      });

      test('nothing to patch → VitalError 400 "Nothing to patch"', async () => {
        const c = await client.user.create({ clientUserId: 'patch-nothing' });
        for (const body of [undefined, {}]) {
          const e = await sdkError(client.user.patch(c.userId, body, NO_RETRY), VitalError, 400);
          assert.deepEqual(e.body, { detail: 'Nothing to patch' });
        }
      });

      test('client_user_id: null → UnprocessableEntityError (it cannot be reset)', async () => {
        const c = await client.user.create({ clientUserId: 'patch-cid-null' });
        const e = await sdkError(client.user.patch(c.userId, { clientUserId: undefined }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x, ...rest] = entries(e);
        assert.equal(rest.length, 0);
        assert.equal(x!.type, 'value_error');
        assert.deepEqual(x!.loc, ['body']);
        assert.equal(x!.msg, 'Value error, client_user_id is not a field that can be reset to null.');
        assert.deepEqual(x!.input, { client_user_id: null });
        assert.equal((await client.user.get(c.userId)).clientUserId, 'patch-cid-null');
      });

      test('a client_user_id held by another live user → VitalError 409', async () => {
        await client.user.create({ clientUserId: 'patch-holder' });
        const c = await client.user.create({ clientUserId: 'patch-wants' });
        const e = await sdkError(client.user.patch(c.userId, { clientUserId: 'patch-holder' }, NO_RETRY), VitalError, 409);
        assert.deepEqual(e.body, { detail: 'Client user id already exists' });
        assert.equal((await client.user.get(c.userId)).clientUserId, 'patch-wants');
      });

      test('bounds out of order after applying → 422, nothing changed', async () => {
        const c = await client.user.create({ clientUserId: 'patch-order', ingestionStart: '2024-05-01' });
        const e = await sdkError(client.user.patch(c.userId, { ingestionEnd: '2024-04-30' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x] = entries(e);
        assert.equal(x!.type, 'value_error');
        assert.deepEqual(x!.loc, ['body']);
        const e2 = await sdkError(client.user.patch(c.userId, { ingestionStart: '2024-06-01', ingestionEnd: '2024-05-31' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        assert.equal(entries(e2)[0]!.type, 'value_error');
        const u = await client.user.get(c.userId);
        assert.equal(u.ingestionStart, '2024-05-01');
        assert.equal(u.ingestionEnd, undefined);
      });

      test('bad field values → 422 entries, nothing changed', async () => {
        const c = await client.user.create({ clientUserId: 'patch-bad', fallbackTimeZone: 'Europe/Paris' });
        const e = await sdkError(client.user.patch(c.userId, { fallbackTimeZone: 'Nowhere/Special', fallbackBirthDate: 'yesterday' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        assert.deepEqual(entries(e).map((x) => [x.type, x.loc]), [
          ['value_error', ['body', 'fallback_time_zone']],
          ['date_from_datetime_parsing', ['body', 'fallback_birth_date']],
        ]);
        assert.equal((await client.user.get(c.userId)).fallbackTimeZone?.id, 'Europe/Paris');
      });

      test('unknown / pending-deletion user → 404 with the mutation texts', async () => {
        const e = await sdkError(client.user.patch(UNKNOWN_ID, { ingestionEnd: '2024-01-01' }, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'The user does not or no longer exists in this team' });
        const c = await client.user.create({ clientUserId: 'patch-pending' });
        await client.user.delete(c.userId);
        const e2 = await sdkError(client.user.patch(c.userId, { ingestionEnd: '2024-01-01' }, NO_RETRY), VitalError, 404);
        assert.deepEqual(e2.body, { detail: 'The user has been scheduled for deletion as per your previous request' });
      });
    });

    // ---------- U12 delete ----------

    describe('delete (U12)', () => {
      test('{success: true}; the user leaves live views and frees its client_user_id', async () => {
        const c = await client.user.create({ clientUserId: 'delete-1' });
        const r = await client.user.delete(c.userId);
        assert.deepEqual(r, { success: true });
        await sdkError(client.user.get(c.userId, NO_RETRY), VitalError, 404);
        await sdkError(client.user.getByClientUserId('delete-1', NO_RETRY), VitalError, 404);
        const again = await client.user.create({ clientUserId: 'delete-1' });
        assert.notEqual(again.userId, c.userId);
      });

      test('a second delete → 404 "scheduled for deletion"; unknown → 404 "does not or no longer exists"', async () => {
        const c = await client.user.create({ clientUserId: 'delete-twice' });
        await client.user.delete(c.userId);
        const e = await sdkError(client.user.delete(c.userId, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'The user has been scheduled for deletion as per your previous request' });
        const e2 = await sdkError(client.user.delete(UNKNOWN_ID, NO_RETRY), VitalError, 404);
        assert.deepEqual(e2.body, { detail: 'The user does not or no longer exists in this team' });
      });

      test('malformed id → UnprocessableEntityError uuid_parsing', async () => {
        const e = await sdkError(client.user.delete('not-a-uuid', NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x] = entries(e);
        assert.equal(x!.type, 'uuid_parsing');
        assert.deepEqual(x!.loc, ['path', 'user_id']);
        assert.equal(x!.input, 'not-a-uuid');
      });
    });

    // ---------- U14 undo ----------

    describe('undoDelete (U14)', () => {
      test('by userId: the user is back with the same id, created_on and data', async () => {
        const c = await client.user.create({ clientUserId: 'undo-by-id', fallbackTimeZone: 'Europe/Berlin', fallbackBirthDate: '1970-01-01', ingestionStart: '2020-01-01', ingestionEnd: '2030-01-01' });
        const before = await rawUser(c.userId);
        await client.user.delete(c.userId);
        assert.deepEqual(await client.user.undoDelete({ userId: c.userId }), { success: true });
        const after = await rawUser(c.userId);
        assert.equal(after.status, 200);
        assert.deepEqual(after.body, before.body);
        assert.equal((await client.user.getByClientUserId('undo-by-id')).userId, c.userId);
      });

      test('by clientUserId', async () => {
        const c = await client.user.create({ clientUserId: 'undo by/cid?' });
        const before = await client.user.get(c.userId);
        await client.user.delete(c.userId);
        assert.deepEqual(await client.user.undoDelete({ clientUserId: 'undo by/cid?' }), { success: true });
        const u = await client.user.get(c.userId);
        assert.equal(u.clientUserId, 'undo by/cid?');
        assert.equal(u.createdOn.getTime(), before.createdOn.getTime());
      });

      test('by clientUserId: the most recently deleted holder comes back', async () => {
        const a = await client.user.create({ clientUserId: 'undo-latest' });
        await client.user.delete(a.userId);
        const b = await client.user.create({ clientUserId: 'undo-latest' });
        await client.user.delete(b.userId);
        await client.user.undoDelete({ clientUserId: 'undo-latest' });
        assert.equal((await client.user.getByClientUserId('undo-latest')).userId, b.userId);
        await sdkError(client.user.get(a.userId, NO_RETRY), VitalError, 404);
      });

      test('both or neither parameter → VitalError 400', async () => {
        const c = await client.user.create({ clientUserId: 'undo-params' });
        await client.user.delete(c.userId);
        for (const req of [{}, { userId: c.userId, clientUserId: 'undo-params' }]) {
          const e = await sdkError(client.user.undoDelete(req, NO_RETRY), VitalError, 400);
          assert.deepEqual(e.body, { detail: 'Provide exactly one of user_id or client_user_id' });
        }
        await sdkError(client.user.get(c.userId, NO_RETRY), VitalError, 404);
      });

      test('no such deleted user → 404 "User not found" (unknown, live, or other id)', async () => {
        const live = await client.user.create({ clientUserId: 'undo-live' });
        for (const req of [{ userId: UNKNOWN_ID }, { userId: live.userId }, { clientUserId: 'undo-never-existed' }, { clientUserId: 'undo-live' }]) {
          const e = await sdkError(client.user.undoDelete(req, NO_RETRY), VitalError, 404);
          assert.deepEqual(e.body, { detail: 'User not found' }, JSON.stringify(req));
        }
      });

      test('malformed userId → UnprocessableEntityError', async () => {
        const e = await sdkError(client.user.undoDelete({ userId: 'nope' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const [x] = entries(e);
        assert.equal(x!.type, 'uuid_parsing');
        assert.deepEqual(x!.loc, ['query', 'user_id']);
      });

      test('blocked while a new live user holds the client_user_id → 400 "Client user id already exists"', async () => {
        const old = await client.user.create({ clientUserId: 'undo-taken' });
        await client.user.delete(old.userId);
        const now = await client.user.create({ clientUserId: 'undo-taken' });
        for (const req of [{ userId: old.userId }, { clientUserId: 'undo-taken' }]) {
          const e = await sdkError(client.user.undoDelete(req, NO_RETRY), VitalError, 400);
          assert.deepEqual(e.body, { detail: 'Client user id already exists' });
        }
        assert.equal((await client.user.getByClientUserId('undo-taken')).userId, now.userId);
        await sdkError(client.user.get(old.userId, NO_RETRY), VitalError, 404);
        // Once the new holder is gone, the old user can come back.
        await client.user.delete(now.userId);
        await client.user.undoDelete({ userId: old.userId });
        assert.equal((await client.user.getByClientUserId('undo-taken')).userId, old.userId);
      });
    });

    // ---------- U3 metrics ----------

    describe('getTeamMetrics (U3)', () => {
      test('counts live users of the team only; no connections yet', async () => {
        const t = await srv.newTeam('sdk-metrics');
        const sub = new VitalClient({ apiKey: t.apiKey, baseUrl: srv.baseUrl, maxRetries: 0 });
        let m = await sub.user.getTeamMetrics();
        assert.equal(m.teamId, t.teamId);
        assert.equal(m.numberOfUsers, 0);
        assert.equal(m.numberOfConnectedSources, 0);
        assert.equal(m.numberOfErroredConnectedSources, 0);
        assert.equal(m.numberOfOrderedTests, 0);
        assert.deepEqual(m.numberOfConnectedSourcesByWeek, []);
        const a = await sub.user.create({ clientUserId: 'm1' });
        await sub.user.create({ clientUserId: 'm2' });
        await sub.user.create({ clientUserId: 'm3' });
        m = await sub.user.getTeamMetrics();
        assert.equal(m.numberOfUsers, 3);
        await sub.user.delete(a.userId);
        m = await sub.user.getTeamMetrics();
        assert.equal(m.numberOfUsers, 2);
      });
    });

    // ---------- auth ----------

    describe('auth', () => {
      test('a wrong key → generic VitalError 401 with a string detail', async () => {
        const bad = new VitalClient({ apiKey: 'sk_rst_wrong', baseUrl: srv.baseUrl, maxRetries: 0 });
        const calls = [() => bad.user.getAll(undefined, NO_RETRY), () => bad.user.create({ clientUserId: 'x' }, NO_RETRY), () => bad.user.getTeamMetrics(NO_RETRY)];
        for (const call of calls) {
          const e = await sdkError(call(), VitalError, 401);
          assert.equal(typeof (e.body as { detail: unknown }).detail, 'string');
        }
      });
    });
  });
}
