// S2: `roster keys rotate-signing` and `roster keys rotate-portal` as an operator runs them (a real
// process against DATABASE_URL), while a server keeps running on the same database: tokens and
// links made before keep verifying through the grace period; the new key and secret take over.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { buildApp, type BuiltApp } from '../../src/app.ts';
import { call } from '../support/junction-http.ts';
import { demographicsBody } from '../support/records.ts';
import { roster } from '../support/cli.ts';



for (const backend of backends()) {
  describe(`roster keys (${backend.name})`, () => {
    let tdb: TestDatabase;
    let built: BuiltApp;
    let base: string;
    before(async () => {
      tdb = await freshDatabase(backend);
      // A short key cache so the server picks the CLI's rotation up within the test.
      built = await buildApp({ db: tdb.db, databaseUrl: tdb.url, logLevel: 'silent', authTokens: { keyCacheMs: 200 } });
      base = await built.app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(async () => {
      await built?.close();
      await tdb?.drop();
    });

    test('rotate-signing and rotate-portal with a grace period; bad arguments are refused', async () => {
      const t = await built.services.teams.createTeam('keys-cli', 'sandbox');
      const u = (await call(base, 'POST', '/v2/user', { key: t.apiKey, json: { client_user_id: 'cli-1' } })).body.user_id as string;
      assert.equal((await call(base, 'PATCH', `/v2/user/${u}/info`, { key: t.apiKey, json: demographicsBody() })).status, 200);
      const signIn = async () => JSON.parse(Buffer.from((await call(base, 'POST', `/v2/user/${u}/sign_in_token`, { key: t.apiKey })).body.sign_in_token, 'base64').toString()).user_token as string;
      const kidOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid as string;
      const oldToken = await signIn();
      const oldLink = new URL((await call(base, 'POST', `/v2/user/${u}/create_portal_url`, { key: t.apiKey, json: { context: 'launch' } })).body.url).pathname;

      const rs = await roster(['keys', 'rotate-signing', '--grace', '3600'], { DATABASE_URL: tdb.url });
      assert.equal(rs.code, 0, rs.stderr);
      const out = JSON.parse(rs.stdout) as { kid: string; retiring: string[]; retire_at: string };
      assert.deepEqual(out.retiring, [kidOf(oldToken)]);
      assert.ok(Date.parse(out.retire_at) > Date.now() + 3500_000);
      const rp = await roster(['keys', 'rotate-portal', '--grace', '0'], { DATABASE_URL: tdb.url });
      assert.equal(rp.code, 0, rp.stderr);
      assert.equal((JSON.parse(rp.stdout) as { retiring: number }).retiring, 1);

      // The running server: the old sign-in token still exchanges (grace), the new key signs once
      // loaded everywhere (cache 200 ms); the portal secret was retired at once (grace 0).
      await new Promise((r) => setTimeout(r, 1200));
      const ex = await call(base, 'POST', '/auth/v1/token', { raw: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: oldToken, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(ex.status, 200, ex.text);
      assert.equal(kidOf(await signIn()), out.kid);
      assert.equal((await call(base, 'GET', oldLink)).status, 403);
      const newLink = new URL((await call(base, 'POST', `/v2/user/${u}/create_portal_url`, { key: t.apiKey, json: { context: 'launch' } })).body.url).pathname;
      assert.equal((await call(base, 'GET', newLink)).status, 200);

      for (const args of [['keys', 'rotate-signing', '--grace', '-1'], ['keys', 'rotate-portal', '--grace', 'soon']]) {
        const r = await roster(args, { DATABASE_URL: tdb.url });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /--grace must be a whole number of seconds/);
        assert.equal(r.stdout, '');
      }
      const short = await roster(['keys', 'rotate-signing'], { DATABASE_URL: tdb.url, ROSTER_SECRET_KEY: 'short' });
      assert.notEqual(short.code, 0);
      assert.match(short.stderr, /ROSTER_SECRET_KEY must be at least 32 characters/);
    });
  });
}
