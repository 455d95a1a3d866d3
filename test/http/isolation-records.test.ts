// Team isolation of the per-user records: with its own valid key, team B cannot read or change
// team A's connections, devices, demographics or insurance, cannot refresh A's users, cannot
// connect demo providers to them and cannot make portal links for them. Every attempt is the same
// 404 an unknown id gets, carries none of A's data, and leaves A's state exactly as it was.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { call } from '../support/junction-http.ts';
import { UNKNOWN_ID, demographicsBody, insuranceBody, rawError } from '../support/records.ts';

for (const backend of backends()) {
  describe(`Team isolation of connections, devices, demographics, insurance, refresh, portal (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let keyA: string;
    let keyB: string;
    let userA: string;
    let deviceA: string;
    let userB: string;

    const asA = (method: string, path: string, json?: unknown) => call(srv.baseUrl, method, path, { key: keyA, ...(json !== undefined ? { json } : {}) });
    const asB = (method: string, path: string, json?: unknown) => call(srv.baseUrl, method, path, { key: keyB, ...(json !== undefined ? { json } : {}) });

    /** Everything A can see about its user, plus the raw row counts behind it. */
    async function snapshotA() {
      const count = async (table: 'connections' | 'devices' | 'demographics' | 'insurances' | 'portal_links') =>
        Number((await tdb.db.kysely.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userA).executeTakeFirstOrThrow()).n);
      const get = async (path: string) => {
        const r = await asA('GET', path);
        assert.equal(r.status, 200, `${path}: ${r.text}`);
        return r.body;
      };
      return {
        user: await get(`/v2/user/${userA}`),
        providers: await get(`/v2/user/providers/${userA}`),
        devices: await get(`/v2/user/${userA}/device`),
        device: await get(`/v2/user/${userA}/device/${deviceA}`),
        info: await get(`/v2/user/${userA}/info/latest`),
        insurance: await get(`/v2/user/${userA}/insurance/latest`),
        secondary: await get(`/v2/user/${userA}/insurance/latest?is_primary=false`),
        metrics: await get('/v2/user/metrics'),
        rows: {
          connections: await count('connections'),
          devices: await count('devices'),
          demographics: await count('demographics'),
          insurances: await count('insurances'),
          portal_links: await count('portal_links'),
        },
      };
    }

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      keyA = (await srv.newTeam('team-a')).apiKey;
      keyB = (await srv.newTeam('team-b')).apiKey;
      userA = (await asA('POST', '/v2/user', { client_user_id: 'shared-client-id' })).body.user_id;
      // B holds a user with the same client id: ids are per team.
      userB = (await asB('POST', '/v2/user', { client_user_id: 'shared-client-id' })).body.user_id;
      for (const provider of ['fitbit', 'oura']) assert.equal((await asA('POST', '/v2/link/connect/demo', { user_id: userA, provider })).status, 200);
      deviceA = (await asA('GET', `/v2/user/${userA}/device`)).body[0].id;
      assert.equal((await asA('PATCH', `/v2/user/${userA}/info`, demographicsBody({ first_name: 'Alice', last_name: 'Anderson', email: 'alice@a.example' }))).status, 200);
      assert.equal((await asA('POST', `/v2/user/${userA}/insurance`, insuranceBody({ member_id: 'A-PRIMARY' }))).status, 200);
      assert.equal((await asA('POST', `/v2/user/${userA}/insurance`, insuranceBody({ member_id: 'A-SECONDARY', is_primary: false }))).status, 200);
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('every route answers B with the unknown-id 404, shows none of A\'s data and changes nothing', async () => {
      const before = await snapshotA();
      assert.equal(before.providers.providers.length, 2);
      assert.equal(before.rows.portal_links, 0);
      const secrets = ['Alice', 'Anderson', 'alice@a.example', 'A-PRIMARY', 'A-SECONDARY', deviceA, 'fitbit', 'oura', 'Charge 6'];

      const attempts: [string, string, unknown?][] = [
        ['GET', `/v2/user/providers/${userA}`],
        ['DELETE', `/v2/user/${userA}/fitbit`],
        ['DELETE', `/v2/user/${userA}/oura`],
        ['GET', `/v2/user/${userA}/device`],
        ['GET', `/v2/user/${userA}/device/${deviceA}`],
        ['GET', `/v2/user/${userA}/info/latest`],
        ['PATCH', `/v2/user/${userA}/info`, demographicsBody({ first_name: 'Mallory' })],
        ['POST', `/v2/user/${userA}/insurance`, insuranceBody({ member_id: 'B-WAS-HERE' })],
        ['GET', `/v2/user/${userA}/insurance/latest`],
        ['GET', `/v2/user/${userA}/insurance/latest?is_primary=false`],
        ['POST', `/v2/user/refresh/${userA}`],
        ['POST', '/v2/link/connect/demo', { user_id: userA, provider: 'apple_health_kit' }],
        ['POST', '/v2/link/connect/demo', { user_id: userA, provider: 'fitbit' }],
        ['POST', `/v2/user/${userA}/create_portal_url`, { context: 'launch' }],
        ['POST', `/v2/user/${userA}/create_portal_url`, { context: 'communications' }],
      ];
      for (const [method, path, json] of attempts) {
        const r = await asB(method, path, json);
        // The same answer as for an id that exists nowhere.
        const unknown = await asB(method, path.replace(userA, UNKNOWN_ID), json && typeof json === 'object' && 'user_id' in json ? { ...json, user_id: UNKNOWN_ID } : json);
        assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
        assert.deepEqual(rawError(r, 404), 'User not found', `${method} ${path}`);
        assert.deepEqual(r.body, unknown.body, `${method} ${path} looks like an unknown id`);
        for (const s of secrets) assert.ok(!r.text.includes(s), `${method} ${path} leaks ${s}`);
      }

      // B's own user cannot reach A's device by id.
      const dev = await asB('GET', `/v2/user/${userB}/device/${deviceA}`);
      assert.equal(rawError(dev, 404), 'Device not found');
      assert.ok(!dev.text.includes('Fitbit') && !dev.text.includes('Charge 6'));
      // B's views show nothing of A.
      assert.deepEqual((await asB('GET', `/v2/user/providers/${userB}`)).body, { providers: [] });
      assert.deepEqual((await asB('GET', `/v2/user/${userB}/device`)).body, []);
      const list = await asB('GET', '/v2/user');
      assert.deepEqual(list.body.users.map((u: { user_id: string }) => u.user_id), [userB]);
      const metricsB = (await asB('GET', '/v2/user/metrics')).body;
      assert.equal(metricsB.number_of_users, 1);
      assert.equal(metricsB.number_of_connected_sources, 0);
      assert.deepEqual(metricsB.number_of_connected_sources_by_week, []);

      assert.deepEqual(await snapshotA(), before, 'A\'s state is unchanged');
    });

    test('B\'s refresh attempts on A\'s user do not use up A\'s refresh allowance', async () => {
      for (let i = 0; i < 9; i++) {
        const r = await asB('POST', `/v2/user/refresh/${userA}`);
        assert.ok(r.status === 404 || r.status === 429, `${r.status} ${r.text}`);
        assert.ok(!r.text.includes('fitbit'));
      }
      const r = await asA('POST', `/v2/user/refresh/${userA}`);
      assert.equal(r.status, 200, r.text);
      assert.ok(r.body.refreshed_sources.includes('fitbit/sleep'));
    });

    test('a portal link made by A opens A\'s page only; B has no way to make one for A\'s user', async () => {
      const made = await asA('POST', `/v2/user/${userA}/create_portal_url`, { context: 'launch' });
      assert.equal(made.status, 200, made.text);
      const page = await fetch(made.body.url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /Alice Anderson/);
      // B's user has no demographics, so B can make no link at all: 422, and none for A.
      assert.equal(rawError(await asB('POST', `/v2/user/${userB}/create_portal_url`, { context: 'launch' }), 422), 'User demographics are required to create a portal URL');
      assert.equal(rawError(await asB('POST', `/v2/user/${userA}/create_portal_url`, { context: 'launch' }), 404), 'User not found');
    });

    test('after A deletes its user, B still gets the same 404s (no "scheduled for deletion" hint)', async () => {
      const id = (await asA('POST', '/v2/user', { client_user_id: 'a-doomed' })).body.user_id;
      assert.equal((await asA('PATCH', `/v2/user/${id}/info`, demographicsBody())).status, 200);
      assert.equal((await asA('DELETE', `/v2/user/${id}`)).status, 200);
      for (const [method, path, json] of [
        ['GET', `/v2/user/${id}/info/latest`],
        ['GET', `/v2/user/providers/${id}`],
        ['GET', `/v2/user/${id}/device`],
        ['POST', `/v2/user/${id}/create_portal_url`, { context: 'launch' }],
      ] as [string, string, unknown?][]) {
        const r = await asB(method, path, json);
        assert.equal(rawError(r, 404), 'User not found', `${method} ${path}`);
      }
      // A itself can still read the demographics during the grace period (U5).
      assert.equal((await asA('GET', `/v2/user/${id}/info/latest`)).status, 200);
    });
  });
}
