// `roster webhook …` and `roster import --emit-events` as an operator runs them (real processes),
// with a running Roster on the same database delivering to a receiver on 127.0.0.1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { startReceiver, TEST_WEBHOOKS, type Receiver } from '../support/receiver.ts';
import { roster } from '../support/cli.ts';


const lines = (s: string) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);

for (const backend of backends()) {
  describe(`roster webhook and import --emit-events (${backend.name})`, { timeout: 240_000 }, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let rx: Receiver;
    let env: Record<string, string>;
    let team: { teamId: string };
    let endpointId: string;

    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent', webhooks: TEST_WEBHOOKS });
      rx = await startReceiver();
      team = await srv.newTeam('cli-team');
      env = { DATABASE_URL: tdb.url, ROSTER_WEBHOOK_ALLOW_HTTP: '1', ROSTER_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' };
    });
    after(async () => {
      await srv?.close();
      await rx?.close();
      await tdb?.drop();
    });

    test('create, list, rotate, test, recover', async () => {
      const c = await roster(['webhook', 'create', '--team', team.teamId, '--url', rx.url, '--format', 'standard'], env);
      assert.equal(c.code, 0, c.stderr);
      const made = lines(c.stdout)[0]!;
      assert.match(made.secret, /^whsec_/);
      endpointId = made.id;
      const l = await roster(['webhook', 'list', '--team', team.teamId], env);
      assert.equal(l.code, 0, l.stderr);
      assert.deepEqual(lines(l.stdout).map((x) => [x.id, x.url, 'secret' in x]), [[endpointId, rx.url, false]]);
      const r = await roster(['webhook', 'rotate', '--team', team.teamId, '--id', endpointId], env);
      assert.equal(r.code, 0, r.stderr);
      assert.notEqual(lines(r.stdout)[0]!.key, made.secret);
      const t = await roster(['webhook', 'test', '--team', team.teamId, '--id', endpointId], env);
      assert.equal(t.code, 0, t.stderr);
      assert.equal(lines(t.stdout)[0]!.delivered, true);
      assert.equal(rx.received.length, 1);
      const rec = await roster(['webhook', 'recover', '--team', team.teamId, '--id', endpointId, '--since', '2026-01-01T00:00:00Z'], env);
      assert.deepEqual([rec.code, lines(rec.stdout)[0]], [0, { requeued: 0 }]);
      const bad = await roster(['webhook', 'create', '--team', team.teamId, '--url', 'http://10.0.0.1/x', '--format', 'standard'], env);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /WEBHOOK_URL_NOT_ALLOWED/);
      assert.equal(bad.stdout, '');
      const strict = await roster(['webhook', 'create', '--team', team.teamId, '--url', rx.url, '--format', 'standard'], { DATABASE_URL: tdb.url });
      assert.match(strict.stderr, /https/);
    });

    test('roster import sends user.created only with --emit-events', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-wh-'));
      const quiet = path.join(dir, 'quiet.jsonl');
      const loud = path.join(dir, 'loud.jsonl');
      fs.writeFileSync(quiet, ['q-1', 'q-2'].map((c) => JSON.stringify({ client_user_id: c })).join('\n') + '\n');
      fs.writeFileSync(loud, ['l-1', 'l-2', 'l-3'].map((c) => JSON.stringify({ client_user_id: c })).join('\n') + '\n');
      const a = await roster(['import', '--team', team.teamId, quiet, '--no-progress'], env);
      assert.equal(a.code, 0, a.stderr);
      const b = await roster(['import', '--team', team.teamId, loud, '--no-progress', '--emit-events'], env);
      assert.equal(b.code, 0, b.stderr);
      const cids = () => rx.received.map((r) => JSON.parse(r.body)).filter((e) => e.type === 'user.created').map((e) => e.data.client_user_id as string).filter((c) => /^[ql]-/.test(c)).sort();
      await rx.waitFor(() => cids().length >= 3);
      await new Promise((r) => setTimeout(r, 800));
      assert.deepEqual(cids(), ['l-1', 'l-2', 'l-3']);
      const ev = JSON.parse(rx.received.find((r) => r.body.includes('"l-1"'))!.body);
      assert.equal(typeof ev.data.userId, 'number');
    });
  });
}
