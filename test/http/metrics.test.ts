// GET /metrics (issue 7 item 3): Prometheus text with request counts and latency histograms by
// route pattern and status, the pg pool, the team-size distribution (no ids or PHI as label
// values) and process metrics; open by default, Bearer ROSTER_METRICS_TOKEN when set.
// Security review C5: an open scrape shows no platform-wide counts and reads no user row; with the
// token, the registry's sizes come from one aggregate per ROSTER_METRICS_REFRESH_S, not per scrape.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { buildApp } from '../../src/app.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { createDb, type Db } from '../../src/db/pool.ts';

/** A Db over `url` that counts the statements reading the users table (every connection's queries). */
function countingDb(url: string): { db: Db; usersQueries: () => number } {
  const db = createDb({ url, max: 4 });
  let n = 0;
  db.pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      const text = typeof a[0] === 'string' ? a[0] : (a[0] as { text?: string } | undefined)?.text ?? '';
      if (/\bfrom\s+users\b/i.test(text)) n++;
      return query(...a);
    };
  });
  return { db, usersQueries: () => n };
}

const quiet = () => new Writable({ write(_c, _e, cb) { cb(); } });

interface Sample { name: string; labels: Record<string, string>; value: number }

/** Prometheus text exposition → samples (HELP/TYPE lines skipped). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const find = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
const one = (s: Sample[], name: string, labels: Record<string, string> = {}) => {
  const f = find(s, name, labels);
  assert.equal(f.length, 1, `${name} ${JSON.stringify(labels)}: ${f.length} samples`);
  return f[0]!.value;
};

for (const backend of backends()) {
  describe(`GET /metrics (${backend.name})`, () => {
    let tdb: TestDatabase;
    let srv: TestServer;
    let a: { teamId: string; apiKey: string };
    let b: { teamId: string; apiKey: string };
    const userIds: string[] = [];
    before(async () => {
      tdb = await freshDatabase(backend);
      srv = await startServer(tdb, { logLevel: 'silent' });
      a = await srv.newTeam('metrics-a');
      b = await srv.newTeam('metrics-b');
      await srv.newTeam('metrics-empty');
      await srv.newTeam('metrics-prod', 'production');
      const create = async (key: string, cid: string) => {
        const r = await fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: cid }) });
        assert.equal(r.status, 200);
        userIds.push(((await r.json()) as { user_id: string }).user_id);
      };
      for (let i = 0; i < 12; i++) await create(a.apiKey, `metrics-a-${i}`);
      await create(b.apiKey, 'metrics-b-0');
      // One deleted user: not live, not counted.
      await create(b.apiKey, 'metrics-b-gone');
      assert.equal((await fetch(`${srv.baseUrl}/v2/user/${userIds.at(-1)}`, { method: 'DELETE', headers: { 'x-vital-api-key': b.apiKey } })).status, 200);
      // Traffic to count: a 200, three 404s on one route pattern, an unmatched path.
      assert.equal((await fetch(`${srv.baseUrl}/v2/user`, { headers: { 'x-vital-api-key': a.apiKey } })).status, 200);
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${srv.baseUrl}/v2/user/0190b7a4-0000-7000-8000-00000000000${i}`, { headers: { 'x-vital-api-key': a.apiKey } });
        assert.equal(r.status, 404);
      }
      assert.equal((await fetch(`${srv.baseUrl}/no/such/path/secret-looking-123`)).status, 404);
    });
    after(async () => {
      await srv?.close();
      await tdb?.drop();
    });

    test('Prometheus text; request counts and latency by route pattern and status', async () => {
      const r = await fetch(`${srv.baseUrl}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await r.text();
      const s = parse(text);
      assert.match(text, /# TYPE roster_http_requests_total counter/);
      assert.match(text, /# TYPE roster_http_request_duration_seconds histogram/);

      assert.equal(one(s, 'roster_http_requests_total', { method: 'GET', route: '/v2/user', status: '200' }), 1);
      assert.equal(one(s, 'roster_http_requests_total', { method: 'POST', route: '/v2/user', status: '200' }), 14);
      assert.equal(one(s, 'roster_http_requests_total', { method: 'GET', route: '/v2/user/:user_id', status: '404' }), 3);
      assert.equal(one(s, 'roster_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' }), 1);
      assert.equal(one(s, 'roster_http_request_duration_seconds_count', { method: 'GET', route: '/v2/user/:user_id', status: '404' }), 3);
      assert.equal(one(s, 'roster_http_request_duration_seconds_bucket', { method: 'GET', route: '/v2/user/:user_id', status: '404', le: '+Inf' }), 3);
      assert.ok(one(s, 'roster_http_request_duration_seconds_sum', { method: 'POST', route: '/v2/user', status: '200' }) > 0);

      // Route patterns only: never a raw URL, an id, a key or a client_user_id.
      for (const x of find(s, 'roster_http_requests_total')) assert.ok(x.labels.route === '(unmatched)' || !/[0-9a-f]{8}-[0-9a-f]{4}-/.test(x.labels.route!), x.labels.route);
      for (const secret of [...userIds, a.teamId, b.teamId, a.apiKey, b.apiKey, 'metrics-a-0', 'secret-looking-123', '0190b7a4-0000']) {
        assert.ok(!text.includes(secret), `metrics output holds ${secret}`);
      }
    });

    test('database pool and process metrics; an open scrape shows no platform-wide counts and reads no user row (C5)', async () => {
      const counted = countingDb(tdb.url);
      const built = await buildApp({ db: counted.db, databaseUrl: tdb.url, logLevel: 'silent', logStream: quiet(), metricsToken: null });
      const base = await built.app.listen({ port: 0, host: '127.0.0.1' });
      try {
        let s: Sample[] = [];
        for (let i = 0; i < 5; i++) s = parse(await (await fetch(`${base}/metrics`)).text());
        assert.equal(counted.usersQueries(), 0, 'no statement over the users table per open scrape');
        for (const name of ['roster_users_live', 'roster_teams', 'roster_teams_by_size', 'roster_registry_snapshot_age_seconds']) assert.equal(find(s, name).length, 0, name);

        const total = one(s, 'roster_db_pool_connections', { pool: 'primary' });
        const idle = one(s, 'roster_db_pool_idle_connections', { pool: 'primary' });
        assert.ok(total >= 1 && idle <= total, `total ${total} idle ${idle}`);
        assert.equal(one(s, 'roster_db_pool_waiting_requests', { pool: 'primary' }), 0);
        assert.equal(one(s, 'roster_db_pool_max_connections', { pool: 'primary' }), 4);
        assert.equal(find(s, 'roster_db_pool_connections', { pool: 'replica' }).length, 0);
        assert.equal(one(s, 'roster_db_reachable'), 1);
        for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
          assert.ok(find(s, name).length >= 1, name);
        }
      } finally {
        await built.close();
        await counted.db.close();
      }
    });

    test('with ROSTER_METRICS_TOKEN: users per team as a distribution, from one aggregate per refresh interval, not per scrape (C5)', async () => {
      const token = 'metrics-token-0123456789abcdef';
      const auth = { authorization: `Bearer ${token}` };
      let t = Date.now();
      const counted = countingDb(tdb.url);
      const built = await buildApp({ db: counted.db, databaseUrl: tdb.url, logLevel: 'silent', logStream: quiet(), metricsToken: token, metricsRefreshS: 60, now: () => new Date(t) });
      const base = await built.app.listen({ port: 0, host: '127.0.0.1' });
      const scrape = async () => parse(await (await fetch(`${base}/metrics`, { headers: auth })).text());
      try {
        let s: Sample[] = [];
        for (let i = 0; i < 5; i++) s = await scrape();
        assert.equal(counted.usersQueries(), 1, 'five scrapes, one aggregate');
        assert.equal(one(s, 'roster_users_live', { mode: 'sandbox' }), 13);
        assert.equal(one(s, 'roster_users_live', { mode: 'production' }), 0);
        assert.equal(one(s, 'roster_teams', { mode: 'sandbox' }), 3);
        assert.equal(one(s, 'roster_teams', { mode: 'production' }), 1);
        // Team sizes 12, 1, 0, 0 → cumulative buckets.
        assert.equal(one(s, 'roster_teams_by_size', { le: '0' }), 2);
        assert.equal(one(s, 'roster_teams_by_size', { le: '10' }), 3);
        assert.equal(one(s, 'roster_teams_by_size', { le: '100' }), 4);
        assert.equal(one(s, 'roster_teams_by_size', { le: '+Inf' }), 4);
        for (const x of find(s, 'roster_teams_by_size')) assert.deepEqual(Object.keys(x.labels), ['le']);
        assert.equal(one(s, 'roster_db_reachable'), 1);

        // A new user: within the interval the scrape shows the snapshot (and says how old it is) …
        const r = await fetch(`${srv.baseUrl}/v2/user`, { method: 'POST', headers: { 'x-vital-api-key': b.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ client_user_id: 'metrics-b-1' }) });
        assert.equal(r.status, 200);
        t += 30_000;
        s = await scrape();
        assert.equal(one(s, 'roster_users_live', { mode: 'sandbox' }), 13);
        assert.equal(one(s, 'roster_registry_snapshot_age_seconds'), 30);
        assert.equal(counted.usersQueries(), 1);
        // … and the first scrape after it follows the data; concurrent scrapes share one aggregate.
        t += 30_000;
        const all = await Promise.all([scrape(), scrape(), scrape(), scrape()]);
        for (const x of all) assert.equal(one(x, 'roster_users_live', { mode: 'sandbox' }), 14);
        assert.equal(one(all[0]!, 'roster_registry_snapshot_age_seconds'), 0);
        assert.equal(counted.usersQueries(), 2);
      } finally {
        await built.close();
        await counted.db.close();
      }
    });

    test('ROSTER_METRICS_TOKEN: Bearer required, compared exactly', async () => {
      const token = 'metrics-token-0123456789abcdef';
      const built = await buildApp({ db: tdb.db, databaseUrl: tdb.url, logLevel: 'silent', logStream: quiet(), metricsToken: token });
      const base = await built.app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const none = await fetch(`${base}/metrics`);
        assert.equal(none.status, 401);
        assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
        assert.ok(none.headers.get('x-request-id'));
        assert.doesNotMatch(await none.text(), /roster_/);
        for (const bad of [`Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, token, `Basic ${token}`, 'Bearer ']) {
          assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: bad } })).status, 401, bad);
        }
        const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(ok.status, 200);
        assert.match(await ok.text(), /roster_http_requests_total\{method="GET",route="\/metrics",status="401"\} 6/);
      } finally {
        await built.close();
      }
    });
  });
}

describe('ROSTER_METRICS_TOKEN configuration', () => {
  test('read from the environment; too short is refused', () => {
    assert.equal(loadConfig({}).metricsToken, null);
    assert.equal(loadConfig({ ROSTER_METRICS_TOKEN: 'x'.repeat(16) }).metricsToken, 'x'.repeat(16));
    assert.throws(() => loadConfig({ ROSTER_METRICS_TOKEN: 'short' }), ConfigError);
    assert.equal(loadConfig({}).metricsRefreshS, 60);
    assert.equal(loadConfig({ ROSTER_METRICS_REFRESH_S: '300' }).metricsRefreshS, 300);
    assert.throws(() => loadConfig({ ROSTER_METRICS_REFRESH_S: '0' }), ConfigError);
  });
});
