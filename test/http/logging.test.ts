// Structured logs (issue 7 item 3): one JSON line per request that a log shipper can parse, with
// the request id, method, route pattern, status and time — and never the API key, a request body,
// a name, an e-mail, a birth date, a client_user_id or a token. Driven through every face with
// demographics, a sign-in token and its exchange, and error paths that echo input back.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';

const ADMIN_TOKEN = 'admin-token-logging-0123456789';

for (const backend of backends()) {
  describe(`request logs (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    const secrets: string[] = [];
    const requests: string[] = [];
    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { adminToken: ADMIN_TOKEN, logLevel: 'info' });
      const { apiKey } = await srv.newTeam('log-team');
      secrets.push(apiKey, ADMIN_TOKEN);
      const J = { 'x-vital-api-key': apiKey, 'content-type': 'application/json' };
      const send = async (path: string, init: RequestInit) => {
        const r = await fetch(`${srv.baseUrl}${path}`, init);
        const text = await r.text();
        requests.push(`${init.method ?? 'GET'} ${path} ${r.status}`);
        return { status: r.status, body: text ? JSON.parse(text) : undefined };
      };

      const cid = 'patient-Zq81-clientid@example.org';
      secrets.push(cid);
      const created = await send('/v2/user', { method: 'POST', headers: J, body: JSON.stringify({ client_user_id: cid, fallback_birth_date: '1971-03-14', fallback_time_zone: 'Europe/Vilnius' }) });
      assert.equal(created.status, 200);
      const userId = created.body.user_id as string;
      secrets.push('1971-03-14');

      const info = {
        first_name: 'Wilhelmina', last_name: 'Quartermaine', email: 'wilhelmina.q@example.net', phone_number: '+14155550123',
        gender: 'female', dob: '1968-11-02',
        address: { first_line: '42 Larkspur Lane', country: 'US', zip: '94110', city: 'Sanfrancisco', state: 'CA' },
      };
      secrets.push('Wilhelmina', 'Quartermaine', 'wilhelmina.q@example.net', '+14155550123', '1968-11-02', 'Larkspur');
      assert.equal((await send(`/v2/user/${userId}/info`, { method: 'PATCH', headers: J, body: JSON.stringify(info) })).status, 200);
      assert.equal((await send(`/v2/user/${userId}/info/latest`, { headers: J })).status, 200);
      // Errors that echo input back in their bodies: invalid e-mail (422), duplicate client_user_id (400/409).
      assert.equal((await send(`/v2/user/${userId}/info`, { method: 'PATCH', headers: J, body: JSON.stringify({ ...info, email: 'not-an-email-Xyzzy' }) })).status, 422);
      secrets.push('not-an-email-Xyzzy');
      const dup = await send('/v2/user', { method: 'POST', headers: J, body: JSON.stringify({ client_user_id: cid }) });
      assert.ok(dup.status >= 400, `duplicate → ${dup.status}`);
      assert.equal((await send(`/v2/user/resolve/${encodeURIComponent(cid)}`, { headers: J })).status, 200);
      assert.equal((await send(`/v2/user/undo_delete?client_user_id=${encodeURIComponent(cid)}`, { method: 'POST', headers: J })).status >= 400, true);
      // A wrong key that looks like a real one.
      secrets.push('sk_rst_WrongKeyButSecretLooking0123');
      assert.equal((await send('/v2/user', { headers: { 'x-vital-api-key': 'sk_rst_WrongKeyButSecretLooking0123' } })).status, 401);

      // Sign-in token, its exchange, a refresh.
      const sit = await send(`/v2/user/${userId}/sign_in_token`, { method: 'POST', headers: { 'x-vital-api-key': apiKey } });
      assert.equal(sit.status, 200);
      const signInToken = sit.body.sign_in_token as string;
      const inner = JSON.parse(Buffer.from(signInToken, 'base64').toString('utf8')) as { user_token: string; public_key: string };
      secrets.push(signInToken, inner.user_token);
      const form = (p: Record<string, string>) => send('/auth/v1/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(p).toString() });
      const ex = await form({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: signInToken, subject_token_type: 'urn:junction:sign-in-token' });
      assert.equal(ex.status, 200);
      secrets.push(ex.body.access_token, ex.body.refresh_token);
      const rf = await form({ grant_type: 'refresh_token', refresh_token: ex.body.refresh_token });
      assert.equal(rf.status, 200);
      secrets.push(rf.body.access_token, rf.body.refresh_token);
      assert.equal((await form({ grant_type: 'refresh_token', refresh_token: ex.body.refresh_token })).status >= 400, true);

      // Onvy and basic faces with names, e-mails, birthdays.
      const onvy = await send('/onvy/users', { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'onvy-Hx9-person', firstname: 'Ottoline', lastname: 'Fairweather', birthday: '1990-07-21' }) });
      assert.equal(onvy.status, 201);
      secrets.push('onvy-Hx9-person', 'Ottoline', 'Fairweather', '1990-07-21');
      const basic = await send('/basic/users', { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ firstName: 'Barnaby', lastName: 'Ravenscroft', contactEmail: 'barnaby.r@example.com' }) });
      assert.equal(basic.status, 201);
      secrets.push('Barnaby', 'Ravenscroft', 'barnaby.r@example.com');
      assert.equal((await send('/basic/users', { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ firstName: 'Barnaby', lastName: 'Ravenscroft', contactEmail: 'bad-mail-Qwerty' }) })).status, 400);
      secrets.push('bad-mail-Qwerty');

      // Admin: creating a team hands out a key (in the body): it must not reach the log either.
      const team = await send('/admin/teams', { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Team-Name-Secretish' }) });
      assert.equal(team.status, 201);
      secrets.push(team.body.api_key, 'Team-Name-Secretish');
      await new Promise((r) => setTimeout(r, 50));
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('every line is one JSON object; one request line per request with id, route, status, time', () => {
      const lines = srv.logs.flatMap((chunk) => chunk.split('\n').filter(Boolean));
      const parsed = lines.map((l) => {
        try { return JSON.parse(l) as Record<string, unknown>; } catch { assert.fail(`not JSON: ${l}`); }
      });
      for (const o of parsed) {
        assert.equal(typeof o.level, 'number');
        assert.equal(typeof o.time, 'number');
        assert.equal(typeof o.msg, 'string');
      }
      const reqLines = parsed.filter((o) => o.msg === 'request');
      assert.equal(reqLines.length, requests.length, `${reqLines.length} request lines for ${requests.length} requests`);
      for (const o of reqLines) {
        assert.deepEqual(Object.keys(o).filter((k) => !['level', 'time', 'pid', 'hostname', 'msg', 'team'].includes(k)).sort(), ['method', 'ms', 'reqId', 'route', 'status']);
        assert.equal(typeof o.reqId, 'string');
        assert.equal(typeof o.status, 'number');
        assert.equal(typeof o.ms, 'number');
        // The route pattern, not the URL: no ids, no query strings.
        assert.ok(o.route === null || (typeof o.route === 'string' && !o.route.includes('?') && !/[0-9a-f]{8}-[0-9a-f]{4}/.test(o.route)), String(o.route));
      }
      assert.deepEqual(reqLines.map((o) => `${o.method} ${o.status}`), requests.map((r) => { const p = r.split(' '); return `${p[0]} ${p[2]}`; }));
    });

    test('no key, token, body, name, e-mail, birth date or client_user_id in any line', () => {
      const all = srv.logs.join('');
      assert.ok(secrets.length > 25);
      for (const s of secrets) {
        assert.ok(s && !all.includes(s), `the logs hold ${s.slice(0, 12)}…`);
        // Nor a recognisable piece of a long secret (keys, tokens).
        if (s.length >= 40) assert.ok(!all.includes(s.slice(8, 32)), `the logs hold part of ${s.slice(0, 12)}…`);
      }
      assert.doesNotMatch(all, /"(body|headers|authorization|x-vital-api-key|url|query)"\s*:/i);
    });
  });
}
