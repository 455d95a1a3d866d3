// Storage exhaustion (issue 15, "Full disk, part 2") on both backends: PostgreSQL refusing writes with
// SQLSTATE 53100 (disk_full; raised here by a trigger, as a full disk raises it: the real full disk
// is test/reliability/full-disk.test.ts) is a 503 with Retry-After in each face's own shape, never a
// 500; it is counted in /metrics; /readyz answers 503 until a write goes through again; nothing
// refused is stored.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { facesSuite, type FacesSuite } from './faces-support.ts';
import { call } from '../support/junction-http.ts';

for (const backend of backends()) {
  describe(`a full disk answers 503, not 500 (${backend.name})`, () => {
    let s: FacesSuite;
    facesSuite(backend, {}, (x) => { s = x; });

    test('each face: 503 + Retry-After in its shape; /readyz 503 until a write succeeds; metric; nothing refused stored', async () => {
      const q = (text: string) => s.tdb.db.pool.query(text);
      await q('create table t_diskfull_on (x int)');
      await q(`create function t_diskfull() returns trigger language plpgsql as $$
        begin
          if exists (select 1 from t_diskfull_on) then
            raise exception 'could not extend file "base/16384/16385": No space left on device' using errcode = '53100';
          end if;
          return new;
        end $$`);
      await q('create trigger t_diskfull before insert or update on users for each row execute function t_diskfull()');
      const base = s.srv.baseUrl;
      assert.equal((await call(base, 'GET', '/readyz')).status, 200);
      await q('insert into t_diskfull_on values (1)');

      const j = await call(base, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: 'diskfull-j' } });
      assert.equal(j.status, 503, j.text);
      assert.equal(typeof j.body.detail, 'string');
      const ji = await call(base, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: 'diskfull-ji' }, headers: { 'idempotency-key': 'diskfull-ji' } });
      assert.equal(ji.status, 503, ji.text);
      const o = await call(base, 'POST', '/onvy/users', { apiKey: s.A.key, json: { id: 'diskfull-o' } });
      assert.equal(o.status, 503, o.text);
      assert.equal(o.body.error.code, 'ServiceUnavailable');
      const b = await call(base, 'POST', '/basic/users', { bearer: s.A.key, json: { firstName: 'Disk', lastName: 'Full', contactEmail: 'diskfull@example.com' } });
      assert.equal(b.status, 503, b.text);
      assert.equal(b.body.code, 'SERVICE_UNAVAILABLE');
      for (const r of [j, ji, o, b]) assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After');

      const ready = await call(base, 'GET', '/readyz');
      assert.equal(ready.status, 503, 'readyz tells the truth while the database cannot write');
      const m = await (await fetch(`${base}/metrics`)).text();
      assert.ok(Number(/^roster_db_storage_exhausted_total\{sqlstate="53100"\} (\d+)/m.exec(m)?.[1]) >= 4, m.split('\n').filter((l) => l.includes('storage')).join('\n'));

      // Space is back: the next write goes through, and readyz follows.
      await q('delete from t_diskfull_on');
      const again = await call(base, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: 'diskfull-after' } });
      assert.equal(again.status, 200, again.text);
      assert.equal((await call(base, 'GET', '/readyz')).status, 200);
      const stored = await q(`select client_user_id from users where client_user_id like 'diskfull-%' order by 1`);
      assert.deepEqual(stored.rows.map((r: { client_user_id: string }) => r.client_user_id), ['diskfull-after'], 'nothing refused was stored');
      // The idempotency key of the refused request was not kept as an answer: the same request now succeeds.
      const retried = await call(base, 'POST', '/v2/user', { key: s.A.key, json: { client_user_id: 'diskfull-ji' }, headers: { 'idempotency-key': 'diskfull-ji' } });
      assert.equal(retried.status, 200, retried.text);
    });
  });
}
