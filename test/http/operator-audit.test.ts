// Security review C11: admin actions on teams, keys and limits are in the audit trail (who: the admin
// token, as the `admin.` prefix; what; when). CLI actions (`cli.`) are tested in test/cli/cli.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.ts';
import { facesSuite, type FacesSuite } from './faces-support.ts';
import { call } from '../support/junction-http.ts';

const ADMIN = 'admin-token-0123456789abcdef';

for (const backend of backends()) {
  describe(`admin actions are audited (C11) (${backend.name})`, () => {
    let s: FacesSuite;
    facesSuite(backend, { adminToken: ADMIN }, (x) => { s = x; });

    test('create team, create key, set limit, revoke key: four admin.* entries with the team, key and time', async () => {
      const base = s.srv.baseUrl;
      const t = await call(base, 'POST', '/admin/teams', { bearer: ADMIN, json: { name: 'audited' } });
      assert.equal(t.status, 201, t.text);
      const k = await call(base, 'POST', `/admin/teams/${t.body.team_id}/keys`, { bearer: ADMIN, json: { role: 'read_only' } });
      assert.equal(k.status, 201, k.text);
      assert.equal((await call(base, 'PATCH', `/admin/teams/${t.body.team_id}`, { bearer: ADMIN, json: { rate_limit_per_minute: 50 } })).status, 200);
      assert.equal((await call(base, 'DELETE', `/admin/keys/${k.body.key_id}`, { bearer: ADMIN })).status, 204);
      await s.srv.built.services.audit.flush();
      const a = await call(base, 'GET', `/admin/audit?team_id=${t.body.team_id}`, { bearer: ADMIN });
      assert.equal(a.status, 200, a.text);
      const got = a.body.events.map((e: { action: string; key_id: string | null; status: number }) => [e.action, e.key_id, e.status]).sort();
      assert.deepEqual(got, [
        ['admin.createKey', k.body.key_id, 201],
        ['admin.createTeam', t.body.key_id, 201],
        ['admin.revokeKey', k.body.key_id, 204],
        ['admin.setTeamRateLimit', null, 200],
      ].sort());
      for (const e of a.body.events) assert.ok(Date.now() - Date.parse(e.at) < 60_000);
    });
  });
}
