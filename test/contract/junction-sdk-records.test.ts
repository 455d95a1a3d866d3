// The official Junction SDK (@tryvital/vital-node 3.1.551) through the per-user records of the
// contract: L1 demo connections, U4 providers, U10 deregister, U15 refresh, U16/U17 devices,
// U8/U5 demographics, U6/U7 insurance, U19 portal URLs, and how connections show in U1/U3/U9/U11.
// Every success must parse in the SDK (it throws ParseError otherwise); every error must surface as
// the class contract §2 names, with the body §1.2 and §5 give.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Vital, VitalClient, VitalError } from '@tryvital/vital-node';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call, UUID_RE } from '../support/junction-http.ts';
import {
  ADDRESS, DEMO_EXPECT, DEMO_PROVIDERS, NO_RETRY, PERSON, UNKNOWN_ID, demographicsBody, sdkError, weekStart, type DemoSlug,
} from '../support/records.ts';

const SDK_ADDRESS = { firstLine: ADDRESS.first_line, secondLine: ADDRESS.second_line, country: ADDRESS.country, zip: ADDRESS.zip, city: ADDRESS.city, state: ADDRESS.state };

function sdkDemographics(over: Partial<Vital.UserInfoCreateRequest> = {}): Vital.UserInfoCreateRequest {
  return {
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada@example.com',
    phoneNumber: '+1 (555) 123-4567',
    gender: 'female',
    dob: '1990-12-10',
    address: { ...SDK_ADDRESS },
    ...over,
  };
}

const SDK_PERSON: Vital.VitalCoreSchemasDbSchemasLabTestInsurancePersonDetails = {
  firstName: PERSON.first_name,
  lastName: PERSON.last_name,
  gender: 'female',
  address: { ...SDK_ADDRESS },
  dob: PERSON.dob,
  email: PERSON.email,
  phoneNumber: PERSON.phone_number,
};

