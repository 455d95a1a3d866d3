// Webhook cost on the write path (issue 12): creates per second in a team with no endpoint and in a
// team with one `junction` endpoint (a local receiver answering 204), on one Roster started as
// `npm start` starts it. Alternating runs, median of each; autocannon drives POST /v2/user.
//
//   node --import tsx bench/webhooks.ts [--duration S] [--runs N] [--connections N] [--database-url URL]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { HOST, freePort, rosterStartArgs, startServer } from './lib/proc.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? def; };
const DURATION = Number(arg('duration', '8'));
const RUNS = Number(arg('runs', '3'));
const CONNECTIONS = Number(arg('connections', '32'));
const DATABASE_URL = arg('database-url', '');
const ADMIN = 'bench-admin-token-0123456789';
const KEY = 'bench-webhooks-key-0123456789abcdef';

async function main() {
  let received = 0;
  const rx = http.createServer((req, res) => { req.resume(); req.on('end', () => { received++; res.writeHead(204).end(); }); });
  await new Promise<void>((r) => rx.listen(0, HOST, r));
  const rxPort = (rx.address() as { port: number }).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-bench-wh-'));
  fs.chmodSync(dir, 0o755); // the embedded PostgreSQL runs as another user
  const port = await freePort();
  const server = await startServer({
    name: 'roster', args: rosterStartArgs(ROOT), cwd: ROOT, port, logFile: path.join(dir, 'roster.log'), ready: { path: '/readyz' },
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, PORT: String(port), HOST, LOG_LEVEL: 'warn', DATA_DIR: path.join(dir, 'data'),
      ROSTER_ADMIN_TOKEN: ADMIN, ROSTER_BOOTSTRAP_API_KEY: KEY, ROSTER_RATE_LIMIT_PER_MINUTE: '10000000',
      ROSTER_WEBHOOK_ALLOW_HTTP: '1', ROSTER_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...(DATABASE_URL ? { DATABASE_URL } : {}),
    },
  });
  const admin = async (method: string, p: string, body?: unknown) => (await fetch(`${server.url}/admin${p}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) })).json() as Promise<any>;
  const plain = await admin('POST', '/teams', { name: 'no-endpoint' });
  const hooked = await admin('POST', '/teams', { name: 'one-endpoint' });
  await admin('POST', `/teams/${hooked.team_id}/webhooks`, { url: `http://${HOST}:${rxPort}/hook`, format: 'junction', filter_types: ['user.created'] });
  await new Promise((r) => setTimeout(r, 500));

  let n = 0;
  const run = (key: string) => new Promise<number>((resolve, reject) => {
    autocannon({
      url: server.url, connections: CONNECTIONS, duration: DURATION,
      requests: [{ method: 'POST', path: '/v2/user', headers: { 'x-vital-api-key': key, 'content-type': 'application/json' }, setupRequest: (r: any) => ({ ...r, body: JSON.stringify({ client_user_id: `b-${process.pid}-${n++}` }) }) }],
    }, (err: Error | null, res: any) => {
      if (err) return reject(err);
      if (res.non2xx) return reject(new Error(`${res.non2xx} non-2xx answers`));
      resolve(res.requests.average);
    });
  });
  const rates: Record<string, number[]> = { none: [], one: [] };
  await run(plain.api_key); // warm-up
  for (let i = 0; i < RUNS; i++) {
    rates.none!.push(await run(plain.api_key));
    rates.one!.push(await run(hooked.api_key));
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const none = median(rates.none!);
  const one = median(rates.one!);
  // Let the dispatcher drain before reporting what was delivered.
  const sent = Number((await admin('GET', `/teams/${hooked.team_id}/webhook-events?limit=1`)).events.length);
  for (let i = 0; i < 120 && received < one * DURATION * RUNS * 0.9; i++) await new Promise((r) => setTimeout(r, 1000));
  const out = {
    scenario: 'creates: team with no webhook endpoint vs one junction endpoint (receiver answers 204)',
    database: DATABASE_URL ? 'server' : 'embedded', connections: CONNECTIONS, duration_s: DURATION, runs: RUNS,
    creates_per_s_no_endpoint: Math.round(none), creates_per_s_one_endpoint: Math.round(one), ratio: Math.round((one / none) * 100) / 100,
    all_runs: rates, webhooks_received: received, events_recorded: sent > 0, cores: os.cpus().length, load_avg: os.loadavg().map((x) => Math.round(x * 10) / 10),
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  await server.stop();
  rx.close();
}

await main();
