// Bad input on every route of Junction's per-user records, from a raw HTTP client (the SDK refuses
// to send most of it): L1 demo connect, U4, U5, U6, U7, U8, U10, U15, U16, U17, U19. Every answer
// is the contract's error (§1.2: 422 lists in field order, 422 strings, 404s), JSON, never a 500;
// refresh is limited to 8 calls per user per hour (429 with Retry-After).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, type RawResponse } from '../support/junction-http.ts';
import { ADDRESS, UNKNOWN_ID, demographicsBody, entries422, insuranceBody, rawError, type Entry } from '../support/records.ts';

const NAME_RULE_PREFIX = 'Value error, ';
const DEMO_ENUM = "'apple_health_kit', 'fitbit', 'freestyle_libre' or 'oura'";
const PROVIDERS_41 = [
  'oura', 'fitbit', 'garmin', 'whoop', 'strava', 'renpho', 'peloton', 'wahoo', 'zwift', 'freestyle_libre', 'abbott_libreview',
  'freestyle_libre_ble', 'eight_sleep', 'withings', 'apple_health_kit', 'manual', 'ihealth', 'google_fit', 'beurer_api', 'beurer_ble',
  'omron', 'omron_ble', 'onetouch_ble', 'accuchek_ble', 'contour_ble', 'dexcom', 'dexcom_v3', 'hammerhead', 'my_fitness_pal',
  'health_connect', 'polar', 'cronometer', 'kardia', 'whoop_v2', 'ultrahuman', 'my_fitness_pal_v2', 'map_my_fitness', 'runkeeper',
  'tandem_source', 'samsung_health', 'google_health',
];

/** Sets the value at `path` in a deep copy of `obj`. */
function setAt(obj: Record<string, unknown>, path: (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(obj);
  let cur = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
  return copy;
}

const typesAndLocs = (list: Entry[]) => list.map((x) => [x.type, x.loc]);
const find = (list: Entry[], loc: (string | number)[]) => list.find((x) => JSON.stringify(x.loc) === JSON.stringify(loc));

/** Every string field of each body, with a valid value to corrupt. */
const PROXY = { first_name: 'Charles', last_name: 'Babbage', address: { ...ADDRESS, access_notes: 'ring twice' }, phone_number: '+44 20 7946 0000', email: 'cb@example.com' };
const FULL_DEMOGRAPHICS = demographicsBody({
  address: { ...ADDRESS, access_notes: 'side door' },
  medical_proxy: PROXY,
  race: 'asian', ethnicity: 'other', sexual_orientation: 'bisexual', gender_identity: 'genderqueer',
});
const FULL_INSURANCE = insuranceBody({ guarantor: PROXY });

function stringPaths(obj: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof obj === 'string') return [prefix];
  if (obj && typeof obj === 'object') return Object.entries(obj).flatMap(([k, v]) => stringPaths(v, [...prefix, k]));
  return [];
}

