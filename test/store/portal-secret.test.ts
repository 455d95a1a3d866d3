// S3: the portal secret is created outside the request's transaction, so what an instance caches
// is what every other instance reads, even when the request that first needed it rolls back.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { PgPortalRepo } from '../../src/store/portal.ts';

for (const backend of backends()) {
  describe(`portal secret (${backend.name})`, () => {
    let tdb: TestDatabase;
    before(async () => { tdb = await freshDatabase(backend); });
    after(async () => { await tdb?.drop(); });

    test('first use inside a request transaction that rolls back: the cached secret is the committed one', async () => {
      const root = tdb.db.kysely;
      let repo: PgPortalRepo | null = null;
      let seen: Buffer | null = null;
      await assert.rejects(root.transaction().execute(async (tx) => {
        repo = new PgPortalRepo(tx, root);
        seen = (await repo.secrets()).sign;
        throw new Error('the request fails after signing a link');
      }), /the request fails/);
      const rows = await root.selectFrom('server_secrets').select('value').where('name', 'like', 'portal_signing_v1%').execute();
      assert.equal(rows.length, 1, 'the secret outlives the rolled-back request');
      assert.deepEqual(seen, rows[0]!.value);
      // Another instance (a fresh repository) signs with the same secret.
      assert.deepEqual((await new PgPortalRepo(root, root).secrets()).sign, seen);
      assert.deepEqual((await repo!.secrets()).sign, seen);
    });
  });
}
