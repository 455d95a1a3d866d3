// Security review C6 (one user, one refresh bucket, whatever the id's spelling), C7 (insurance.insured
// stores only the contract's fields; a NUL anywhere in a body is the face's validation error, never a
// 500, and nothing of it reaches a log), C13 (nesting depth bounded: 413, never 500) and C14 (Onvy
// error fields name only the contract's fields).
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { backends } from '../support/backends.ts';
import { facesSuite, type FacesSuite } from './faces-support.ts';
import { call } from '../support/junction-http.ts';
import { insuranceBody } from '../support/records.ts';

for (const backend of backends()) {
  describe(`body safety (C6, C7, C13, C14) (${backend.name})`, () => {
    let s: FacesSuite;
    let log = '';
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => { log += c.toString(); });
    facesSuite(backend, { logLevel: 'info', logStream: stream }, (x) => { s = x; });
    let userId = '';
    before(async () => {
      const u = await call(s.srv.baseUrl, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: `body-safety-${Date.now()}` } });
      assert.equal(u.status, 200, u.text);
      userId = u.body.user_id;
    });

    test('C7: unknown keys in insurance.insured are a 422 (extra_forbidden); nothing stored', async () => {
      const body = insuranceBody();
      const insured = { ...(body.insured as Record<string, unknown>), ssn: '123-45-6789', notes: 'ANYTHING' };
      const r = await call(s.srv.baseUrl, 'POST', `/v2/user/${userId}/insurance`, { key: s.A.key, json: { ...body, insured } });
      assert.equal(r.status, 422, r.text);
      assert.deepEqual(r.body.detail.map((e: { type: string; loc: unknown[] }) => [e.type, e.loc]), [['extra_forbidden', ['body', 'insured', 'ssn']], ['extra_forbidden', ['body', 'insured', 'notes']]]);
      const proto = await call(s.srv.baseUrl, 'POST', `/v2/user/${userId}/insurance`, { key: s.A.key, raw: JSON.stringify({ ...body }).replace('"insured":{', '"insured":{"__proto__":{"polluted":"yes"},'), headers: { 'content-type': 'application/json' } });
      assert.equal(proto.status, 422, proto.text);
      assert.deepEqual(proto.body.detail[0].loc, ['body', 'insured', '__proto__']);
      const ok = await call(s.srv.baseUrl, 'POST', `/v2/user/${userId}/insurance`, { key: s.A.key, json: body });
      assert.equal(ok.status, 200, ok.text);
      const stored = await s.tdb.db.pool.query(`select data->'insured' as i from insurances where user_id = $1`, [userId]);
      for (const row of stored.rows) assert.deepEqual(Object.keys(row.i).sort(), ['address', 'dob', 'email', 'first_name', 'gender', 'last_name', 'phone_number']);
    });

    test('C7: a NUL anywhere in a body is the face\'s validation error, never a 500; nothing of it is logged', async () => {
      const secret = 'PatientNameBeforeNul';
      const j = await call(s.srv.baseUrl, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: `nul-${Date.now()}`, ignored_by_junction: `${secret}\u0000` } });
      assert.equal(j.status, 422, j.text);
      assert.deepEqual(j.body.detail[0].loc, ['body', 'ignored_by_junction']);
      const k = await call(s.srv.baseUrl, 'PATCH', `/v2/user/${userId}`, { key: s.A.key, json: { [`${secret}\u0000`]: 1 } });
      assert.equal(k.status, 422, k.text);
      const o = await call(s.srv.baseUrl, 'POST', '/onvy/users', { apiKey: s.A.key, json: { id: `nul-o-${Date.now()}`, firstname: `${secret}\u0000` } });
      assert.equal(o.status, 422, o.text);
      assert.equal(o.body.error.code, 'ValidationError');
      const b = await call(s.srv.baseUrl, 'POST', '/basic/users', { bearer: s.A.key, json: { firstName: 'A', lastName: 'B', contactEmail: 'nul@example.com', extra: `${secret}\u0000` } });
      assert.ok(b.status === 400 || b.status === 422, b.text);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(!log.includes(secret), 'nothing of the body reaches the log');
      assert.ok(!/"level":50/.test(log), 'no error-level line');
    });

    test('C13: 100,000 levels of nesting: 413 on every face, never 500', async () => {
      const deep = `{"client_user_id":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const h = { 'content-type': 'application/json', 'idempotency-key': `deep-${Date.now()}` };
      const j = await call(s.srv.baseUrl, 'POST', '/v2/user', { key: s.A.key, raw: deep, headers: h });
      assert.equal(j.status, 413, j.text);
      const u = await call(s.srv.baseUrl, 'POST', `/v2/user/undo_delete?user_id=${userId}`, { key: s.A.key, raw: deep, headers: { ...h, 'idempotency-key': `deep-u-${Date.now()}` } });
      assert.equal(u.status, 413, u.text);
      const o = await call(s.srv.baseUrl, 'POST', '/onvy/users', { apiKey: s.A.key, raw: deep, headers: h });
      assert.equal(o.status, 413, o.text);
      const b = await call(s.srv.baseUrl, 'POST', '/basic/users', { bearer: s.A.key, raw: deep, headers: h });
      assert.ok(b.status === 400 || b.status === 413, b.text);
      // 64 levels are fine (the bound is well above any contract body).
      const ok = await call(s.srv.baseUrl, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: `d-${Date.now()}`, x: JSON.parse(`${'['.repeat(60)}${']'.repeat(60)}`) } });
      assert.equal(ok.status, 200, ok.text);
    });

    test('C14: Onvy error fields are the sent keys, never a prototype lookup', async () => {
      const id = `c14-${Date.now()}`;
      assert.equal((await call(s.srv.baseUrl, 'POST', '/onvy/users', { apiKey: s.A.key, json: { id } })).status, 201);
      const r = await call(s.srv.baseUrl, 'PATCH', `/onvy/users/${id}`, { apiKey: s.A.key, json: { constructor: 1, toString: 2 } });
      assert.equal(r.status, 422, r.text);
      const fields = r.body.error.details.map((d: { field: string }) => d.field).sort();
      assert.deepEqual(fields, ['constructor', 'toString']);
    });

    test('C6: the 32-hex spelling of a user id shares the refresh bucket (8 per hour in all)', async () => {
      const simple = userId.replace(/-/g, '');
      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) {
        const r = await call(s.srv.baseUrl, 'POST', `/v2/user/refresh/${i % 2 ? simple : userId}`, { key: s.A.key });
        statuses.push(r.status);
      }
      assert.equal(statuses.filter((x) => x === 429).length, 1, JSON.stringify(statuses));
      assert.equal(statuses[8], 429);
    });
  });
}
