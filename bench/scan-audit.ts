// Which hot-path requests make PostgreSQL read more rows than they answer with. Starts Roster
// (package.json's start) on a scratch database of the server at --database-url, seeds N users
// into the key's team, sends each operation K times, and prints per operation and table the
// sequential scans and the rows read by them and by indexes (pg_stat_user_tables deltas). A request
// that touches one user should read a handful of rows whatever N is; a seq scan on a big table is
// a plan gone wrong (2026-12-08: the create group statement read every user of the table).
//   node --import tsx bench/scan-audit.ts [--database-url URL] [--users 10000] [--k 50]
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import pg from 'pg';
import { HOST, freePort, rosterStartArgs, sleep, startServer } from './lib/proc.ts';
import { BENCH_KEY, FACES } from './scenarios.ts';
import { seedUsers, sampleSeeded, teamOfKey } from './seed.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : def; };
const URL0 = arg('database-url', 'postgres://postgres@127.0.0.1:5432/test');
const USERS = Number(arg('users', '10000'));
const K = Number(arg('k', '50'));
const DB = 'roster_scan_audit';
const ADMIN = 'rst_scan_admin_0123456789abcdef';
const at = (db: string) => { const u = new URL(URL0); u.pathname = `/${db}`; return u.toString(); };
const J = { 'x-vital-api-key': BENCH_KEY, 'content-type': 'application/json' };

const admin = new pg.Client({ connectionString: URL0 });
await admin.connect();
await admin.query(`drop database if exists ${DB} with (force)`);
await admin.query(`create database ${DB}`);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-scan-'));
const port = await freePort();
const rx = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.statusCode = 204; res.end(); }); });
await new Promise<void>((r) => rx.listen(0, HOST, r));
const roster = await startServer({
  name: 'roster', args: rosterStartArgs(ROOT), cwd: ROOT, port, logFile: path.join(work, 'roster.log'), ready: { path: '/readyz' },
  env: { ...process.env, PORT: String(port), DATABASE_URL: at(DB), LOG_LEVEL: 'warn', ROSTER_BOOTSTRAP_API_KEY: BENCH_KEY, ROSTER_ADMIN_TOKEN: ADMIN,
    ROSTER_RATE_LIMIT_PER_MINUTE: '10000000', ROSTER_WEBHOOK_ALLOW_HTTP: '1', ROSTER_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' },
});
const c = new pg.Client({ connectionString: at(DB) });
await c.connect();
try {
  const team = await teamOfKey(c, BENCH_KEY);
  await c.query('update teams set rate_limit_per_minute = 1000000000 where id = $1', [team]).catch(() => {});
  // Seeded over a connection of its own, closed before measuring: a backend flushes its counters
  // when it exits, so the seed's reads do not land in the first operation's numbers.
  const seeder = new pg.Client({ connectionString: at(DB) });
  await seeder.connect();
  await seedUsers(seeder, { teamId: team, prefix: 'seed', n: USERS });
  await seeder.end();
  const { ids, cids } = sampleSeeded('seed', USERS, K);
  let uniq = 0;
  const send = async (method: string, p: string, headers: Record<string, string>, body?: unknown) => {
    const r = await fetch(`${roster.url}${p}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await r.text();
    if (r.status >= 400) throw new Error(`${method} ${p}: ${r.status} ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) as Record<string, unknown> : {};
  };
  const adminApi = (method: string, p: string, body?: unknown) => send(method, `/admin${p}`, { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body);
  const stats = async () => new Map((await c.query<{ relname: string; seq_scan: string; seq_tup_read: string; idx_tup_fetch: string }>(
    'select relname, seq_scan, seq_tup_read, coalesce(idx_tup_fetch, 0) as idx_tup_fetch from pg_stat_user_tables')).rows.map((r) => [r.relname, r]));
  const ops: [string, (i: number) => Promise<unknown>][] = [
    ['junction create', () => send('POST', '/v2/user', J, { client_user_id: `scan-${uniq++}` })],
    ['junction create, Idempotency-Key (single path)', () => send('POST', '/v2/user', { ...J, 'idempotency-key': `k-${uniq}` }, { client_user_id: `scan-${uniq++}` })],
    ['junction create, client id taken (409)', (i) => send('POST', '/v2/user', J, { client_user_id: cids[i % cids.length] }).catch(() => null)],
    ['junction delete', () => send('POST', '/v2/user', J, { client_user_id: `del-${uniq++}` }).then((u) => send('DELETE', `/v2/user/${u.user_id as string}`, J))],
    ['junction get', (i) => send('GET', `/v2/user/${ids[i % ids.length]}`, J)],
    ['junction resolve', (i) => send('GET', `/v2/user/resolve/${cids[i % cids.length]}`, J)],
    ['junction list (limit 100)', () => send('GET', '/v2/user?limit=100', J)],
    ['junction patch', (i) => send('PATCH', `/v2/user/${ids[i % ids.length]}`, J, { fallback_time_zone: 'Europe/Paris' })],
    ...FACES.map((f) => [`${f.name} create`, () => send(f.create.method, f.create.path, { ...f.create.headers, 'content-type': 'application/json' } as Record<string, string>, JSON.parse(f.create.body!.replace('{uniq}', `s${uniq++}`)))] as [string, (i: number) => Promise<unknown>]),
  ];
  // A second team with one live endpoint: creates there also run the dispatcher's statements.
  const wt = await adminApi('POST', '/teams', { name: 'scan-webhooks', mode: 'production' }) as { team_id: string; api_key?: string; key?: string };
  const wkey = (wt.api_key ?? (wt as unknown as { key: { api_key: string } }).key?.api_key ?? '') as string;
  await adminApi('POST', `/teams/${wt.team_id}/webhooks`, { url: `http://${HOST}:${(rx.address() as { port: number }).port}/hook`, format: 'junction', filter_types: ['user.created'] });
  if (wkey) ops.push(['junction create, team with endpoint (+ dispatcher)', async () => { await send('POST', '/v2/user', { ...J, 'x-vital-api-key': wkey }, { client_user_id: `w-${uniq++}` }); }]);
  else console.log('(no key in the admin team response: the webhook row is skipped)');
  console.log(`${USERS} users seeded; ${K} requests per operation; rows read per request (seq = by sequential scans)`);
  for (const [label, fn] of ops) {
    await c.query('select pg_stat_clear_snapshot()');
    await sleep(1100);
    const before = await stats();
    for (let i = 0; i < K; i++) await fn(i);
    await sleep(label.includes('endpoint') ? 2500 : 1100); // backends flush their counters at most once a second
    await c.query('select pg_stat_clear_snapshot()');
    const after = await stats();
    const parts: string[] = [];
    for (const [t, a] of after) {
      const b = before.get(t);
      const seq = Number(a.seq_scan) - Number(b?.seq_scan ?? 0);
      const seqRows = Number(a.seq_tup_read) - Number(b?.seq_tup_read ?? 0);
      const idx = Number(a.idx_tup_fetch) - Number(b?.idx_tup_fetch ?? 0);
      if (seq || idx) parts.push(`${t}: ${seq ? `${(seq / K).toFixed(1)} seq (${(seqRows / K).toFixed(0)} rows) ` : ''}${(idx / K).toFixed(1)} by index`);
    }
    console.log(`${label.padEnd(52)} ${parts.join('; ')}`);
  }
} finally {
  await c.end();
  await roster.stop();
  rx.close();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.end();
}
