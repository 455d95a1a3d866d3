// The sweep of expired idempotency keys (src/store/idempotency.ts), run hourly by the server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { purgeExpiredIdempotencyKeys } from '../../src/store/idempotency.ts';

for (const backend of backends()) {
  describe(`idempotency key purge (${backend.name})`, () => {
    let tdb: TestDatabase;
    before(async () => { tdb = await freshDatabase(backend); });
    after(async () => { await tdb?.drop(); });

    const now = new Date('2026-06-01T12:00:00Z');
    const at = (h: number) => new Date(now.getTime() + h * 3_600_000);
    const row = (team: string, key: string, expiresInH: number) => ({
      team_id: team, key, fingerprint: Buffer.from('f'), response_status: 200, response_headers: null,
      response_body: '{"token":"secret"}', created_at: at(expiresInH - 24), expires_at: at(expiresInH),
    });
    const keys = async () => (await tdb.db.kysely.selectFrom('idempotency_keys').select(['team_id', 'key']).orderBy('key').execute()).map((r) => r.key);

    test('deletes every expired key in batches, keeps live ones, skips a row another transaction holds', async () => {
      const t1 = '00000000-0000-7000-8000-000000000001';
      const t2 = '00000000-0000-7000-8000-000000000002';
      await tdb.db.kysely.insertInto('idempotency_keys').values([
        row(t1, 'a-expired', -5), row(t1, 'b-expired', -1), row(t2, 'c-expired', -30), row(t2, 'd-expired', 0),
        row(t1, 'e-held', -2), row(t1, 'f-live', 1), row(t2, 'g-live', 23),
      ]).execute();

      // A write path in flight holds e-held's row (as a replayed-key check would).
      const trx = await tdb.db.kysely.startTransaction().execute();
      await sql`select 1 from idempotency_keys where key = 'e-held' for update`.execute(trx);
      try {
        assert.equal(await purgeExpiredIdempotencyKeys(tdb.db.kysely, now, 2), 4, 'four expired rows (expires_at <= now), in batches of 2');
        assert.deepEqual(await keys(), ['e-held', 'f-live', 'g-live']);
      } finally {
        await trx.rollback().execute();
      }
      assert.equal(await purgeExpiredIdempotencyKeys(tdb.db.kysely, now, 2), 1, 'the held row goes on the next sweep');
      assert.deepEqual(await keys(), ['f-live', 'g-live']);
      assert.equal(await purgeExpiredIdempotencyKeys(tdb.db.kysely, now), 0);
    });
  });
}