for (const backend of backends()) {
  describe(`Junction records: bad input (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let key: string;
    let userId: string;
    let n = 0;

    const req = (method: string, path: string, json?: unknown) => call(srv.baseUrl, method, path, { key, ...(json !== undefined ? { json } : {}) });
    const newUser = async () => {
      const r = await req('POST', '/v2/user', { client_user_id: `input-${++n}` });
      assert.equal(r.status, 200, r.text);
      return r.body.user_id as string;
    };
    const demographicsRows = async (id: string) =>
      Number((await tdb.db.kysely.selectFrom('demographics').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', id).executeTakeFirstOrThrow()).n);

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      key = (await srv.newTeam('input')).apiKey;
      userId = await newUser();
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    // ---------- U8 demographics ----------

    describe('PATCH /v2/user/{id}/info (U8)', () => {
      test('every error is reported together, in field order, and nothing is stored', async () => {
        const body = {
          first_name: ' Ada',
          last_name: 'Lovelace  Byron',
          email: 'ada.example.com',
          phone_number: '555-1234',
          dob: '1990-02-30',
          address: { second_line: 5, country: 'US', zip: '10001', city: 'New York' },
        };
        const list = entries422(await req('PATCH', `/v2/user/${userId}/info`, body));
        assert.deepEqual(typesAndLocs(list), [
          ['value_error', ['body', 'first_name']],
          ['value_error', ['body', 'last_name']],
          ['value_error', ['body', 'email']],
          ['value_error', ['body', 'phone_number']],
          ['missing', ['body', 'gender']],
          ['date_from_datetime_parsing', ['body', 'dob']],
          ['missing', ['body', 'address', 'first_line']],
          ['string_type', ['body', 'address', 'second_line']],
          ['missing', ['body', 'address', 'state']],
        ]);
        assert.ok(list[0]!.msg.startsWith(NAME_RULE_PREFIX), list[0]!.msg);
        assert.equal(list[0]!.input, ' Ada');
        assert.deepEqual(list[0]!.ctx, { error: {} });
        assert.equal(list[2]!.msg, 'value is not a valid email address: An email address must have an @-sign.');
        assert.deepEqual(list[2]!.ctx, { reason: 'An email address must have an @-sign.' });
        assert.equal(list[3]!.msg, 'Value error, Invalid phone number: 555-1234');
        assert.deepEqual(list[4]!.input, body, 'a missing top-level field carries the whole body');
        assert.equal(list[5]!.msg, 'Input should be a valid date or datetime, day value is outside expected range');
        assert.deepEqual(list[6]!.input, body.address, 'a missing address field carries the address');
        assert.equal(list[6]!.msg, 'Field required');
        assert.equal(list[7]!.msg, 'Input should be a valid string');
        assert.equal(list[7]!.input, 5);
        assert.equal(await demographicsRows(userId), 0);
        rawError(await req('GET', `/v2/user/${userId}/info/latest`), 404);
      });

      test('names: the lab name rule on first_name and last_name', async () => {
        for (const ok of ["O'Brien", 'Mary-Jane', 'J. R. R.', 'Smith, Jr.', '3M', 'Ada Lovelace King']) {
          const r = await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ first_name: ok, last_name: ok }));
          assert.equal(r.status, 200, `${ok}: ${r.text}`);
          assert.equal(r.body.first_name, ok);
        }
        for (const bad of [' Ada', 'Ada ', 'Ada  King', '-Ada', '.Ada', 'José', 'Zoë', 'Ada_King', 'Ada\tKing', 'Ada\nKing', '', 'Ada!', '李']) {
          const list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ first_name: bad, last_name: bad })));
          assert.deepEqual(typesAndLocs(list), [['value_error', ['body', 'first_name']], ['value_error', ['body', 'last_name']]], JSON.stringify(bad));
          assert.ok(list[0]!.msg.startsWith(`${NAME_RULE_PREFIX}first_name `), list[0]!.msg);
          assert.ok(list[1]!.msg.startsWith(`${NAME_RULE_PREFIX}last_name `), list[1]!.msg);
          assert.equal(list[0]!.input, bad);
        }
      });

      test('e-mail: value_error with email-validator\'s reason in msg and ctx.reason', async () => {
        const cases: [string, string | null][] = [
          ['ada.example.com', 'An email address must have an @-sign.'],
          ['@example.com', 'There must be something before the @-sign.'],
          ['ada@', 'There must be something after the @-sign.'],
          ['ada@localhost', 'The part after the @-sign is not valid. It should have a period.'],
          ['ada lovelace@example.com', null],
          ['.ada@example.com', null],
          ['ada..l@example.com', null],
          ['ada@exa_mple.com', null],
          ['ada@example..com', null],
          [`${'a'.repeat(65)}@example.com`, null],
          [`ada@${'e'.repeat(250)}.com`, null],
        ];
        for (const [email, reason] of cases) {
          const list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ email })));
          assert.deepEqual(typesAndLocs(list), [['value_error', ['body', 'email']]], email);
          const e = list[0]!;
          assert.ok(e.msg.startsWith('value is not a valid email address: '), e.msg);
          const r = e.msg.slice('value is not a valid email address: '.length);
          assert.ok(r.length > 0);
          assert.deepEqual(e.ctx, { reason: r });
          if (reason) assert.equal(r, reason, email);
          assert.equal(e.input, email);
        }
        const ok = await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ email: 'ada+lab.results@mail.example.co.uk' }));
        assert.equal(ok.status, 200, ok.text);
      });

      test('phone: null → "Phone number cannot be None"; fewer than 10 digits or other characters → "Invalid phone number"', async () => {
        let list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ phone_number: null })));
        assert.deepEqual(list, [{ type: 'value_error', loc: ['body', 'phone_number'], msg: 'Value error, Phone number cannot be None', input: null, ctx: { error: {} } }]);
        for (const bad of ['12345', '555-123-456', '+1 555 CALL NOW1', '555.123.4567', '5551234567x12', '', '          ']) {
          list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ phone_number: bad })));
          assert.deepEqual(list, [{ type: 'value_error', loc: ['body', 'phone_number'], msg: `Value error, Invalid phone number: ${bad}`, input: bad, ctx: { error: {} } }], JSON.stringify(bad));
        }
        list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ phone_number: 5551234567 })));
        assert.deepEqual(typesAndLocs(list), [['string_type', ['body', 'phone_number']]]);
        const { phone_number: _p, ...noPhone } = demographicsBody();
        list = entries422(await req('PATCH', `/v2/user/${userId}/info`, noPhone));
        assert.deepEqual(typesAndLocs(list), [['missing', ['body', 'phone_number']]]);
        for (const ok of ['5551234567', '+1 (555) 123-4567', '+44 20 7946 0000', '(555)123-4567']) {
          const r = await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ phone_number: ok }));
          assert.equal(r.status, 200, `${ok}: ${r.text}`);
        }
      });

      test('dob: date_from_datetime_parsing with the reason; wrong type string_type', async () => {
        for (const bad of ['1990-13-01', '1990-02-30', 'yesterday', '', '1990/01/01', '90-01-01']) {
          const list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ dob: bad })));
          assert.deepEqual(typesAndLocs(list), [['date_from_datetime_parsing', ['body', 'dob']]], bad);
          assert.ok(list[0]!.msg.startsWith('Input should be a valid date or datetime, '), list[0]!.msg);
          assert.equal(list[0]!.ctx?.error, list[0]!.msg.slice('Input should be a valid date or datetime, '.length));
        }
        for (const bad of [19900101, null]) {
          const list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ dob: bad })));
          assert.deepEqual(list.map((x) => x.loc), [['body', 'dob']], String(bad));
        }
      });

      test('address: absent, not an object, empty object, wrong types, too-long access_notes', async () => {
        const { address: _a, ...noAddress } = demographicsBody();
        let list = entries422(await req('PATCH', `/v2/user/${userId}/info`, noAddress));
        assert.deepEqual(typesAndLocs(list), [['missing', ['body', 'address']]]);
        list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ address: '221B Baker Street' })));
        assert.deepEqual(typesAndLocs(list), [['model_attributes_type', ['body', 'address']]]);
        list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ address: {} })));
        assert.deepEqual(typesAndLocs(list), ['first_line', 'country', 'zip', 'city', 'state'].map((f) => ['missing', ['body', 'address', f]]));
        for (const x of list) assert.deepEqual(x.input, {});
        list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ address: { ...ADDRESS, zip: 10001, city: null } })));
        assert.deepEqual(typesAndLocs(list), [['string_type', ['body', 'address', 'zip']], ['string_type', ['body', 'address', 'city']]]);
        list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ address: { ...ADDRESS, access_notes: 'x'.repeat(1001) } })));
        assert.deepEqual(typesAndLocs(list), [['string_too_long', ['body', 'address', 'access_notes']]]);
        const ok = await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({ address: { ...ADDRESS, access_notes: 'x'.repeat(1000) } }));
        assert.equal(ok.status, 200, ok.text);
      });

      test('optional enums and the medical proxy: enum entries without null in the list; nested proxy fields', async () => {
        const list = entries422(await req('PATCH', `/v2/user/${userId}/info`, demographicsBody({
          medical_proxy: { first_name: 'Charles', phone_number: null, address: { ...ADDRESS, country: 7 } },
          race: 'martian', ethnicity: 'HISPANIC', sexual_orientation: 'straight', gender_identity: 'unknown',
        })));
        assert.deepEqual(typesAndLocs(list), [
          ['missing', ['body', 'medical_proxy', 'last_name']],
          ['string_type', ['body', 'medical_proxy', 'address', 'country']],
          ['value_error', ['body', 'medical_proxy', 'phone_number']],
          ['enum', ['body', 'race']],
          ['enum', ['body', 'ethnicity']],
          ['enum', ['body', 'sexual_orientation']],
          ['enum', ['body', 'gender_identity']],
        ]);
        assert.equal(list[2]!.msg, 'Value error, Phone number cannot be None');
        const race = find(list, ['body', 'race'])!;
        const expected = "'african_american_or_black', 'asian', 'indigenous_native_american_alaska_native', 'other', 'pacific_islander_or_hawaiian' or 'white_caucasian'";
        assert.equal(race.msg, `Input should be ${expected}`);
        assert.deepEqual(race.ctx, { expected });
        assert.equal(find(list, ['body', 'ethnicity'])!.msg, "Input should be 'hispanic', 'non_hispanic', 'ashkenazi_jewish' or 'other'");
      });

      test('body: absent, not an object, not JSON', async () => {
        let list = entries422(await call(srv.baseUrl, 'PATCH', `/v2/user/${userId}/info`, { key }));
        assert.deepEqual(list, [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
        list = entries422(await req('PATCH', `/v2/user/${userId}/info`, [demographicsBody()]));
        assert.deepEqual(typesAndLocs(list), [['model_attributes_type', ['body']]]);
        list = entries422(await call(srv.baseUrl, 'PATCH', `/v2/user/${userId}/info`, { key, raw: '{"first_name": "Ada",', headers: { 'content-type': 'application/json' } }));
        assert.equal(list[0]!.type, 'json_invalid');
        assert.equal(list[0]!.loc[0], 'body');
      });

      test('user id: validation comes first (422 even for unknown or non-UUID ids); then non-UUID or unknown → 404', async () => {
        for (const id of ['not-a-uuid', UNKNOWN_ID, '1234']) {
          const list = entries422(await req('PATCH', `/v2/user/${id}/info`, demographicsBody({ email: 'nope' })));
          assert.deepEqual(typesAndLocs(list), [['value_error', ['body', 'email']]]);
          assert.deepEqual(rawError(await req('PATCH', `/v2/user/${id}/info`, demographicsBody()), 404), 'User not found');
        }
      });
    });

    // ---------- U5 latest demographics ----------

    describe('GET /v2/user/{id}/info/latest (U5)', () => {
      test('a non-UUID id → 422 with the Go-style string detail', async () => {
        assert.equal(rawError(await req('GET', '/v2/user/not-a-uuid/info/latest'), 422),
          "Invalid format for parameter user_id: error unmarshaling 'not-a-uuid' text as *uuid.UUID: invalid UUID length: 10");
        assert.equal(rawError(await req('GET', `/v2/user/${UNKNOWN_ID.replace(/-/g, 'z')}/info/latest`), 422),
          `Invalid format for parameter user_id: error unmarshaling '${UNKNOWN_ID.replace(/-/g, 'z')}' text as *uuid.UUID: invalid UUID format`);
        assert.equal(rawError(await req('GET', `/v2/user/${UNKNOWN_ID}/info/latest`), 404), 'User not found');
      });
    });

    // ---------- U6 / U7 insurance ----------

    describe('POST /v2/user/{id}/insurance (U6), GET .../insurance/latest (U7)', () => {
      test('enums: relationship (capitalised) and insured.gender, reported together in field order', async () => {
        const { payor_code: _p, ...noPayor } = insuranceBody();
        const body = setAt(setAt(setAt({ ...noPayor, relationship: 'self' }, ['insured', 'gender'], 'F'), ['insured', 'dob'], '1985-02-29'), ['insured', 'first_name'], 'Grace ');
        const list = entries422(await req('POST', `/v2/user/${userId}/insurance`, body));
        assert.deepEqual(typesAndLocs(list), [
          ['missing', ['body', 'payor_code']],
          ['enum', ['body', 'relationship']],
          ['value_error', ['body', 'insured', 'first_name']],
          ['enum', ['body', 'insured', 'gender']],
          ['date_from_datetime_parsing', ['body', 'insured', 'dob']],
        ]);
        assert.deepEqual(list[1], { type: 'enum', loc: ['body', 'relationship'], msg: "Input should be 'Self', 'Spouse' or 'Other'", input: 'self', ctx: { expected: "'Self', 'Spouse' or 'Other'" } });
        assert.deepEqual(list[3], { type: 'enum', loc: ['body', 'insured', 'gender'], msg: "Input should be 'female', 'male', 'other' or 'unknown'", input: 'F', ctx: { expected: "'female', 'male', 'other' or 'unknown'" } });
        rawError(await req('GET', `/v2/user/${userId}/insurance/latest`), 404);
      });

      test('other fields: is_primary type, insured e-mail and phone, guarantor phone null, group_id type', async () => {
        const body = setAt(setAt(insuranceBody({ is_primary: 'yes', group_id: 7, guarantor: { ...PROXY, phone_number: null } }), ['insured', 'email'], 'grace'), ['insured', 'phone_number'], '12');
        const list = entries422(await req('POST', `/v2/user/${userId}/insurance`, body));
        assert.deepEqual(typesAndLocs(list), [
          ['string_type', ['body', 'group_id']],
          ['value_error', ['body', 'insured', 'email']],
          ['value_error', ['body', 'insured', 'phone_number']],
          ['value_error', ['body', 'guarantor', 'phone_number']],
          ['bool_type', ['body', 'is_primary']],
        ]);
        assert.equal(list[3]!.msg, 'Value error, Phone number cannot be None');
      });

      test('insured absent or not an object; body absent', async () => {
        const { insured: _i, ...noInsured } = insuranceBody();
        assert.deepEqual(typesAndLocs(entries422(await req('POST', `/v2/user/${userId}/insurance`, noInsured))), [['missing', ['body', 'insured']]]);
        assert.deepEqual(typesAndLocs(entries422(await req('POST', `/v2/user/${userId}/insurance`, insuranceBody({ insured: [] })))), [['model_attributes_type', ['body', 'insured']]]);
        assert.deepEqual(entries422(await call(srv.baseUrl, 'POST', `/v2/user/${userId}/insurance`, { key })), [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
      });

      test('is_primary query: bool_parsing for non-booleans; FastAPI spellings accepted', async () => {
        for (const bad of ['maybe', '2', 'truee', '']) {
          const list = entries422(await req('GET', `/v2/user/${userId}/insurance/latest?is_primary=${encodeURIComponent(bad)}`));
          assert.deepEqual(list, [{ type: 'bool_parsing', loc: ['query', 'is_primary'], msg: 'Input should be a valid boolean, unable to interpret input', input: bad }], bad);
        }
        const id = await newUser();
        const c = await req('POST', `/v2/user/${id}/insurance`, insuranceBody({ is_primary: false, member_id: 'SECONDARY' }));
        assert.equal(c.status, 200, c.text);
        for (const v of ['false', 'False', '0', 'no', 'off', 'f', 'n']) {
          const r = await req('GET', `/v2/user/${id}/insurance/latest?is_primary=${v}`);
          assert.equal(r.status, 200, `${v}: ${r.text}`);
          assert.equal(r.body.member_id, 'SECONDARY');
        }
        for (const v of ['true', 'TRUE', '1', 'yes', 'on', 't', 'y']) {
          assert.equal(rawError(await req('GET', `/v2/user/${id}/insurance/latest?is_primary=${v}`), 404), 'Insurance not found', v);
        }
      });

      test('user id: non-UUID → 404 "User not found" on both routes (plain string in the spec); validation first on POST', async () => {
        for (const id of ['not-a-uuid', '42', 'x'.repeat(300)]) {
          assert.equal(rawError(await req('POST', `/v2/user/${id}/insurance`, insuranceBody()), 404), 'User not found');
          assert.equal(rawError(await req('GET', `/v2/user/${id}/insurance/latest`), 404), 'User not found');
          assert.deepEqual(typesAndLocs(entries422(await req('POST', `/v2/user/${id}/insurance`, insuranceBody({ relationship: 'Mother' })))), [['enum', ['body', 'relationship']]]);
        }
      });
    });

    // ---------- U10 deregister ----------

    describe('DELETE /v2/user/{id}/{provider} (U10)', () => {
      test('an unknown provider slug → 422 enum on ["path","provider"] listing the 41 slugs', async () => {
        const expected = `${PROVIDERS_41.slice(0, -1).map((s) => `'${s}'`).join(', ')} or '${PROVIDERS_41.at(-1)}'`;
        for (const slug of ['nope', 'Fitbit', 'FITBIT', 'fitbit%20', 'apple', '%20', 'fit%2Fbit']) {
          const list = entries422(await req('DELETE', `/v2/user/${userId}/${slug}`));
          assert.deepEqual(list, [{ type: 'enum', loc: ['path', 'provider'], msg: `Input should be ${expected}`, input: decodeURIComponent(slug), ctx: { expected } }], slug);
        }
      });

      test('bad user id and bad provider: both reported, user_id first', async () => {
        const list = entries422(await req('DELETE', '/v2/user/not-a-uuid/nope'));
        assert.deepEqual(typesAndLocs(list), [['uuid_parsing', ['path', 'user_id']], ['enum', ['path', 'provider']]]);
      });
    });

    // ---------- UUID paths ----------

    describe('UUID path parameters (U4, U10, U15, U16, U17, U19)', () => {
      const routes = (bad: string): [string, string, unknown?][] => [
        ['GET', `/v2/user/providers/${bad}`],
        ['DELETE', `/v2/user/${bad}/fitbit`],
        ['POST', `/v2/user/refresh/${bad}`],
        ['GET', `/v2/user/${bad}/device`],
        ['GET', `/v2/user/${bad}/device/${UNKNOWN_ID}`],
        ['POST', `/v2/user/${bad}/create_portal_url`, { context: 'launch' }],
      ];

      test('a malformed user_id → 422 uuid_parsing on ["path","user_id"] with the reason', async () => {
        const cases: [string, string][] = [
          ['not-a-uuid', 'invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `n` at 1'],
          ['1234', 'invalid length: expected length 32 for simple format, found 4'],
          ['0190a0a0-0000-7000-8000', 'invalid group count: expected 5, found 4'],
          ['0190a0a0-0000-7000-8000-00000000000', 'invalid group length in group 4: expected 12, found 11'],
        ];
        for (const [bad, reason] of cases) {
          for (const [method, path, json] of routes(bad)) {
            const list = entries422(await req(method, path, json));
            assert.deepEqual(list, [{ type: 'uuid_parsing', loc: ['path', 'user_id'], msg: `Input should be a valid UUID, ${reason}`, input: bad, ctx: { error: reason } }], `${method} ${path}`);
          }
        }
      });

      test('a malformed device_id → 422 on ["path","device_id"]; both malformed → both entries', async () => {
        let list = entries422(await req('GET', `/v2/user/${userId}/device/nope`));
        assert.deepEqual(typesAndLocs(list), [['uuid_parsing', ['path', 'device_id']]]);
        list = entries422(await req('GET', '/v2/user/nope/device/nope'));
        assert.deepEqual(typesAndLocs(list), [['uuid_parsing', ['path', 'user_id']], ['uuid_parsing', ['path', 'device_id']]]);
      });

      test('a well-formed unknown user_id → 404 "User not found"', async () => {
        for (const [method, path, json] of routes(UNKNOWN_ID)) {
          assert.equal(rawError(await req(method, path, json), 404), 'User not found', `${method} ${path}`);
        }
      });
    });

    // ---------- L1 demo ----------

    describe('POST /v2/link/connect/demo (L1)', () => {
      test('missing fields, bad uuid, unknown provider, wrong types', async () => {
        let list = entries422(await req('POST', '/v2/link/connect/demo', {}));
        assert.deepEqual(list, [
          { type: 'missing', loc: ['body', 'user_id'], msg: 'Field required', input: {} },
          { type: 'missing', loc: ['body', 'provider'], msg: 'Field required', input: {} },
        ]);
        list = entries422(await req('POST', '/v2/link/connect/demo', { user_id: 'nope', provider: 'garmin' }));
        assert.deepEqual(typesAndLocs(list), [['uuid_parsing', ['body', 'user_id']], ['enum', ['body', 'provider']]]);
        assert.equal(list[1]!.msg, `Input should be ${DEMO_ENUM}`);
        assert.deepEqual(list[1]!.ctx, { expected: DEMO_ENUM });
        list = entries422(await req('POST', '/v2/link/connect/demo', { user_id: 7, provider: ['fitbit'] }));
        assert.deepEqual(list.map((x) => x.loc), [['body', 'user_id'], ['body', 'provider']]);
        list = entries422(await req('POST', '/v2/link/connect/demo', 'fitbit'));
        assert.deepEqual(typesAndLocs(list), [['model_attributes_type', ['body']]]);
        list = entries422(await call(srv.baseUrl, 'POST', '/v2/link/connect/demo', { key }));
        assert.deepEqual(list, [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
        assert.equal(rawError(await req('POST', '/v2/link/connect/demo', { user_id: UNKNOWN_ID, provider: 'oura' }), 404), 'User not found');
      });
    });

    // ---------- U19 portal ----------

    describe('POST /v2/user/{id}/create_portal_url (U19)', () => {
      test('context enum, missing context, bad order_id, no body', async () => {
        let list = entries422(await req('POST', `/v2/user/${userId}/create_portal_url`, { context: 'email' }));
        assert.deepEqual(list, [{ type: 'enum', loc: ['body', 'context'], msg: "Input should be 'launch' or 'communications'", input: 'email', ctx: { expected: "'launch' or 'communications'" } }]);
        list = entries422(await req('POST', `/v2/user/${userId}/create_portal_url`, { order_id: 'nope' }));
        assert.deepEqual(typesAndLocs(list), [['missing', ['body', 'context']], ['uuid_parsing', ['body', 'order_id']]]);
        list = entries422(await call(srv.baseUrl, 'POST', `/v2/user/${userId}/create_portal_url`, { key }));
        assert.deepEqual(list, [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
        const fresh = await newUser();
        assert.equal(rawError(await req('POST', `/v2/user/${fresh}/create_portal_url`, { context: 'launch' }), 422), 'User demographics are required to create a portal URL');
        assert.equal((await req('PATCH', `/v2/user/${fresh}/info`, demographicsBody())).status, 200);
        const ok = await req('POST', `/v2/user/${fresh}/create_portal_url`, { context: 'launch', order_id: null });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.body.expires_in, 600);
      });
    });

    // ---------- U15 timeout ----------

    describe('POST /v2/user/refresh/{id}?timeout= (U15)', () => {
      test('timeout: float_parsing, greater_than_equal 5, less_than_equal 60; fractions accepted', async () => {
        // A new id per call: every call counts against the per-user refresh limit.
        const cases: [string, string, Record<string, unknown> | undefined][] = [
          ['abc', 'float_parsing', undefined],
          ['', 'float_parsing', undefined],
          ['4.99', 'greater_than_equal', { ge: 5 }],
          ['-1', 'greater_than_equal', { ge: 5 }],
          ['60.5', 'less_than_equal', { le: 60 }],
          ['1e309', 'less_than_equal', { le: 60 }],
        ];
        for (const [t, type, ctx] of cases) {
          const list = entries422(await req('POST', `/v2/user/refresh/${randomUUID()}?timeout=${encodeURIComponent(t)}`));
          assert.equal(list.length, 1, t);
          assert.equal(list[0]!.type, type, t);
          assert.deepEqual(list[0]!.loc, ['query', 'timeout']);
          assert.equal(list[0]!.input, t);
          if (ctx) assert.deepEqual(list[0]!.ctx, ctx);
        }
        const id = await newUser();
        assert.equal((await req('POST', '/v2/link/connect/demo', { user_id: id, provider: 'oura' })).status, 200);
        for (const t of ['5', '5.5', '60', '10.0']) {
          const r = await req('POST', `/v2/user/refresh/${id}?timeout=${t}`);
          assert.equal(r.status, 200, `${t}: ${r.text}`);
        }
      });
    });

    // ---------- refresh rate limit ----------

    describe('refresh rate limit: 8 calls per user per hour', () => {
      test('the 9th call → 429 with Retry-After and a JSON body; other users are not affected', async () => {
        const id = await newUser();
        const other = await newUser();
        for (const u of [id, other]) assert.equal((await req('POST', '/v2/link/connect/demo', { user_id: u, provider: 'fitbit' })).status, 200);
        for (let i = 1; i <= 8; i++) {
          const r = await req('POST', `/v2/user/refresh/${id}`);
          assert.equal(r.status, 200, `call ${i}: ${r.text}`);
        }
        const limited = await req('POST', `/v2/user/refresh/${id}`);
        const detail = rawError(limited, 429);
        assert.equal(typeof detail, 'string');
        const retry = limited.headers.get('retry-after');
        assert.ok(retry && /^\d+$/.test(retry), `Retry-After seconds: ${retry}`);
        assert.ok(Number(retry) > 0 && Number(retry) <= 3600, retry);
        // The same user spelt in upper case is the same user.
        rawError(await req('POST', `/v2/user/refresh/${id.toUpperCase()}`), 429);
        // Another user of the team still refreshes.
        assert.equal((await req('POST', `/v2/user/refresh/${other}`)).status, 200);
        // The limit is on refresh only: the limited user's other routes work.
        assert.equal((await req('GET', `/v2/user/providers/${id}`)).status, 200);
      });
    });

    // ---------- NUL and unpaired surrogates ----------

    describe('U+0000 and unpaired surrogates never reach the database', () => {
      const BAD = ['\u0000', '\ud800', '\udc00', 'a\ud83dz'];
      const corrupt = (v: unknown, bad: string) => (typeof v === 'string' ? `${v.slice(0, 3)}${bad}${v.slice(3)}` : bad);

      test('every string field of the demographics body → 422 on that field', async () => {
        const paths = stringPaths(FULL_DEMOGRAPHICS);
        assert.ok(paths.length >= 20, `${paths.length} string fields`);
        const ok = await req('PATCH', `/v2/user/${userId}/info`, FULL_DEMOGRAPHICS);
        assert.equal(ok.status, 200, ok.text);
        const before = await demographicsRows(userId);
        for (const p of paths) {
          for (const bad of BAD) {
            let v: unknown = FULL_DEMOGRAPHICS;
            for (const k of p) v = (v as Record<string, unknown>)[k];
            const r = await req('PATCH', `/v2/user/${userId}/info`, setAt(FULL_DEMOGRAPHICS, p, corrupt(v, bad)));
            const list = entries422(r);
            assert.ok(find(list, ['body', ...p]), `${p.join('.')} with ${JSON.stringify(bad)}: ${r.text}`);
          }
        }
        assert.equal(await demographicsRows(userId), before, 'no version was written');
      });

      test('every string field of the insurance body → 422 on that field', async () => {
        const paths = stringPaths(FULL_INSURANCE);
        assert.ok(paths.length >= 25, `${paths.length} string fields`);
        const ok = await req('POST', `/v2/user/${userId}/insurance`, FULL_INSURANCE);
        assert.equal(ok.status, 200, ok.text);
        for (const p of paths) {
          for (const bad of BAD) {
            let v: unknown = FULL_INSURANCE;
            for (const k of p) v = (v as Record<string, unknown>)[k];
            const r = await req('POST', `/v2/user/${userId}/insurance`, setAt(FULL_INSURANCE, p, corrupt(v, bad)));
            const list = entries422(r);
            assert.ok(find(list, ['body', ...p]), `${p.join('.')} with ${JSON.stringify(bad)}: ${r.text}`);
          }
        }
        const rows = await tdb.db.kysely.selectFrom('insurances').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
        assert.equal(Number(rows.n), 1, 'only the valid record was written');
      });

      test('demo connect and portal bodies → 422 on that field', async () => {
        for (const bad of BAD) {
          for (const [path, body, field] of [
            ['/v2/link/connect/demo', { user_id: userId, provider: 'fitbit' }, 'user_id'],
            ['/v2/link/connect/demo', { user_id: userId, provider: 'fitbit' }, 'provider'],
            [`/v2/user/${userId}/create_portal_url`, { context: 'launch', order_id: UNKNOWN_ID }, 'context'],
            [`/v2/user/${userId}/create_portal_url`, { context: 'launch', order_id: UNKNOWN_ID }, 'order_id'],
          ] as [string, Record<string, unknown>, string][]) {
            const r = await req('POST', path, { ...body, [field]: corrupt(body[field], bad) });
            assert.ok(find(entries422(r), ['body', field]), `${path} ${field} ${JSON.stringify(bad)}: ${r.text}`);
          }
        }
        const conns = await tdb.db.kysely.selectFrom('connections').select('provider').where('user_id', '=', userId).execute();
        assert.deepEqual(conns, [], 'nothing was connected');
      });

      test('in path and query: 422 on UUID paths, 404 on plain-string paths, 422 on queries; malformed UTF-8 too', async () => {
        for (const enc of ['%00', `${UNKNOWN_ID.slice(0, 8)}%00${UNKNOWN_ID.slice(8)}`, '%ED%A0%80', 'ab%ED%B0%80', '%F0%9F', '%C3', '%']) {
          for (const [method, path, json] of [
            ['GET', `/v2/user/providers/${enc}`],
            ['DELETE', `/v2/user/${enc}/fitbit`],
            ['POST', `/v2/user/refresh/${enc}`],
            ['GET', `/v2/user/${enc}/device`],
            ['GET', `/v2/user/${userId}/device/${enc}`],
            ['POST', `/v2/user/${enc}/create_portal_url`, { context: 'launch' }],
          ] as [string, string, unknown?][]) {
            const list = entries422(await req(method, path, json));
            assert.equal(list.length, 1, `${method} ${path}`);
            assert.equal(list[0]!.type, 'uuid_parsing', `${method} ${path}`);
          }
          for (const [method, path, json] of [
            ['PATCH', `/v2/user/${enc}/info`, demographicsBody()],
            ['POST', `/v2/user/${enc}/insurance`, insuranceBody()],
            ['GET', `/v2/user/${enc}/insurance/latest`],
          ] as [string, string, unknown?][]) {
            assert.equal(rawError(await req(method, path, json), 404), 'User not found', `${method} ${path}`);
          }
          const go = rawError(await req('GET', `/v2/user/${enc}/info/latest`), 422);
          assert.ok(typeof go === 'string' && go.startsWith('Invalid format for parameter user_id: '), String(go));
          assert.deepEqual(entries422(await req('DELETE', `/v2/user/${userId}/fit${enc}bit`)).map((x) => x.loc), [['path', 'provider']]);
          assert.deepEqual(entries422(await req('GET', `/v2/user/${userId}/insurance/latest?is_primary=${enc}`)).map((x) => x.type), ['bool_parsing']);
          assert.deepEqual(entries422(await req('POST', `/v2/user/refresh/${randomUUID()}?timeout=5${enc}`)).map((x) => x.type), ['float_parsing']);
        }
      });
    });

    // ---------- media type ----------

    describe('every error is application/json', () => {
      test('401 without or with a wrong key on every new route', async () => {
        const routes: [string, string, unknown?][] = [
          ['GET', `/v2/user/providers/${userId}`],
          ['DELETE', `/v2/user/${userId}/fitbit`],
          ['POST', `/v2/user/refresh/${userId}`],
          ['GET', `/v2/user/${userId}/device`],
          ['GET', `/v2/user/${userId}/device/${UNKNOWN_ID}`],
          ['PATCH', `/v2/user/${userId}/info`, demographicsBody()],
          ['GET', `/v2/user/${userId}/info/latest`],
          ['POST', `/v2/user/${userId}/insurance`, insuranceBody()],
          ['GET', `/v2/user/${userId}/insurance/latest`],
          ['POST', `/v2/user/${userId}/create_portal_url`, { context: 'launch' }],
          ['POST', '/v2/link/connect/demo', { user_id: userId, provider: 'fitbit' }],
        ];
        for (const [method, path, json] of routes) {
          for (const k of [null, 'sk_us_wrong_key_0000000000000000']) {
            const r: RawResponse = await call(srv.baseUrl, method, path, { key: k, ...(json !== undefined ? { json } : {}) });
            assert.equal(typeof rawError(r, 401), 'string', `${method} ${path}`);
          }
        }
        const conns = await tdb.db.kysely.selectFrom('connections').select('provider').where('user_id', '=', userId).execute();
        assert.deepEqual(conns, [], 'the unauthenticated demo call connected nothing');
      });
    });
  });
}