for (const backend of backends()) {
  describe(`Junction SDK, connections and records (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let team: { teamId: string; apiKey: string; keyId: string };
    let client: VitalClient;
    let prod: VitalClient;
    let n = 0;

    const newUser = async (c: VitalClient = client) => (await c.user.create({ clientUserId: `rec-${++n}-${Date.now()}` })).userId;
    const connect = (userId: string, provider: DemoSlug, c: VitalClient = client) => c.link.connectDemoProvider({ userId, provider });
    const countRows = async (table: 'connections' | 'devices' | 'demographics' | 'insurances', userId: string) =>
      Number((await tdb.db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow()).n);

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      team = await srv.newTeam('records-sandbox');
      client = new VitalClient({ apiKey: team.apiKey, baseUrl: srv.baseUrl });
      const p = await srv.newTeam('records-production', 'production');
      prod = new VitalClient({ apiKey: p.apiKey, baseUrl: srv.baseUrl });
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    // ---------- L1 demo connections ----------

    describe('connectDemoProvider (L1)', () => {
      test('each of the 4 demo providers connects: success body names the user and the provider', async () => {
        const id = await newUser();
        for (const p of DEMO_PROVIDERS) {
          const r = await connect(id, p);
          assert.equal(r.success, true);
          assert.equal(r.detail, `Connected user ${id} to provider ${p}`);
        }
        const providers = (await client.user.getConnectedProviders(id)).providers!;
        assert.deepEqual(providers.map((x) => x.slug).sort(), [...DEMO_PROVIDERS].sort());
        const devices = await client.user.getDevices(id);
        assert.deepEqual(devices.map((d) => d.provider).sort(), [...DEMO_PROVIDERS].sort());
      });

      test('repeating a demo connection answers 200 and adds no connection and no device', async () => {
        const id = await newUser();
        await connect(id, 'fitbit');
        await connect(id, 'oura');
        const before = await client.user.getConnectedProviders(id);
        const devicesBefore = await client.user.getDevices(id);
        for (const p of ['fitbit', 'oura', 'fitbit'] as const) {
          const r = await connect(id, p);
          assert.equal(r.success, true);
          assert.equal(r.detail, `Connected user ${id} to provider ${p}`);
        }
        const after = await client.user.getConnectedProviders(id);
        assert.deepEqual(after, before, 'the connections (and their created_on) are unchanged');
        assert.deepEqual(await client.user.getDevices(id), devicesBefore, 'no new device');
        assert.equal(await countRows('connections', id), 2);
        assert.equal(await countRows('devices', id), 2);
        assert.equal((await client.user.get(id)).connectedSources.length, 2);
      });

      test('a production team gets 400 "only available in sandbox" and nothing is connected', async () => {
        const id = await newUser(prod);
        for (const p of DEMO_PROVIDERS) {
          const e = await sdkError(prod.link.connectDemoProvider({ userId: id, provider: p }, NO_RETRY), VitalError, 400);
          assert.deepEqual(e.body, { detail: 'Demo connections are only available in sandbox' });
        }
        assert.deepEqual((await prod.user.getConnectedProviders(id)).providers, []);
        assert.deepEqual(await prod.user.getDevices(id), []);
        assert.deepEqual((await prod.user.get(id)).connectedSources, []);
        assert.equal(await countRows('connections', id), 0);
        assert.equal(await countRows('devices', id), 0);
      });

      test('an unknown user is 404 "User not found"; a soft-deleted user too', async () => {
        const e = await sdkError(client.link.connectDemoProvider({ userId: UNKNOWN_ID, provider: 'fitbit' }, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
        const id = await newUser();
        await client.user.delete(id);
        const e2 = await sdkError(client.link.connectDemoProvider({ userId: id, provider: 'oura' }, NO_RETRY), VitalError, 404);
        assert.deepEqual(e2.body, { detail: 'User not found' });
        assert.equal(await countRows('connections', id), 0);
      });
    });

    // ---------- U4 providers ----------

    describe('getConnectedProviders (U4)', () => {
      test('shape, names, logos and resource availability per contract §4.2; ordered by created_on', async () => {
        const id = await newUser();
        const order: DemoSlug[] = ['oura', 'freestyle_libre', 'apple_health_kit', 'fitbit'];
        for (const p of order) await connect(id, p);

        const raw = await call(srv.baseUrl, 'GET', `/v2/user/providers/${id}`, { key: team.apiKey });
        assert.equal(raw.status, 200);
        assert.deepEqual(Object.keys(raw.body), ['providers'], 'exactly one key: providers');

        const r = await client.user.getConnectedProviders(id);
        const list = r.providers!;
        assert.equal(list.length, 4);
        const times = list.map((x) => x.createdOn.getTime());
        assert.deepEqual(times, [...times].sort((a, b) => a - b), 'created_on ascending');
        // Connected one after the other, so (ties aside) the order is the connection order.
        const expected = [...order].sort((a, b) => list.find((x) => x.slug === a)!.createdOn.getTime() - list.find((x) => x.slug === b)!.createdOn.getTime());
        assert.deepEqual(list.map((x) => x.slug), expected);

        for (const c of list) {
          const want = DEMO_EXPECT[c.slug as DemoSlug];
          assert.equal(c.name, want.name);
          assert.equal(c.logo, want.logo);
          assert.equal(c.status, 'connected');
          assert.ok(c.createdOn instanceof Date && !Number.isNaN(c.createdOn.getTime()));
          assert.ok(c.externalUserId == null, 'demo connections have no external user id');
          assert.ok(c.errorDetails == null);
          assert.deepEqual(Object.keys(c.resourceAvailability).sort(), [...want.resources].sort(), c.slug);
          for (const [res, a] of Object.entries(c.resourceAvailability)) {
            assert.equal(a.status, 'available', `${c.slug}/${res}`);
            assert.ok(a.scopeRequirements == null, `${c.slug}/${res} scope_requirements null`);
          }
        }
        // Wire form: explicit nulls (contract §1 "always emit nullable keys").
        for (const c of raw.body.providers) {
          assert.equal(c.external_user_id, null);
          assert.equal(c.error_details, null);
          for (const a of Object.values(c.resource_availability) as { scope_requirements: unknown }[]) assert.equal(a.scope_requirements, null);
        }
      });

      test('connections of a user whose ingestion_end is more than 7 days past show "paused" (contract §6.3)', async () => {
        const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
        const past = (await client.user.create({ clientUserId: `paused-${Date.now()}`, ingestionStart: '2020-01-01', ingestionEnd: day(-10) })).userId;
        const recent = (await client.user.create({ clientUserId: `late-window-${Date.now()}`, ingestionStart: '2020-01-01', ingestionEnd: day(-3) })).userId;
        for (const id of [past, recent]) await connect(id, 'fitbit');
        assert.deepEqual((await client.user.getConnectedProviders(past)).providers!.map((p) => p.status), ['paused']);
        assert.deepEqual((await client.user.get(past)).connectedSources.map((s) => s.provider.slug), ['fitbit'], 'a paused connection is still a connection');
        assert.deepEqual((await client.user.getConnectedProviders(recent)).providers!.map((p) => p.status), ['connected'], 'inside the 7-day late window');
        // Extending the end un-pauses (bounds can change any time until connections are paused for good).
        await client.user.patch(past, { ingestionEnd: day(30) });
        assert.deepEqual((await client.user.getConnectedProviders(past)).providers!.map((p) => p.status), ['connected']);
      });

      test('a user without connections has an empty list; unknown user 404', async () => {
        const id = await newUser();
        assert.deepEqual(await client.user.getConnectedProviders(id), { providers: [] });
        const e = await sdkError(client.user.getConnectedProviders(UNKNOWN_ID, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
      });
    });

    // ---------- connected_sources in the user views ----------

    describe('connected_sources in get / getAll / getByClientUserId (U11, U1, U9)', () => {
      test('each connection shows with both provider and source (same object) and created_on', async () => {
        const clientUserId = `views-${Date.now()}`;
        const id = (await client.user.create({ clientUserId })).userId;
        await connect(id, 'fitbit');
        await connect(id, 'freestyle_libre');
        const providers = (await client.user.getConnectedProviders(id)).providers!;

        const check = (u: Vital.ClientFacingUser) => {
          assert.equal(u.connectedSources.length, 2);
          assert.deepEqual(u.connectedSources.map((s) => s.provider.slug), providers.map((p) => p.slug), 'same order as U4');
          for (const s of u.connectedSources) {
            const want = DEMO_EXPECT[s.provider.slug as DemoSlug];
            assert.deepEqual(s.provider, { name: want.name, slug: s.provider.slug, logo: want.logo });
            assert.deepEqual(s.source, s.provider, 'source (deprecated, SDK-required) equals provider');
            assert.equal(s.createdOn.getTime(), providers.find((p) => p.slug === s.provider.slug)!.createdOn.getTime());
          }
        };
        check(await client.user.get(id));
        check(await client.user.getByClientUserId(clientUserId));
        const all = await client.user.getAll({ limit: 500 });
        const mine = all.users.find((u) => u.userId === id);
        assert.ok(mine, 'the user is listed');
        check(mine);
      });
    });

    // ---------- U3 metrics ----------

    describe('getTeamMetrics (U3)', () => {
      test('counts users and current connections; the weekly series ends with the running total', async () => {
        const t = await srv.newTeam('metrics');
        const c = new VitalClient({ apiKey: t.apiKey, baseUrl: srv.baseUrl });
        const empty = await c.user.getTeamMetrics();
        assert.equal(empty.teamId, t.teamId);
        assert.equal(empty.numberOfUsers, 0);
        assert.equal(empty.numberOfConnectedSources, 0);
        assert.deepEqual(empty.numberOfConnectedSourcesByWeek, []);

        const a = await newUser(c);
        const b = await newUser(c);
        await newUser(c);
        await connect(a, 'fitbit', c);
        await connect(a, 'oura', c);
        await connect(b, 'freestyle_libre', c);
        await connect(b, 'freestyle_libre', c); // repeat: not counted twice

        const m = await c.user.getTeamMetrics();
        assert.equal(m.teamId, t.teamId);
        assert.equal(m.numberOfUsers, 3);
        assert.equal(m.numberOfConnectedSources, 3);
        assert.equal(m.numberOfErroredConnectedSources, 0);
        assert.equal(m.numberOfOrderedTests, 0);

        // Expected series from the connections' own created_on: one point per week, Monday 00:00 UTC.
        const created = [...(await c.user.getConnectedProviders(a)).providers!, ...(await c.user.getConnectedProviders(b)).providers!].map((p) => p.createdOn);
        const weeks = m.numberOfConnectedSourcesByWeek!;
        assert.ok(weeks.length >= 1);
        for (const w of weeks) {
          assert.equal(w.date.getTime(), weekStart(w.date), `${w.date.toISOString()} is a Monday 00:00 UTC`);
        }
        for (let i = 1; i < weeks.length; i++) assert.equal(weeks[i]!.date.getTime() - weeks[i - 1]!.date.getTime(), 7 * 86_400_000, 'consecutive weeks');
        assert.equal(weeks[0]!.date.getTime(), Math.min(...created.map(weekStart)), 'starts at the first connection\'s week');
        let running = 0;
        for (const w of weeks) {
          const value = created.filter((d) => weekStart(d) === w.date.getTime()).length;
          running += value;
          assert.equal(w.value, value);
          assert.equal(w.all, running);
        }
        assert.equal(weeks[weeks.length - 1]!.all, 3);
        assert.equal(weeks[weeks.length - 1]!.date.getTime(), weekStart(new Date()), 'ends at the current week');

        // Deregistering removes a connection from the counts; deleting a user drops all of its own.
        await c.user.deregisterProvider(a, 'oura');
        let m2 = await c.user.getTeamMetrics();
        assert.equal(m2.numberOfConnectedSources, 2);
        assert.equal(m2.numberOfConnectedSourcesByWeek!.at(-1)!.all, 2);
        await c.user.delete(b);
        m2 = await c.user.getTeamMetrics();
        assert.equal(m2.numberOfUsers, 2);
        assert.equal(m2.numberOfConnectedSources, 1);
        assert.equal(m2.numberOfConnectedSourcesByWeek!.at(-1)!.all, 1);
      });
    });

    // ---------- U10 deregister ----------

    describe('deregisterProvider (U10)', () => {
      test('removes the connection everywhere; devices stay; a second call is 404 "Connection not found"', async () => {
        const id = await newUser();
        await connect(id, 'fitbit');
        await connect(id, 'oura');
        const r = await client.user.deregisterProvider(id, 'fitbit');
        assert.deepEqual(r, { success: true });
        assert.deepEqual((await client.user.getConnectedProviders(id)).providers!.map((p) => p.slug), ['oura']);
        assert.deepEqual((await client.user.get(id)).connectedSources.map((s) => s.provider.slug), ['oura']);
        assert.deepEqual((await client.user.getDevices(id)).map((d) => d.provider).sort(), ['fitbit', 'oura'], 'devices already recorded stay');

        const again = await sdkError(client.user.deregisterProvider(id, 'fitbit', NO_RETRY), VitalError, 404);
        assert.deepEqual(again.body, { detail: 'Connection not found' });
        const never = await sdkError(client.user.deregisterProvider(id, 'garmin', NO_RETRY), VitalError, 404);
        assert.deepEqual(never.body, { detail: 'Connection not found' });

        // Reconnecting after a deregistration works and keeps the single device.
        await connect(id, 'fitbit');
        assert.deepEqual((await client.user.getConnectedProviders(id)).providers!.map((p) => p.slug).sort(), ['fitbit', 'oura']);
        assert.equal((await client.user.getDevices(id)).length, 2);
      });

      test('any of the 41 provider slugs is accepted (404 when not connected, never 422)', async () => {
        const id = await newUser();
        for (const slug of ['garmin', 'whoop_v2', 'runkeeper', 'manual', 'tandem_source', 'samsung_health', 'google_health']) {
          const r = await call(srv.baseUrl, 'DELETE', `/v2/user/${id}/${slug}`, { key: team.apiKey });
          assert.equal(r.status, 404, `${slug}: ${r.text}`);
          assert.deepEqual(r.body, { detail: 'Connection not found' });
        }
      });

      test('unknown user: 404 "User not found"', async () => {
        const e = await sdkError(client.user.deregisterProvider(UNKNOWN_ID, 'fitbit', NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
      });
    });

    // ---------- U16 / U17 devices ----------

    describe('getDevices / getDevice (U16, U17)', () => {
      test('the demo creates one device per provider, shaped per contract §3.3 and §4.2', async () => {
        const id = await newUser();
        assert.deepEqual(await client.user.getDevices(id), []);
        await connect(id, 'freestyle_libre');
        await connect(id, 'apple_health_kit');
        const list = await client.user.getDevices(id);
        assert.deepEqual(list.map((d) => d.provider), ['freestyle_libre', 'apple_health_kit'], 'ordered by creation');
        for (const d of list) {
          const want = DEMO_EXPECT[d.provider as DemoSlug];
          assert.match(d.id, UUID_RE);
          assert.equal(d.userId, id);
          assert.equal(d.sourceType, want.sourceType);
          assert.equal(d.deviceManufacturer, want.manufacturer);
          assert.equal(d.deviceModel, want.model);
          const one = await client.user.getDevice(id, d.id);
          assert.deepEqual(one, d);
        }
        // Wire form: every nullable key present.
        const raw = await call(srv.baseUrl, 'GET', `/v2/user/${id}/device`, { key: team.apiKey });
        for (const d of raw.body) {
          assert.deepEqual(Object.keys(d).sort(), ['app_id', 'device_id', 'device_manufacturer', 'device_model', 'device_version', 'id', 'provider', 'source_type', 'user_id']);
        }
      });

      test('another user\'s device id and a random uuid are 404 "Device not found"; unknown user 404', async () => {
        const a = await newUser();
        const b = await newUser();
        await connect(a, 'oura');
        const dev = (await client.user.getDevices(a))[0]!;
        const e1 = await sdkError(client.user.getDevice(b, dev.id, NO_RETRY), VitalError, 404);
        assert.deepEqual(e1.body, { detail: 'Device not found' });
        const e2 = await sdkError(client.user.getDevice(a, crypto.randomUUID(), NO_RETRY), VitalError, 404);
        assert.deepEqual(e2.body, { detail: 'Device not found' });
        const e3 = await sdkError(client.user.getDevices(UNKNOWN_ID, NO_RETRY), VitalError, 404);
        assert.deepEqual(e3.body, { detail: 'User not found' });
        const e4 = await sdkError(client.user.getDevice(UNKNOWN_ID, dev.id, NO_RETRY), VitalError, 404);
        assert.deepEqual(e4.body, { detail: 'User not found' });
      });
    });

    // ---------- U15 refresh ----------

    describe('refresh (U15)', () => {
      test('success lists <slug>/<resource> of every connection', async () => {
        const id = await newUser();
        await connect(id, 'fitbit');
        await connect(id, 'freestyle_libre');
        const r = await client.user.refresh(id);
        assert.equal(r.success, true);
        assert.equal(r.userId, id);
        const want = [...DEMO_EXPECT.fitbit.resources.map((x) => `fitbit/${x}`), 'freestyle_libre/glucose'].sort();
        assert.deepEqual([...r.refreshedSources].sort(), want);
        assert.deepEqual(r.inProgressSources, []);
        assert.deepEqual(r.failedSources, []);
        const t = await client.user.refresh(id, { timeout: 5 });
        assert.deepEqual([...t.refreshedSources].sort(), want);
        const t60 = await client.user.refresh(id, { timeout: 60 });
        assert.equal(t60.success, true);
      });

      test('no connections: BadRequestError with the body at the top level', async () => {
        const id = await newUser();
        const e = await sdkError(client.user.refresh(id, {}, NO_RETRY), Vital.BadRequestError, 400);
        assert.deepEqual(e.body, { success: false, user_id: id, error: 'user has no connected sources', failed_sources: [] });
      });

      test('timeout out of range (4, 61): 422 greater_than_equal / less_than_equal on ["query","timeout"]', async () => {
        const id = await newUser();
        await connect(id, 'oura');
        const lo = await sdkError(client.user.refresh(id, { timeout: 4 }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const loD = (lo.body as { detail: { type: string; loc: unknown[]; ctx: { ge: number } }[] }).detail;
        assert.equal(loD.length, 1);
        assert.equal(loD[0]!.type, 'greater_than_equal');
        assert.deepEqual(loD[0]!.loc, ['query', 'timeout']);
        assert.equal(loD[0]!.ctx.ge, 5);
        const hi = await sdkError(client.user.refresh(id, { timeout: 61 }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        const hiD = (hi.body as { detail: { type: string; loc: unknown[]; ctx: { le: number } }[] }).detail;
        assert.equal(hiD[0]!.type, 'less_than_equal');
        assert.deepEqual(hiD[0]!.loc, ['query', 'timeout']);
        assert.equal(hiD[0]!.ctx.le, 60);
      });

      // Our decision (contract U15 is "(inferred, our choice)"): a paused connection cannot pull data,
      // so its resources are reported under failed_sources rather than claimed as refreshed.
      test('a paused connection is reported as failed: its resources in failed_sources, none refreshed', async () => {
        const end = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
        const id = (await client.user.create({ clientUserId: `refresh-paused-${Date.now()}`, ingestionStart: '2020-01-01', ingestionEnd: end })).userId;
        await connect(id, 'oura');
        const r = await client.user.refresh(id);
        assert.equal(r.success, true);
        assert.deepEqual(r.refreshedSources, []);
        assert.deepEqual([...r.failedSources].sort(), DEMO_EXPECT.oura.resources.map((x) => `oura/${x}`).sort());
      });

      test('unknown user 404; deregistering the last connection brings back the 400', async () => {
        const e = await sdkError(client.user.refresh(UNKNOWN_ID, {}, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
        const id = await newUser();
        await connect(id, 'oura');
        assert.equal((await client.user.refresh(id)).success, true);
        await client.user.deregisterProvider(id, 'oura');
        await sdkError(client.user.refresh(id, {}, NO_RETRY), Vital.BadRequestError, 400);
      });
    });

    // ---------- U8 / U5 demographics ----------

    describe('upsertUserInfo / getLatestUserInfo (U8, U5)', () => {
      test('no demographics yet: 404 "User demographics data not found"; unknown user 404 "User not found"', async () => {
        const id = await newUser();
        const e = await sdkError(client.user.getLatestUserInfo(id, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User demographics data not found' });
        const u = await sdkError(client.user.getLatestUserInfo(UNKNOWN_ID, NO_RETRY), VitalError, 404);
        assert.deepEqual(u.body, { detail: 'User not found' });
        const w = await sdkError(client.user.upsertUserInfo(UNKNOWN_ID, sdkDemographics(), NO_RETRY), VitalError, 404);
        assert.deepEqual(w.body, { detail: 'User not found' });
      });

      test('merge: omitted optional fields keep their value, explicit null clears; every version is kept', async () => {
        const id = await newUser();
        const proxy: Vital.GuarantorDetails = { firstName: 'Charles', lastName: 'Babbage', address: { ...SDK_ADDRESS }, phoneNumber: '+44 20 7946 0000', householdIncome: 50000, householdSize: 2, email: 'cb@example.com' };
        // As stored and returned: the address gains access_notes null (passed through by the SDK under its wire name).
        const proxyOut = { ...proxy, address: { ...proxy.address, access_notes: null } as Vital.Address };
        const v1 = await client.user.upsertUserInfo(id, sdkDemographics({ race: 'white_caucasian', ethnicity: 'non_hispanic', sexualOrientation: 'heterosexual_or_straight', genderIdentity: 'female', medicalProxy: proxy }));
        assert.equal(v1.firstName, 'Ada');
        assert.equal(v1.race, 'white_caucasian');
        assert.equal(v1.ethnicity, 'non_hispanic');
        assert.equal(v1.sexualOrientation, 'heterosexual_or_straight');
        assert.equal(v1.genderIdentity, 'female');
        assert.deepEqual(v1.medicalProxy, proxyOut);
        assert.deepEqual(await client.user.getLatestUserInfo(id), v1);

        // Second write: required fields change, optional ones are omitted and so kept.
        const v2 = await client.user.upsertUserInfo(id, sdkDemographics({ firstName: 'Augusta', email: 'augusta@example.com', address: { ...SDK_ADDRESS, city: 'Boston', secondLine: undefined } }));
        assert.equal(v2.firstName, 'Augusta');
        assert.equal(v2.email, 'augusta@example.com');
        assert.equal(v2.address.city, 'Boston');
        assert.equal(v2.race, 'white_caucasian', 'omitted race keeps its value');
        assert.equal(v2.ethnicity, 'non_hispanic');
        assert.equal(v2.sexualOrientation, 'heterosexual_or_straight');
        assert.equal(v2.genderIdentity, 'female');
        assert.deepEqual(v2.medicalProxy, proxyOut);
        assert.deepEqual(await client.user.getLatestUserInfo(id), v2);

        // Third write (raw: the SDK does not let a typed caller send null): null clears.
        const raw = await call(srv.baseUrl, 'PATCH', `/v2/user/${id}/info`, { key: team.apiKey, json: demographicsBody({ first_name: 'Augusta', race: null, medical_proxy: null }) });
        assert.equal(raw.status, 200, raw.text);
        assert.equal(raw.body.race, null, 'null clears race');
        assert.equal(raw.body.medical_proxy, null, 'null clears medical_proxy');
        assert.equal(raw.body.ethnicity, 'non_hispanic', 'omitted ethnicity kept');
        assert.equal(raw.body.gender_identity, 'female');
        assert.deepEqual(raw.body.address, { ...ADDRESS, access_notes: null }, 'address as stored: access_notes null when not given');
        const v3 = await client.user.getLatestUserInfo(id);
        assert.equal(v3.race == null, true);
        assert.equal(v3.medicalProxy == null, true);
        assert.equal(v3.ethnicity, 'non_hispanic');
        assert.equal(v3.firstName, 'Augusta');

        // History: three versions, oldest first, each with who (the key) and when.
        const rows = await tdb.db.kysely.selectFrom('demographics').selectAll().where('team_id', '=', team.teamId).where('user_id', '=', id)
          .orderBy('created_at').orderBy('id').execute();
        assert.equal(rows.length, 3, 'every version is kept');
        const data = rows.map((r) => r.data as unknown as Record<string, any>);
        assert.deepEqual(data.map((d) => d.first_name), ['Ada', 'Augusta', 'Augusta']);
        assert.deepEqual(data.map((d) => d.race), ['white_caucasian', 'white_caucasian', null]);
        assert.deepEqual(data.map((d) => d.medical_proxy === null), [false, false, true]);
        assert.deepEqual(data.map((d) => d.address.city), ['New York', 'Boston', 'New York']);
        for (const r of rows) {
          assert.equal(r.key_id, team.keyId, 'who wrote it');
          assert.ok(r.created_at instanceof Date);
        }
        assert.ok(rows[0]!.created_at.getTime() <= rows[1]!.created_at.getTime() && rows[1]!.created_at.getTime() <= rows[2]!.created_at.getTime());
      });

      test('address normalisation: second_line "" when absent, access_notes null when absent', async () => {
        const id = await newUser();
        const { second_line: _s, ...noSecond } = ADDRESS;
        const r = await call(srv.baseUrl, 'PATCH', `/v2/user/${id}/info`, { key: team.apiKey, json: demographicsBody({ address: noSecond }) });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.address.second_line, '');
        assert.equal(r.body.address.access_notes, null);
        for (const k of ['medical_proxy', 'race', 'ethnicity', 'sexual_orientation', 'gender_identity']) assert.equal(r.body[k], null, `${k} emitted as null`);
        const got = await client.user.getLatestUserInfo(id);
        assert.equal(got.address.secondLine, '');
        assert.equal(got.dob, '1990-12-10');
      });

      test('a soft-deleted user\'s demographics stay readable during the grace period (U5); writes are 404', async () => {
        const id = await newUser();
        await client.user.upsertUserInfo(id, sdkDemographics());
        await client.user.delete(id);
        assert.equal((await client.user.getLatestUserInfo(id)).firstName, 'Ada');
        const e = await sdkError(client.user.upsertUserInfo(id, sdkDemographics(), NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
      });
    });

    // ---------- U6 / U7 insurance ----------

    describe('createInsurance / getLatestInsurance (U6, U7)', () => {
      test('company from the payor table for a known code; unknown code → company.name = the code', async () => {
        const id = await newUser();
        const none = await sdkError(client.user.getLatestInsurance(id, {}, NO_RETRY), VitalError, 404);
        assert.deepEqual(none.body, { detail: 'Insurance not found' });

        const a = await client.user.createInsurance(id, { payorCode: 'AETNA', memberId: 'M-1', groupId: 'G-1', relationship: 'Self', insured: SDK_PERSON, isPrimary: true });
        assert.equal(a.payorCode, 'AETNA');
        assert.equal(a.memberId, 'M-1');
        assert.equal(a.groupId, 'G-1');
        assert.equal(a.relationship, 'Self');
        assert.equal(a.isPrimary, true);
        assert.equal(a.company.name, 'Aetna');
        assert.equal(a.company.address.city, 'Hartford');
        assert.deepEqual({ ...a.insured, address: { ...a.insured.address } }, { ...SDK_PERSON, address: { ...SDK_PERSON.address, access_notes: null } as never });

        const z = await client.user.createInsurance(id, { payorCode: 'ZZ_LOCAL_PLAN', memberId: 'M-2', relationship: 'Spouse', insured: SDK_PERSON, isPrimary: false,
          guarantor: { firstName: 'Alan', lastName: 'Turing', address: { ...SDK_ADDRESS }, phoneNumber: '+44 161 496 0000' } });
        assert.equal(z.company.name, 'ZZ_LOCAL_PLAN', 'unknown codes are named after their code');
        assert.equal(typeof z.company.address.firstLine, 'string');
        assert.equal(z.isPrimary, false);
        assert.equal(z.groupId == null, true);
        assert.equal(z.guarantor?.firstName, 'Alan');

        assert.equal((await client.user.getLatestInsurance(id, { isPrimary: true })).payorCode, 'AETNA');
        assert.equal((await client.user.getLatestInsurance(id, { isPrimary: false })).payorCode, 'ZZ_LOCAL_PLAN');
        assert.equal((await client.user.getLatestInsurance(id)).payorCode, 'AETNA', 'is_primary defaults to true');

        // A newer primary record becomes "latest"; the older one is kept.
        await client.user.createInsurance(id, { payorCode: 'cigna', memberId: 'M-3', relationship: 'Other', insured: SDK_PERSON });
        const latest = await client.user.getLatestInsurance(id, { isPrimary: true });
        assert.equal(latest.memberId, 'M-3');
        assert.equal(latest.company.name, 'Cigna', 'lookup ignores case');
        assert.equal(latest.isPrimary, true, 'is_primary defaults to true on create');
        assert.equal(await countRows('insurances', id), 3);
      });

      test('only primary or only secondary stored: the other flag is 404; unknown user 404', async () => {
        const id = await newUser();
        await client.user.createInsurance(id, { payorCode: 'UHC', memberId: 'M-9', relationship: 'Self', insured: SDK_PERSON, isPrimary: false });
        const e = await sdkError(client.user.getLatestInsurance(id, { isPrimary: true }, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'Insurance not found' });
        const u = await sdkError(client.user.createInsurance(UNKNOWN_ID, { payorCode: 'UHC', memberId: 'M', relationship: 'Self', insured: SDK_PERSON }, NO_RETRY), VitalError, 404);
        assert.deepEqual(u.body, { detail: 'User not found' });
        const g = await sdkError(client.user.getLatestInsurance(UNKNOWN_ID, {}, NO_RETRY), VitalError, 404);
        assert.deepEqual(g.body, { detail: 'User not found' });
      });
    });

    // ---------- U19 portal URL ----------

    describe('createPortalUrl (U19)', () => {
      test('without demographics: 422 with a string detail', async () => {
        const id = await newUser();
        const e = await sdkError(client.user.createPortalUrl(id, { context: 'launch' }, NO_RETRY), Vital.UnprocessableEntityError, 422);
        assert.deepEqual(e.body, { detail: 'User demographics are required to create a portal URL' });
      });

      test('with demographics: launch → url + expires_in 600; communications → short url + 1209600; both open', async () => {
        const id = await newUser();
        await client.user.upsertUserInfo(id, sdkDemographics());
        const l = await client.user.createPortalUrl(id, { context: 'launch' });
        assert.equal(l.expiresIn, 600);
        assert.ok(l.url.startsWith(`${srv.baseUrl}/portal/`), l.url);
        const c = await client.user.createPortalUrl(id, { context: 'communications', orderId: crypto.randomUUID() });
        assert.equal(c.expiresIn, 1_209_600);
        assert.ok(c.url.startsWith(`${srv.baseUrl}/p/`), c.url);
        assert.ok(c.url.length < l.url.length, 'communications links are the short ones');
        for (const u of [l.url, c.url]) {
          const r = await fetch(u);
          assert.equal(r.status, 200);
          assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
          assert.match(await r.text(), /Ada Lovelace/);
        }
        const raw = await call(srv.baseUrl, 'POST', `/v2/user/${id}/create_portal_url`, { key: team.apiKey, json: { context: 'launch' } });
        assert.equal(typeof raw.body.expires_in, 'number');
        assert.deepEqual(Object.keys(raw.body).sort(), ['expires_in', 'url']);
      });

      test('unknown user: 404 "User not found"', async () => {
        const e = await sdkError(client.user.createPortalUrl(UNKNOWN_ID, { context: 'launch' }, NO_RETRY), VitalError, 404);
        assert.deepEqual(e.body, { detail: 'User not found' });
      });
    });

    // ---------- delete / undo ----------

    describe('delete (U12) and undo (U14) with records', () => {
      test('delete drops every connection; undo brings back devices, demographics and insurance but no connection', async () => {
        const id = await newUser();
        await connect(id, 'fitbit');
        await connect(id, 'oura');
        await client.user.upsertUserInfo(id, sdkDemographics());
        await client.user.createInsurance(id, { payorCode: 'AETNA', memberId: 'M-1', relationship: 'Self', insured: SDK_PERSON });
        const devices = await client.user.getDevices(id);
        const info = await client.user.getLatestUserInfo(id);
        const ins = await client.user.getLatestInsurance(id);

        await client.user.delete(id);
        assert.equal(await countRows('connections', id), 0, 'connections dropped at once');
        for (const f of [
          () => client.user.getConnectedProviders(id, NO_RETRY),
          () => client.user.getDevices(id, NO_RETRY),
          () => client.user.refresh(id, {}, NO_RETRY),
          () => client.user.getLatestInsurance(id, {}, NO_RETRY),
          () => client.user.createPortalUrl(id, { context: 'launch' }, NO_RETRY),
          () => client.link.connectDemoProvider({ userId: id, provider: 'oura' }, NO_RETRY),
        ]) {
          const e = await sdkError(f(), VitalError, 404);
          assert.deepEqual(e.body, { detail: 'User not found' });
        }

        await client.user.undoDelete({ userId: id });
        assert.deepEqual((await client.user.getConnectedProviders(id)).providers, [], 'connections are not restored');
        assert.deepEqual((await client.user.get(id)).connectedSources, []);
        await sdkError(client.user.refresh(id, {}, NO_RETRY), Vital.BadRequestError, 400);
        assert.deepEqual(await client.user.getDevices(id), devices, 'devices kept');
        assert.deepEqual(await client.user.getLatestUserInfo(id), info, 'demographics kept');
        assert.deepEqual(await client.user.getLatestInsurance(id), ins, 'insurance kept');

        // The demo can connect again; the device is not duplicated.
        await connect(id, 'fitbit');
        assert.deepEqual((await client.user.getConnectedProviders(id)).providers!.map((p) => p.slug), ['fitbit']);
        assert.equal((await client.user.getDevices(id)).length, 2);
      });
    });
  });
}
