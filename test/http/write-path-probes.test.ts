// Two defects of the old write path (issue 11, docs: the review's "two probes"), kept fixed:
//  - an id PostgreSQL cannot store (NUL) in a path, under an Idempotency-Key, answered 503 (the
//    write path had its own copy of the audit insert, without the NUL scrub) where the same request
//    without the key answers 404;
//  - the audit action's face was read from the URL's first segment, so with the Onvy face at
//    /api/onvy its creates were audited as `api.createUser`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { call } from '../support/junction-http.ts';
import { facesSuite, type FacesServer, type Team } from './faces-support.ts';

for (const backend of backends()) {
  describe(`write path probes (${backend.name})`, () => {
    describe('a NUL in an Onvy id, with and without Idempotency-Key', () => {
      let srv: FacesServer;
      let A: Team;
      facesSuite(backend, {}, (s) => { srv = s.srv; A = s.A; });

      test('both answer 404, and so does the retry under the same key', async () => {
        const plain = await call(srv.baseUrl, 'DELETE', '/onvy/users/a%00b', { apiKey: A.key });
        assert.equal(plain.status, 404, plain.text);
        const keyed = await call(srv.baseUrl, 'DELETE', '/onvy/users/a%00b', { apiKey: A.key, headers: { 'idempotency-key': 'probe-1' } });
        assert.equal(keyed.status, 404, keyed.text);
        assert.deepEqual(keyed.body, plain.body);
        const again = await call(srv.baseUrl, 'DELETE', '/onvy/users/a%00b', { apiKey: A.key, headers: { 'idempotency-key': 'probe-1' } });
        assert.equal(again.status, 404, again.text);
        assert.equal(again.headers.get('idempotent-replayed'), 'true', 'the 404 was remembered under the key');
        await srv.built.services.audit.flush();
        const entries = await srv.built.services.audit.list({ teamId: A.teamId, limit: 10 });
        assert.deepEqual(entries.map((e) => [e.action, e.status, e.userId]), [['onvy.deleteUser', 404, null], ['onvy.deleteUser', 404, null]], 'both audited, the id PostgreSQL cannot store as null');
      });
    });

    describe('the audit action under a custom Onvy prefix', () => {
      let srv: FacesServer;
      let A: Team;
      facesSuite(backend, { onvyPrefix: '/api/onvy', basicPrefix: '/api/basic' }, (s) => { srv = s.srv; A = s.A; });

      test('creates on each face are audited as <face>.<operationId>, with and without Idempotency-Key', async () => {
        const o = await call(srv.baseUrl, 'POST', '/api/onvy/users', { apiKey: A.key, json: { id: 'p1' } });
        assert.equal(o.status, 201, o.text);
        const k = await call(srv.baseUrl, 'POST', '/api/onvy/users', { apiKey: A.key, json: { id: 'p2' }, headers: { 'idempotency-key': 'probe-2' } });
        assert.equal(k.status, 201, k.text);
        const b = await call(srv.baseUrl, 'POST', '/api/basic/users', { bearer: A.key, json: { firstName: 'Ada', lastName: 'L', contactEmail: 'ada@example.com' } });
        assert.equal(b.status, 201, b.text);
        const j = await call(srv.baseUrl, 'POST', '/v2/user', { key: A.key, json: { client_user_id: 'p3' } });
        assert.equal(j.status, 200, j.text);
        await srv.built.services.audit.flush();
        const actions = (await srv.built.services.audit.list({ teamId: A.teamId, limit: 10 })).map((e) => e.action).sort();
        assert.deepEqual(actions, ['basic.postNewUser', 'junction.createUser', 'onvy.createUser', 'onvy.createUser']);
        assert.equal((await srv.built.services.audit.list({ teamId: A.teamId, action: 'onvy.createUser', limit: 10 })).length, 2);
      });
    });
  });
}
