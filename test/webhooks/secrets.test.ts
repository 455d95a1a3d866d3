// Webhook signing secrets at rest (contract §5): with ROSTER_SECRET_KEY, endpoint secrets and the
// old secrets of a rotation's grace period are sealed with AES-256-GCM (src/store/secret-box.ts):
// plaintext rows are sealed at start, the stored columns no longer hold the secret, deliveries
// still verify with `svix` and `standardwebhooks`, reveal and rotation still work, and a wrong or
// missing key stops the start. Also: an instance with ROSTER_WEBHOOK_WORKER=0 records and never sends.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { backends, freshDatabase } from '../support/backends.ts';
import { startServer } from '../support/server.ts';
import { adminClient, startReceiver, TEST_WEBHOOKS, type Received } from '../support/receiver.ts';

const ADMIN = 'admin-token-for-webhook-tests';
const SECRET_KEY = 'webhook-secrets-at-rest-test-key-0123456789';
const hdrs = (r: Received, p: 'svix' | 'webhook') => Object.fromEntries(['id', 'timestamp', 'signature'].map((k) => [`${p}-${k}`, String(r.headers[`${p}-${k}`])]));

for (const backend of backends()) {
  describe(`webhook secrets at rest (${backend.name})`, { timeout: 120_000 }, () => {
    test('sealed at start with ROSTER_SECRET_KEY; deliveries verify, reveal and rotate work; a wrong or missing key stops the start', async () => {
      const tdb = await freshDatabase(backend);
      const rxJ = await startReceiver();
      const rxS = await startReceiver();
      try {
        const stored = async () => (await sql<{ id: string; secret: string; old_secrets: { secret: string }[] }>`select id, secret, old_secrets from webhook_endpoints order by created_at`.execute(tdb.db.kysely)).rows;
        // Before the key: registered and rotated, stored in plaintext.
        const plain = await startServer(tdb, { logLevel: 'silent', adminToken: ADMIN, webhooks: TEST_WEBHOOKS });
        const t = await plain.newTeam();
        let admin = adminClient(plain.baseUrl, ADMIN);
        const j = (await admin('POST', `/teams/${t.teamId}/webhooks`, { url: rxJ.url, format: 'junction', filter_types: ['user.created'] })).body;
        const s = (await admin('POST', `/teams/${t.teamId}/webhooks`, { url: rxS.url, format: 'standard' })).body;
        const oldStd = s.secret as string;
        const newStd = (await admin('POST', `/teams/${t.teamId}/webhooks/${s.id}/secret/rotate`, { grace_period_seconds: 3600 })).body.key as string;
        await plain.close();
        const before = await stored();
        assert.equal(before[0]!.secret, j.secret);
        assert.equal(before[1]!.old_secrets[0]!.secret, oldStd);

        // An instance that only serves (ROSTER_WEBHOOK_WORKER=0) records events and sends nothing;
        // it seals the stored secrets at its start like any other.
        const serving = await startServer(tdb, { logLevel: 'silent', adminToken: ADMIN, webhooks: { ...TEST_WEBHOOKS, worker: false }, secretKey: SECRET_KEY });
        try {
          const r = await fetch(`${serving.baseUrl}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': t.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: 'served-only' }) });
          assert.equal(r.status, 200);
          await new Promise((res) => setTimeout(res, 1000));
          assert.equal(rxJ.received.length + rxS.received.length, 0);
          assert.equal((await sql`select 1 from webhook_events where fanned_out_at is null`.execute(tdb.db.kysely)).rows.length, 1);
        } finally { await serving.close(); }

        // With the key: every stored secret is sealed (here: at the serving instance's start).
        const sealed = await startServer(tdb, { logLevel: 'silent', adminToken: ADMIN, webhooks: TEST_WEBHOOKS, secretKey: SECRET_KEY });
        try {
          admin = adminClient(sealed.baseUrl, ADMIN);
          const rows = await stored();
          const raw = JSON.stringify(rows);
          for (const secret of [j.secret, oldStd, newStd]) assert.ok(!raw.includes(secret) && !raw.includes(secret.replace(/^whsec_/, '')), 'no stored column holds a secret');
          assert.ok(rows.every((r) => r.secret.startsWith('enc:v1:') && r.old_secrets.every((o) => o.secret.startsWith('enc:v1:'))));

          // The event the serving instance recorded is delivered by this one's dispatcher; deliveries
          // are signed with the secrets as they were, and verify with the real verifiers.
          const r = await fetch(`${sealed.baseUrl}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': t.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: 'sealed-1' }) });
          assert.equal(r.status, 200);
          await rxJ.waitFor((all) => all.length === 2);
          await rxS.waitFor((all) => all.length === 2);
          for (const got of rxJ.received) assert.doesNotThrow(() => new SvixWebhook(j.secret).verify(got.body, hdrs(got, 'svix')));
          assert.deepEqual(rxJ.received.map((x) => JSON.parse(x.body).data.client_user_id).sort(), ['sealed-1', 'served-only']);
          for (const got of rxS.received) {
            assert.doesNotThrow(() => new StandardWebhook(newStd).verify(got.body, hdrs(got, 'webhook')));
            assert.doesNotThrow(() => new StandardWebhook(oldStd).verify(got.body, hdrs(got, 'webhook')), 'the old secret still signs in its grace period');
          }

          // Reveal and rotation work; what rotation stores is sealed too.
          assert.equal((await admin('GET', `/teams/${t.teamId}/webhooks/${j.id}/secret`)).body.key, j.secret);
          const rotated = (await admin('POST', `/teams/${t.teamId}/webhooks/${j.id}/secret/rotate`, { grace_period_seconds: 0 })).body.key as string;
          assert.equal((await admin('GET', `/teams/${t.teamId}/webhooks/${j.id}/secret`)).body.key, rotated);
          const test = await admin('POST', `/teams/${t.teamId}/webhooks/${j.id}/test`, { event_type: 'user.created' });
          assert.equal(test.body.delivered, true);
          const got = rxJ.received.at(-1)!;
          assert.doesNotThrow(() => new SvixWebhook(rotated).verify(got.body, hdrs(got, 'svix')));
          assert.throws(() => new SvixWebhook(j.secret).verify(got.body, hdrs(got, 'svix')), 'no grace: the old secret no longer signs');
          // A new endpoint is stored sealed from the start.
          const n = (await admin('POST', `/teams/${t.teamId}/webhooks`, { url: rxS.url, format: 'onvy', filter_types: ['users:created'], secret: 'onvy-secret-at-rest-0123' })).body;
          const after = JSON.stringify(await stored());
          for (const secret of [rotated, 'onvy-secret-at-rest-0123']) assert.ok(!after.includes(secret));
          assert.equal((await admin('GET', `/teams/${t.teamId}/webhooks/${n.id}/secret`)).body.key, 'onvy-secret-at-rest-0123');
          // A plaintext onvy secret may not look sealed.
          assert.equal((await admin('POST', `/teams/${t.teamId}/webhooks`, { url: rxS.url, format: 'onvy', filter_types: ['users:created'], secret: 'enc:v1:0123456789abcdef' })).body.error.code, 'SECRET_INVALID');
        } finally { await sealed.close(); }

        await assert.rejects(startServer(tdb, { logLevel: 'silent', webhooks: TEST_WEBHOOKS, secretKey: 'w'.repeat(40) }),
          (e: Error) => e.name === 'SecretKeyError' && /webhook endpoint .* another ROSTER_SECRET_KEY/.test(e.message) && !e.message.includes(SECRET_KEY));
        await assert.rejects(startServer(tdb, { logLevel: 'silent', webhooks: TEST_WEBHOOKS }),
          (e: Error) => e.name === 'SecretKeyError' && /webhook endpoint .*ROSTER_SECRET_KEY is not set/.test(e.message));
      } finally {
        await rxJ.close();
        await rxS.close();
        await tdb.drop();
      }
    });
  });
}
