// docs/webhooks.md: its event catalogue is the code's, and its example receiver
// (docs/examples/webhook-receiver.mjs, run as a real process) verifies what a real Roster sends in
// each format and refuses a tampered request.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { catalogueMarkdown } from '../../src/domain/webhooks/catalogue-doc.ts';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { adminClient, eventually, TEST_WEBHOOKS } from '../support/receiver.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = 'admin-token-for-webhook-docs';

describe('docs/webhooks.md', () => {
  test('the event catalogue in the document is the one in the code (node --import tsx scripts/webhook-docs.ts)', () => {
    const doc = fs.readFileSync(`${root}/docs/webhooks.md`, 'utf8');
    const m = /<!-- catalogue:start[^>]*-->\n([\s\S]*)\n<!-- catalogue:end -->/.exec(doc);
    assert.ok(m, 'catalogue markers');
    assert.equal(m[1], catalogueMarkdown());
  });
  test('every setting the document lists is read by src/config.ts', () => {
    const doc = fs.readFileSync(`${root}/docs/webhooks.md`, 'utf8');
    const cfg = fs.readFileSync(`${root}/src/config.ts`, 'utf8');
    const names = [...new Set(doc.match(/ROSTER_(?:OPERATIONAL_)?WEBHOOK_[A-Z_]+/g))];
    assert.ok(names.length >= 8);
    for (const n of names) assert.ok(cfg.includes(`'${n}'`) || cfg.includes(`.${n}`), n);
  });
});

for (const backend of backends()) {
  describe(`the example receiver verifies every format (${backend.name})`, { timeout: 120_000 }, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let child: ChildProcess;
    let out = '';
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const secrets = { junction: `whsec_${Buffer.alloc(24, 7).toString('base64')}`, standard: `whsec_${Buffer.alloc(32, 9).toString('base64')}`, onvy: 'onvy-receiver-secret-42' };
    const logged = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent', adminToken: ADMIN, webhooks: TEST_WEBHOOKS });
      child = spawn(process.execPath, ['docs/examples/webhook-receiver.mjs'], {
        cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', PORT: String(port), JUNCTION_SECRET: secrets.junction, STANDARD_SECRET: secrets.standard, ONVY_SECRET: secrets.onvy },
      });
      child.stdout!.on('data', (d) => { out += d; });
      child.stderr!.on('data', (d) => { out += d; });
      await eventually(async () => logged().some((l) => l.listening), 'the receiver listening');
    });
    after(async () => {
      child?.kill('SIGKILL');
      await srv?.close();
      await tdb?.drop();
    });

    test('junction (demo connection), standard and onvy (user created) arrive verified; a tampered request does not', async () => {
      const admin = adminClient(srv.baseUrl, ADMIN);
      const team = await srv.newTeam();
      const base = `http://127.0.0.1:${port}`;
      for (const [format, extra] of [['junction', {}], ['standard', {}], ['onvy', { filter_types: ['users:created'] }]] as const) {
        const r = await admin('POST', `/teams/${team.teamId}/webhooks`, { url: `${base}/${format}`, format, secret: secrets[format], ...extra });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      const h = { 'x-vital-api-key': team.apiKey, 'content-type': 'application/json' };
      const u = await (await fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: h, body: JSON.stringify({ client_user_id: 'docs-1' }) })).json() as { user_id: string };
      assert.equal((await fetch(`${srv.baseUrl}/v2/link/connect/demo`, { method: 'POST', headers: h, body: JSON.stringify({ user_id: u.user_id, provider: 'oura' }) })).status, 200);
      const types = () => logged().filter((l) => l.verified).map((l) => `${l.route} ${l.type}`);
      await eventually(async () => ['/junction provider.connection.created', '/standard user.created', '/onvy users:created'].every((t) => types().includes(t)), `verified events (${out})`);
      const tampered = await fetch(`${base}/junction`, { method: 'POST', headers: { 'svix-id': 'msg_x', 'svix-timestamp': String(Math.floor(Date.now() / 1000)), 'svix-signature': 'v1,AAAA' }, body: '{}' });
      assert.equal(tampered.status, 400);
      await eventually(async () => logged().some((l) => l.verified === false), 'the refusal logged');
    });
  });
}
