// The dispatcher's cost per delivered event, alone: a backlog of `user.created` events (written
// straight into the outbox) for a team with one `junction` endpoint (a receiver in this process
// answering 204), drained by a Roster that only delivers. CPU per event of that Roster and of its
// PostgreSQL, and events per second, measured from its /readyz until the last event arrived.
// One Roster with ROSTER_WEBHOOK_WORKER=0 owns the embedded cluster; the delivering one uses it
// through DATABASE_URL, as a second instance would.
//
//   node --import tsx bench/webhook-drain.ts [--events N] [--rounds R] [--cpu-prof DIR] [--roster-dir DIR]
// (--roster-dir: the Roster checkout to start, e.g. a worktree of main, to compare with this one)
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { HOST, Sampler, freePort, postgresPids, postmasterPid, rosterStartArgs, sleep, startServer, type Server } from './lib/proc.ts';
import { embeddedUrl } from './lib/pg.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : def; };
const EVENTS = Number(arg('events', '8000'));
const ROUNDS = Number(arg('rounds', '2'));
/** A folder: the delivering Roster runs with --cpu-prof there (bench/profile.ts reads the files). */
const PROF = arg('cpu-prof', '');
const ROSTER_DIR = path.resolve(arg('roster-dir', ROOT));
const ADMIN = 'bench-admin-token-0123456789';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-bench-drain-'));
fs.chmodSync(dir, 0o755); // the embedded PostgreSQL runs as another user
const dataDir = path.join(dir, 'data');
const env = (port: number, extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, PORT: String(port), HOST, LOG_LEVEL: 'warn',
  ROSTER_ADMIN_TOKEN: ADMIN, ROSTER_WEBHOOK_ALLOW_HTTP: '1', ROSTER_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...extra,
});
const start = async (name: string, extra: Record<string, string>, nodeArgs: string[] = []): Promise<Server> => {
  const port = await freePort();
  return startServer({ name, args: [...nodeArgs, ...rosterStartArgs(ROSTER_DIR)], cwd: ROSTER_DIR, port, env: env(port, extra), logFile: path.join(dir, `${name}.log`), ready: { path: '/readyz' } });
};

const seen = new Set<string>();
let onReceipt: () => void = () => {};
const rx = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { seen.add(String(req.headers['svix-id'])); res.writeHead(204).end(); onReceipt(); });
});
await new Promise<void>((r) => rx.listen(0, HOST, r));

const a = await start('serving', { DATA_DIR: dataDir, ROSTER_WEBHOOK_WORKER: '0' });
const url = embeddedUrl(dataDir);

const admin = async (method: string, p: string, body?: unknown) => (await fetch(`${a.url}/admin${p}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) })).json() as Promise<Record<string, string>>;
const team = await admin('POST', '/teams', { name: 'drain', mode: 'production' });
await admin('POST', `/teams/${team.team_id}/webhooks`, { url: `http://${HOST}:${(rx.address() as { port: number }).port}/hook`, format: 'junction', filter_types: ['user.created'] });
const pm = postmasterPid(path.join(dataDir, 'pg'));
const c = new pg.Client({ connectionString: url });
await c.connect();

const results: { events: number; seconds: number; perS: number; nodeUs: number; pgUs: number }[] = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Event ids: msg_ + a ULID of now (time part) and a random-looking tail (Crockford base32).
    await c.query(`insert into webhook_events (team_id, id, type, user_id, facts, occurred_at)
      select $1::uuid, 'msg_' || upper(lpad(to_hex((extract(epoch from now()) * 1000)::bigint), 10, '0')) || lpad(g::text, 16, '0'),
        'user.created', gen_random_uuid(), jsonb_build_object('client_user_id', 'drain-' || $3::int || '-' || g, 'basic_id', g), now()
      from generate_series(1, $2::int) g`, [team.team_id, EVENTS, round]);
    seen.clear();
    const b = await start(`delivering-${round}`, { DATABASE_URL: url }, PROF ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(PROF)] : []);
    const sampler = new Sampler(b.pid, pm ? () => postgresPids(pm) : null);
    const before = seen.size;
    sampler.start();
    const t0 = performance.now();
    await new Promise<void>((resolve) => { onReceipt = () => { if (seen.size >= EVENTS) resolve(); }; if (seen.size >= EVENTS) resolve(); });
    const wall = performance.now() - t0;
    const u = sampler.stop();
    const n = EVENTS - before;
    results.push({ events: n, seconds: Math.round(wall) / 1000, perS: Math.round((n / wall) * 1000), nodeUs: Math.round((u.serverCpuMs * 1000) / n), pgUs: Math.round((u.pgCpuMs * 1000) / n) });
    await b.stop();
    await sleep(200);
  }
} finally {
  await c.end();
  await a.stop();
  rx.close();
}
process.stdout.write(JSON.stringify({ scenario: 'drain a backlog of user.created events to one junction endpoint (receiver 204)', load_avg: os.loadavg().map((x) => Math.round(x * 10) / 10), results }, null, 1) + '\n');
fs.rmSync(dir, { recursive: true, force: true });
