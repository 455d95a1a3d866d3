// One user, three views (docs/faces.md): created on one face, read, patched and deleted on the
// others. Every line of the field mapping is exercised here, plus the delete rules, the client id
// of basic users, team isolation across faces, and read-only keys on every face's writes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { call } from '../support/junction-http.ts';
import { facesSuite, type FacesServer, type Team } from './faces-support.ts';

for (const backend of backends()) {
  describe(`cross-face (${backend.name})`, () => {
    let srv: FacesServer;
    let A: Team;
    let B: Team;
    facesSuite(backend, {}, (s) => ({ srv, A, B } = s));
    const j = (m: string, p: string, json?: unknown, key = A.key) => call(srv.baseUrl, m, p, { key, ...(json === undefined ? {} : { json }) });
    const o = (m: string, p: string, json?: unknown, key = A.key) => call(srv.baseUrl, m, `/onvy${p}`, { apiKey: key, ...(json === undefined ? {} : { json }) });
    const b = (m: string, p: string, json?: unknown, key = A.key) => call(srv.baseUrl, m, `/basic${p}`, { bearer: key, ...(json === undefined ? {} : { json }) });
    const basicIdOf = async (clientUserId: string, team = A) => (await srv.built.services.users.getByClientId(team.teamId, clientUserId)).number;

    test('a user made by POST /onvy/users is found by Junction\'s GET /v2/user/resolve/{id}: id = client_user_id, birthday = fallback_birth_date', async () => {
      const made = await o('POST', '/users', { id: 'onvy-1', firstname: 'Ona', birthday: '1985-06-30', tz_offset: -18000 });
      assert.equal(made.status, 201, made.text);
      const r = await j('GET', '/v2/user/resolve/onvy-1');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.client_user_id, 'onvy-1');
      assert.equal(r.body.team_id, A.teamId);
      assert.equal(r.body.fallback_birth_date.value, '1985-06-30');
      assert.equal(r.body.fallback_birth_date.source_slug, 'manual');
      // tz_offset (seconds) is not Junction's IANA zone: they stay separate.
      assert.equal(r.body.fallback_time_zone, null);
      const byId = await j('GET', `/v2/user/${r.body.user_id}`);
      assert.equal(byId.body.client_user_id, 'onvy-1');
      // Another team's Junction cannot resolve it.
      assert.equal((await j('GET', '/v2/user/resolve/onvy-1', undefined, B.key)).status, 404);
    });

    test('a user made by POST /basic/users is listed by Junction\'s GET /v2/user and by GET /onvy/users with the same names', async () => {
      const made = await b('POST', '/users', { firstName: 'Bea', lastName: 'Sic', contactEmail: 'bea@example.com' });
      assert.equal(made.status, 201, made.text);
      const cid = `basic:${made.body.userId}`;
      const jl = await j('GET', '/v2/user?limit=500');
      const ju = jl.body.users.find((u: { client_user_id: string }) => u.client_user_id === cid);
      assert.ok(ju, `Junction lists ${cid}`);
      const ol = await o('GET', '/users?limit=1000');
      const ou = ol.body.users.find((u: { id: string }) => u.id === cid);
      assert.ok(ou, `Onvy lists ${cid}`);
      assert.equal(ou.firstname, 'Bea');
      assert.equal(ou.lastname, 'Sic');
      assert.equal((await j('GET', `/v2/user/resolve/${encodeURIComponent(cid)}`)).body.user_id, ju.user_id);
      assert.equal((await o('GET', `/users/${encodeURIComponent(cid)}`)).body.firstname, 'Bea');
    });

    test('a basic create whose generated name basic:<n> a Junction user already holds gets another name; the holder is untouched', async () => {
      const first = await b('POST', '/users', { firstName: 'Hol', lastName: 'Der', contactEmail: 'holder-0@example.com' });
      assert.equal(first.status, 201, first.text);
      // Numbers come from one sequence, and every user takes one (the three holders take the next
      // three), so the next basic create is numbered first.userId + 4: hold that name and the two after.
      const held = [4, 5, 6].map((d) => `basic:${first.body.userId + d}`);
      const holders: string[] = [];
      for (const cid of held) holders.push((await j('POST', '/v2/user', { client_user_id: cid })).body.user_id as string);
      const made = await b('POST', '/users', { firstName: 'New', lastName: 'Comer', contactEmail: 'newcomer@example.com' });
      assert.equal(made.status, 201, made.text);
      const view = await srv.built.services.users.find(A.teamId, { number: made.body.userId });
      assert.ok(!held.includes(view.user.clientUserId), `got a held name: ${view.user.clientUserId}`);
      assert.match(view.user.clientUserId, new RegExp(`^basic:${made.body.userId}-[0-9a-f]{8}$`), 'its own number was held too: the name gets a random suffix');
      for (const [i, cid] of held.entries()) {
        const r = await j('GET', `/v2/user/resolve/${encodeURIComponent(cid)}`);
        assert.equal(r.body.user_id, holders[i], 'the Junction holder keeps its name');
      }
      assert.equal((await b('GET', `/users/${made.body.userId}`)).body.firstName, 'New');
    });

    test('names: Onvy firstname/lastname = basic firstName/lastName, both ways; e-mail is basic\'s alone', async () => {
      const u = (await b('POST', '/users', { firstName: 'Nia', lastName: 'Name', contactEmail: 'nia@example.com' })).body;
      const cid = `basic:${u.userId}`;
      const p = await o('PATCH', `/users/${encodeURIComponent(cid)}`, { firstname: 'Nina', height: 170 });
      assert.equal(p.status, 200, p.text);
      assert.deepEqual((await b('GET', `/users/${u.userId}`)).body, { ...u, firstName: 'Nina' });
      const bp = await b('PATCH', `/users/${u.userId}`, { lastName: 'Renamed', contactEmail: 'nina@example.com' });
      assert.equal(bp.status, 200);
      const ov = (await o('GET', `/users/${encodeURIComponent(cid)}`)).body;
      assert.equal(ov.lastname, 'Renamed');
      assert.equal(ov.height, 170, 'fields basic does not carry are kept');
      assert.equal('email' in ov || 'contactEmail' in ov, false);
    });

    test('the basic face sees only users with first name, last name and e-mail; they appear once another face fills them in', async () => {
      const u = (await b('POST', '/users', { firstName: 'Vis', lastName: 'Ible', contactEmail: 'vis@example.com' })).body;
      const cid = encodeURIComponent(`basic:${u.userId}`);
      const inList = async () => (await b('GET', '/users?_perPage=100')).body.users.some((x: { userId: number }) => x.userId === u.userId);
      assert.equal(await inList(), true);
      // Onvy clears the first name: invisible to basic (GET, PATCH and DELETE 404, not listed).
      assert.equal((await o('PATCH', `/users/${cid}`, { firstname: null })).status, 200);
      assert.equal((await b('GET', `/users/${u.userId}`)).status, 404);
      assert.equal((await b('PATCH', `/users/${u.userId}`, { firstName: 'Back' })).status, 404);
      assert.equal((await b('DELETE', `/users/${u.userId}`)).status, 404);
      assert.equal(await inList(), false);
      // Onvy PUT without names: still invisible. Then Onvy fills the names in: visible again, same number.
      assert.equal((await o('PUT', `/users/${cid}`, { gender: 'other' })).status, 200);
      assert.equal((await b('GET', `/users/${u.userId}`)).status, 404);
      assert.equal((await o('PATCH', `/users/${cid}`, { firstname: 'Vis', lastname: 'Again' })).status, 200);
      assert.deepEqual((await b('GET', `/users/${u.userId}`)).body, { ...u, lastName: 'Again' });
      assert.equal(await inList(), true);
      // A user made on Onvy or Junction has no e-mail: basic never sees it.
      await o('POST', '/users', { id: 'no-mail', firstname: 'No', lastname: 'Mail' });
      assert.equal((await b('GET', `/users/${await basicIdOf('no-mail')}`)).status, 404);
      await j('POST', '/v2/user', { client_user_id: 'junction-only' });
      assert.equal((await b('GET', `/users/${await basicIdOf('junction-only')}`)).status, 404);
      assert.ok(await basicIdOf('junction-only') > await basicIdOf('no-mail'), 'every user is numbered, whatever face made it');
    });

    test('birthday: Junction PATCH fallback_birth_date shows in Onvy; Onvy PUT without birthday clears Junction\'s', async () => {
      const jc = await j('POST', '/v2/user', { client_user_id: 'jb-1', fallback_birth_date: '1970-01-01', fallback_time_zone: 'Europe/Berlin' });
      assert.equal(jc.status, 200, jc.text);
      assert.equal((await o('GET', '/users/jb-1')).body.birthday, '1970-01-01');
      assert.equal((await j('PATCH', `/v2/user/${jc.body.user_id}`, { fallback_birth_date: '1971-02-03' })).status, 204);
      const ov = (await o('GET', '/users/jb-1')).body;
      assert.equal(ov.birthday, '1971-02-03');
      assert.equal('tz_offset' in ov, false, 'the IANA zone is not turned into an offset');
      assert.equal((await o('PATCH', '/users/jb-1', { birthday: '1972-03-04', tz_offset: 7200 })).status, 200);
      const jv = (await j('GET', `/v2/user/${jc.body.user_id}`)).body;
      assert.equal(jv.fallback_birth_date.value, '1972-03-04');
      assert.equal(jv.fallback_time_zone.id, 'Europe/Berlin', 'tz_offset leaves the IANA zone alone');
      assert.equal((await o('PUT', '/users/jb-1', { firstname: 'P' })).status, 200);
      assert.equal((await j('GET', `/v2/user/${jc.body.user_id}`)).body.fallback_birth_date, null);
    });

    test('Junction renaming client_user_id renames the Onvy id', async () => {
      const jc = await j('POST', '/v2/user', { client_user_id: 'before-rename' });
      assert.equal((await j('PATCH', `/v2/user/${jc.body.user_id}`, { client_user_id: 'after-rename' })).status, 204);
      assert.equal((await o('GET', '/users/before-rename')).status, 404);
      assert.equal((await o('GET', '/users/after-rename')).body.id, 'after-rename');
      // And an Onvy create of a taken Junction id is a conflict.
      assert.equal((await o('POST', '/users', { id: 'after-rename' })).status, 409);
    });

    test('data_syncs follow connections: Onvy PUT connects (Junction shows it), Junction deregister removes it, demo connections show', async () => {
      await o('POST', '/users', { id: 'conn-1' });
      const jid = (await j('GET', '/v2/user/resolve/conn-1')).body.user_id;
      assert.equal((await o('PUT', '/users/conn-1/data_syncs', { provider: 'GARMIN', data_type: 'auth', sync_type: 'historical', status: 'pending' })).status, 200);
      assert.equal((await o('PUT', '/users/conn-1/data_syncs', { provider: 'APPLE', data_type: 'auth', sync_type: 'historical', status: 'failed' })).status, 200);
      const js = (await j('GET', `/v2/user/${jid}`)).body.connected_sources.map((s: { provider: { slug: string } }) => s.provider.slug).sort();
      assert.deepEqual(js, ['apple_health_kit', 'garmin']);
      assert.equal((await j('DELETE', `/v2/user/${jid}/garmin`)).status, 200);
      assert.deepEqual((await o('GET', '/users/conn-1/data_syncs')).body.data_syncs.map((s: { provider: string }) => s.provider), ['APPLE']);
      // A Junction demo connection (sandbox) appears as a derived auth entry.
      const demo = await j('POST', '/v2/link/connect/demo', { user_id: jid, provider: 'oura' });
      assert.equal(demo.status, 200, demo.text);
      const syncs = (await o('GET', '/users/conn-1')).body.data_syncs;
      const oura = syncs.find((s: { provider: string }) => s.provider === 'OURA');
      assert.deepEqual({ ...oura, updated_at: typeof oura.updated_at }, { data_type: 'auth', sync_type: 'historical', provider: 'OURA', status: 'completed', updated_at: 'string' });
      // Onvy disconnect removes the Junction connection.
      assert.equal((await o('DELETE', '/users/conn-1/data_syncs/OURA')).status, 204);
      assert.deepEqual((await j('GET', `/v2/user/${jid}`)).body.connected_sources.map((s: { provider: { slug: string } }) => s.provider.slug), ['apple_health_kit']);
    });

    test('deletes: Junction soft delete hides the user everywhere and undo brings it back (same basic number)', async () => {
      const u = (await b('POST', '/users', { firstName: 'Soft', lastName: 'Del', contactEmail: 'soft@example.com' })).body;
      const cid = `basic:${u.userId}`;
      const jid = (await j('GET', `/v2/user/resolve/${encodeURIComponent(cid)}`)).body.user_id;
      assert.equal((await j('DELETE', `/v2/user/${jid}`)).status, 200);
      assert.equal((await b('GET', `/users/${u.userId}`)).status, 404);
      assert.equal((await o('GET', `/users/${encodeURIComponent(cid)}`)).status, 404);
      assert.equal((await b('PATCH', `/users/${u.userId}`, { firstName: 'x' })).status, 404);
      assert.equal((await o('DELETE', `/users/${encodeURIComponent(cid)}`)).status, 404);
      assert.equal((await j('POST', `/v2/user/undo_delete?user_id=${jid}`)).status, 200);
      assert.deepEqual((await b('GET', `/users/${u.userId}`)).body, u);
      assert.equal((await o('GET', `/users/${encodeURIComponent(cid)}`)).body.firstname, 'Soft');
    });

    test('deletes: basic DELETE and Onvy DELETE are final for every face (no Junction undo)', async () => {
      const u = (await b('POST', '/users', { firstName: 'Hard', lastName: 'Del', contactEmail: 'hard@example.com' })).body;
      const jid = (await j('GET', `/v2/user/resolve/basic:${u.userId}`)).body.user_id;
      assert.equal((await b('DELETE', `/users/${u.userId}`)).status, 204);
      assert.equal((await j('GET', `/v2/user/${jid}`)).status, 404);
      assert.equal((await j('POST', `/v2/user/undo_delete?user_id=${jid}`)).status, 404);
      assert.equal((await o('GET', `/users/basic:${u.userId}`)).status, 404);
      await o('POST', '/users', { id: 'onvy-hard' });
      const oj = (await j('GET', '/v2/user/resolve/onvy-hard')).body.user_id;
      assert.equal((await o('DELETE', '/users/onvy-hard')).status, 204);
      assert.equal((await j('GET', `/v2/user/${oj}`)).status, 404);
      assert.equal((await j('POST', '/v2/user/undo_delete?client_user_id=onvy-hard')).status, 404);
    });

    test('an e-mail freed by a Junction soft delete can be taken; undoing that delete is then refused, never a 500', async () => {
      const u = (await b('POST', '/users', { firstName: 'Mail', lastName: 'One', contactEmail: 'shared@example.com' })).body;
      const jid = (await j('GET', `/v2/user/resolve/basic:${u.userId}`)).body.user_id;
      assert.equal((await j('DELETE', `/v2/user/${jid}`)).status, 200);
      assert.equal((await b('POST', '/users', { firstName: 'Mail', lastName: 'Two', contactEmail: 'SHARED@example.com' })).status, 201);
      const undo = await j('POST', `/v2/user/undo_delete?user_id=${jid}`);
      assert.ok(undo.status >= 400 && undo.status < 500, undo.text);
    });

    test('uniqueness holds within a team, never across: Onvy id and basic contactEmail', async () => {
      for (const t of [A, B]) {
        assert.equal((await o('POST', '/users', { id: 'same-everywhere' }, t.key)).status, 201);
        assert.equal((await b('POST', '/users', { firstName: 'S', lastName: 'E', contactEmail: 'same@everywhere.example' }, t.key)).status, 201);
      }
      assert.equal((await o('POST', '/users', { id: 'same-everywhere' }, B.key)).status, 409);
      assert.equal((await b('POST', '/users', { firstName: 'S', lastName: 'E', contactEmail: 'Same@Everywhere.example' }, B.key)).status, 400);
    });

    test('isolation: no route of any face reaches another team\'s user', async () => {
      const u = (await b('POST', '/users', { firstName: 'Iso', lastName: 'Lated', contactEmail: 'iso@example.com' })).body;
      const cid = encodeURIComponent(`basic:${u.userId}`);
      const jid = (await j('GET', `/v2/user/resolve/${cid}`)).body.user_id;
      const K = B.key;
      const probes: [string, Promise<{ status: number; body: any }>][] = [
        ['j get', j('GET', `/v2/user/${jid}`, undefined, K)],
        ['j resolve', j('GET', `/v2/user/resolve/${cid}`, undefined, K)],
        ['j patch', j('PATCH', `/v2/user/${jid}`, { fallback_birth_date: '2000-01-01' }, K)],
        ['j delete', j('DELETE', `/v2/user/${jid}`, undefined, K)],
        ['o get', o('GET', `/users/${cid}`, undefined, K)],
        ['o put', o('PUT', `/users/${cid}`, {}, K)],
        ['o patch', o('PATCH', `/users/${cid}`, { firstname: 'x' }, K)],
        ['o delete', o('DELETE', `/users/${cid}`, undefined, K)],
        ['o syncs', o('GET', `/users/${cid}/data_syncs`, undefined, K)],
        ['o put sync', o('PUT', `/users/${cid}/data_syncs`, { provider: 'GARMIN', data_type: 'auth', sync_type: 'live', status: 'pending' }, K)],
        ['o del sync', o('DELETE', `/users/${cid}/data_syncs/GARMIN`, undefined, K)],
      ];
      for (const [name, p] of probes) assert.equal((await p).status, 404, name);
      // Basic numbers are per team: B's number u.userId (if any) is B's own user, never A's.
      for (const m of ['GET', 'PATCH', 'DELETE']) {
        const r = await b(m, `/users/${u.userId}`, m === 'PATCH' ? { firstName: 'x' } : undefined, K);
        assert.ok(r.status === 404 || (r.status < 300 && r.body?.contactEmail !== 'iso@example.com'), `${m} ${r.status}`);
      }
      assert.ok(!(await o('GET', '/users?limit=1000', undefined, K)).body.users.some((x: { id: string; firstname?: string }) => x.id === `basic:${u.userId}` && x.firstname === 'Iso'));
      assert.ok(!(await j('GET', '/v2/user?limit=500', undefined, K)).body.users.some((x: { user_id: string }) => x.user_id === jid));
      // Untouched.
      assert.deepEqual((await b('GET', `/users/${u.userId}`)).body, u);
    });

    test('read-only keys: 403 on every write of every face (Junction included), reads work', async () => {
      const ro = A.readOnlyKey;
      const uuid = '00000000-0000-4000-8000-000000000000';
      const junctionWrites: [string, string][] = [
        ['POST', '/v2/user'], ['PATCH', `/v2/user/${uuid}`], ['DELETE', `/v2/user/${uuid}`], ['POST', '/v2/user/undo_delete'],
        ['DELETE', `/v2/user/${uuid}/garmin`], ['PATCH', `/v2/user/${uuid}/info`], ['POST', '/v2/link/connect/demo'],
        ['POST', `/v2/user/${uuid}/create_portal_url`], ['POST', `/v2/user/${uuid}/insurance`], ['POST', `/v2/user/${uuid}/sign_in_token`],
        ['POST', `/v2/user/refresh/${uuid}`],
      ];
      for (const [m, p] of junctionWrites) {
        const r = await j(m, p, { client_user_id: 'ro-attempt' }, ro);
        assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
        assert.deepEqual(r.body, { detail: 'This API key is read-only' });
      }
      assert.equal((await j('GET', '/v2/user', undefined, ro)).status, 200);
      assert.equal((await j('GET', '/v2/user/resolve/ro-attempt', undefined, ro)).status, 404);
      for (const [m, p] of [['POST', '/users'], ['PUT', '/users/x'], ['PATCH', '/users/x'], ['DELETE', '/users/x'], ['PUT', '/users/x/data_syncs'], ['DELETE', '/users/x/data_syncs/GARMIN']]) {
        assert.equal((await o(m!, p!, {}, ro)).status, 403, `onvy ${m} ${p}`);
      }
      for (const [m, p] of [['POST', '/users'], ['PATCH', '/users/1'], ['DELETE', '/users/1']]) {
        assert.equal((await b(m!, p!, {}, ro)).status, 403, `basic ${m} ${p}`);
      }
      assert.equal((await o('GET', '/users', undefined, ro)).status, 200);
      assert.equal((await b('GET', '/users', undefined, ro)).status, 200);
    });
  });

  describe(`face prefixes are configurable (${backend.name})`, () => {
    let srv: FacesServer;
    facesSuite(backend, { onvyPrefix: '/api/onvy/v1', basicPrefix: '/todo' }, (s) => ({ srv } = s));

    test('the faces answer under the configured prefixes and not under the defaults', async () => {
      const t = await srv.newTeam();
      const made = await call(srv.baseUrl, 'POST', '/todo/users', { bearer: t.key, json: { firstName: 'P', lastName: 'X', contactEmail: 'p@example.com' } });
      assert.equal(made.status, 201, made.text);
      assert.equal(made.headers.get('location'), `/todo/users/${made.body.userId}`);
      const o = await call(srv.baseUrl, 'GET', `/api/onvy/v1/users/basic:${made.body.userId}`, { apiKey: t.key });
      assert.equal(o.body.firstname, 'P');
      assert.equal((await call(srv.baseUrl, 'GET', '/onvy/users', { apiKey: t.key })).status, 404);
      assert.equal((await call(srv.baseUrl, 'GET', '/basic/users', { bearer: t.key })).status, 404);
      const unknown = await call(srv.baseUrl, 'GET', '/api/onvy/v1/nope', { apiKey: t.key });
      assert.equal(unknown.body.error.code, 'NotFound');
    });
  });
}
