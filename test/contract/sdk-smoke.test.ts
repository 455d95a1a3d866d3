// Smoke: the official Junction SDK against Roster on each backend.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VitalClient } from '@tryvital/vital-node';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';

for (const backend of backends()) {
  describe(`SDK smoke (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let client: VitalClient;
    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb);
      const t = await srv.newTeam();
      client = new VitalClient({ apiKey: t.apiKey, baseUrl: srv.baseUrl });
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('create, get, resolve', async () => {
      const created = await client.user.create({ clientUserId: 'smoke-1' });
      assert.equal(created.clientUserId, 'smoke-1');
      const got = await client.user.get(created.userId);
      assert.equal(got.userId, created.userId);
      assert.deepEqual(got.connectedSources, []);
      const resolved = await client.user.getByClientUserId('smoke-1');
      assert.equal(resolved.userId, created.userId);
    });
  });
}
