// Several Roster processes (`npm start`) behind PgBouncer in transaction mode and HAProxy, as
// docs/deploy.md sets them up (issue 14): a declared pooler without a direct URL is refused at
// start; two instances starting at once on a fresh database migrate it once; a key revoked on one
// instance is refused by the other within a second; rate limits hold across instances (Redis); two
// instances behind HAProxy restarted in turn (SIGTERM, start again) under a steady load of reads
// and creates: no failed request, every acknowledged create stored.
// On the server PostgreSQL when DATABASE_URL is set (CI), else on the embedded one.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startPgBouncer, startHaProxy, type PgBouncer, type HaProxy } from '../support/pooler.ts';
import { freePort } from '../support/net.ts';
import { ROOT, cleanupAll, delay, isAnswer, send, startRoster, waitExit, type RosterProcess } from '../reliability/fixtures/harness.ts';

const ADMIN = 'fleet-admin-token-0123456789';
const backend = backends().find((b) => b.name === 'server') ?? backends()[0]!;
const REDIS_URL = process.env.REDIS_URL;

/** Runs `node scripts/start.mjs` with `env` only; resolves with its exit code and output (bounded). */
function startAndExit(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => { out += c; });
    child.stderr!.on('data', (c: Buffer) => { out += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe(`a fleet behind PgBouncer and HAProxy (${backend.name} PostgreSQL)`, { timeout: 300_000 }, () => {
  const dbs: TestDatabase[] = [];
  const bouncers: PgBouncer[] = [];
  let proxy: HaProxy | null = null;

  before(() => {
    if (!REDIS_URL) throw new Error('REDIS_URL is not set: several instances share rate limits and read-your-writes marks through Redis; run with REDIS_URL (CI sets it)');
  });
  after(async () => {
    await cleanupAll();
    await proxy?.stop();
    for (const b of bouncers) await b.stop();
    for (const d of dbs) await d.drop();
  });

  /** A fresh database behind its own PgBouncer (3 server connections), and the env of an instance on it. */
  async function pooledEnv(o: { migrate: boolean }) {
    const d = await freshDatabase(backend, { migrate: o.migrate, poolMax: 2 });
    dbs.push(d);
    const b = await startPgBouncer({ upstreams: [d.url], poolSize: 3 });
    bouncers.push(b);
    const env = { DATABASE_URL: b.via(d.url), DATABASE_POOLER: 'transaction', DATABASE_DIRECT_URL: d.url, DB_POOL_MAX: '8', REDIS_URL: REDIS_URL!, ROSTER_ADMIN_TOKEN: ADMIN };
    return { d, b, env };
  }

  test('DATABASE_POOLER=transaction without DATABASE_DIRECT_URL: refused at start, naming the missing setting', async () => {
    const { b, d } = await pooledEnv({ migrate: true });
    const r = await startAndExit({ DATABASE_URL: b.via(d.url), DATABASE_POOLER: 'transaction' });
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /configuration error: DATABASE_POOLER=transaction needs DATABASE_DIRECT_URL/);
    const bad = await startAndExit({ DATABASE_URL: b.via(d.url), DATABASE_POOLER: 'statement', DATABASE_DIRECT_URL: d.url });
    assert.equal(bad.code, 1, bad.out);
    assert.match(bad.out, /DATABASE_POOLER must be "transaction"/);
  });

  test('two instances starting at once on a fresh database through the pooler: migrations applied once, both serve', async () => {
    const { d, env } = await pooledEnv({ migrate: false });
    const [a, b] = await Promise.all([startRoster({ env }), startRoster({ env })]);
    const rows = await d.db.pool.query<{ version: number; n: number }>('select version, count(*)::int as n from schema_migrations group by version order by version');
    assert.ok(rows.rows.length >= 8, JSON.stringify(rows.rows));
    assert.deepEqual(rows.rows.filter((r) => r.n !== 1), []);
    for (const [i, p] of [a!, b!].entries()) {
      const r = await send(p.baseUrl, 'POST', '/v2/user', { client_user_id: `mig-${i}` });
      assert.equal(r.status, 200, isAnswer(r) ? r.text : String(r.status));
    }
    for (const p of [a!, b!]) { p.signal('SIGTERM'); await waitExit(p, 20_000); }
  });

  test('a key revoked on one instance is refused by the other within a second; rate limits hold across instances', async () => {
    const { env } = await pooledEnv({ migrate: true });
    const [a, b] = await Promise.all([startRoster({ env }), startRoster({ env })]);
    const admin = { authorization: `Bearer ${ADMIN}` };
    const t = await send(a.baseUrl, 'POST', '/admin/teams', { name: 'revoke-me', mode: 'production' }, admin);
    assert.equal(t.status, 201, isAnswer(t) ? t.text : '');
    const { team_id: teamId, key_id: keyId, api_key: key } = (t as { body: { team_id: string; key_id: string; api_key: string } }).body;
    const onB = () => send(b.baseUrl, 'GET', '/v2/user?limit=1', undefined, { 'x-vital-api-key': key });
    assert.equal((await onB()).status, 200); // B has looked the key up (and may cache it)
    assert.equal((await onB()).status, 200);
    const del = await send(a.baseUrl, 'DELETE', `/admin/keys/${keyId}`, undefined, admin);
    assert.equal(del.status, 204);
    const revokedAt = Date.now();
    let last: number | string = 200;
    while (Date.now() - revokedAt < 1000) {
      last = (await onB()).status;
      if (last === 401) break;
      await delay(20);
    }
    assert.equal(last, 401, 'refused on the other instance within a second of the revocation');

    // A team limit of 10 per minute, requests alternating between the instances through Redis.
    const t2 = await send(a.baseUrl, 'POST', '/admin/teams', { name: 'limited', mode: 'production' }, admin);
    const k2 = (t2 as { body: { team_id: string; api_key: string } }).body;
    assert.equal((await send(a.baseUrl, 'PATCH', `/admin/teams/${k2.team_id}`, { rate_limit_per_minute: 10 }, admin)).status, 200);
    const statuses: (number | string)[] = [];
    for (let i = 0; i < 16; i++) statuses.push((await send(i % 2 ? a.baseUrl : b.baseUrl, 'GET', '/v2/user?limit=1', undefined, { 'x-vital-api-key': k2.api_key })).status);
    assert.equal(statuses.filter((s) => s === 200).length, 10, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 429).length, 6, JSON.stringify(statuses));
    void teamId;
    for (const p of [a, b]) { p.signal('SIGTERM'); await waitExit(p, 20_000); }
  });

  test('two instances behind HAProxy, each restarted in turn under a steady load: 0 failed requests, every acknowledged create stored', async () => {
    const { d, env } = await pooledEnv({ migrate: true });
    const ports = [await freePort(), await freePort()];
    const envOf = { ...env, ROSTER_SHUTDOWN_DELAY_MS: '1500' };
    const procs: RosterProcess[] = await Promise.all(ports.map((port) => startRoster({ env: envOf, port })));
    proxy = await startHaProxy({ backends: ports, checkMs: 250 });
    const base = proxy.baseUrl;
    // Wait until HAProxy has both up (rise 2): every answer comes from some instance meanwhile anyway.
    await delay(1000);

    const acked = new Map<string, string>();
    const failures: string[] = [];
    let reads = 0;
    let stop = false;
    const LOOPS = 6;
    const loops = Array.from({ length: LOOPS }, async (_, l) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        if (i % 2 === 0) {
          const cid = `roll-${l}-${i}`;
          const r = await send(base, 'POST', '/v2/user', { client_user_id: cid });
          if (r.status === 200 && isAnswer(r)) acked.set(cid, r.body.user_id);
          else failures.push(`create ${cid}: ${r.status} ${isAnswer(r) ? r.text.slice(0, 200) : (r as { error?: string }).error ?? ''}`);
        } else {
          const [cid, id] = [...acked].at(-1 - (i % 7)) ?? [];
          const r = await send(base, 'GET', id ? `/v2/user/${id}` : '/v2/user?limit=5');
          reads++;
          if (r.status !== 200) failures.push(`read ${cid ?? 'list'}: ${r.status} ${isAnswer(r) ? r.text.slice(0, 200) : (r as { error?: string }).error ?? ''}`);
        }
        await delay(15); // steady, bounded: about 6 × 50 requests per second at most
      }
    });

    const restarts: { exit: unknown; downMs: number }[] = [];
    const whileDelayed: { readyz: number | string; api: number | string }[] = [];
    await delay(1500);
    for (const i of [0, 1]) {
      const p = procs[i]!;
      const t0 = Date.now();
      p.signal('SIGTERM');
      // Straight to the instance: /readyz turns 503 at once, while the API still answers.
      let readyz: number | string = 200;
      for (const end = Date.now() + 1000; readyz === 200 && Date.now() < end; await delay(10)) readyz = (await send(p.baseUrl, 'GET', '/readyz')).status;
      whileDelayed.push({ readyz, api: (await send(p.baseUrl, 'GET', '/v2/user?limit=1')).status });
      const exit = await waitExit(p, 30_000);
      restarts.push({ exit, downMs: Date.now() - t0 });
      procs[i] = await startRoster({ env: envOf, port: ports[i]! });
      await delay(1500); // HAProxy sees it up again (rise 2 × 250 ms) before the other one goes
    }
    await delay(1000);
    stop = true;
    await Promise.all(loops);

    assert.deepEqual(whileDelayed, [{ readyz: 503, api: 200 }, { readyz: 503, api: 200 }], 'after SIGTERM: /readyz 503, requests still served');
    assert.deepEqual(restarts.map((r) => (r.exit as { code?: number }).code), [0, 0], JSON.stringify(restarts));
    assert.deepEqual(failures, [], `failed requests (of ${acked.size} creates and ${reads} reads)`);
    assert.ok(acked.size > 50, `a steady load ran (${acked.size} creates)`);
    const stored = await d.db.pool.query<{ client_user_id: string; id: string }>(`select client_user_id, id::text as id from users where client_user_id like 'roll-%'`);
    const byCid = new Map(stored.rows.map((r) => [r.client_user_id, r.id]));
    assert.equal(stored.rows.length, byCid.size, 'no client id stored twice');
    const missing = [...acked].filter(([cid, id]) => byCid.get(cid) !== id);
    assert.deepEqual(missing, [], 'every acknowledged create stored, under the id it was acknowledged with');
    for (const p of procs) { p.signal('SIGTERM'); await waitExit(p, 20_000); }
  });
});
