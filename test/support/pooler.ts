// PgBouncer (transaction mode) and HAProxy as the tests' own processes on 127.0.0.1: generated
// config files in a temporary directory, never the system services. The Debian packages
// `pgbouncer` and `haproxy` must be installed (.ci/run installs them); missing → the test fails.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './net.ts';

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


function binary(name: string, pkg: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} not found: install the Debian package \`${pkg}\` (apt-get install ${pkg}; .ci/run does)`);
}

async function waitPort(port: number, proc: { exited: boolean; out(): string }, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.exited) throw new Error(`${what} exited at start: ${proc.out()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${ms} ms: ${proc.out()}`);
    await delay(50);
  }
}

interface Spawned { child: ChildProcess; exited: boolean; out(): string; stop(): Promise<void> }

function spawnLogged(file: string, args: string[]): Spawned {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out = (out + c.toString()).slice(-20_000); });
  child.stderr!.on('data', (c: Buffer) => { out = (out + c.toString()).slice(-20_000); });
  const s: Spawned = {
    child,
    exited: false,
    out: () => out,
    async stop() {
      if (s.exited) return;
      child.kill('SIGINT');
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      await Promise.race([gone, delay(3000)]);
      if (!s.exited) { child.kill('SIGKILL'); await Promise.race([gone, delay(3000)]); }
    },
  };
  child.once('exit', () => { s.exited = true; });
  return s;
}

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755); // pgbouncer runs as the postgres user when started by root
  return dir;
}

export interface PgBouncer {
  port: number;
  /** `url` with host and port replaced by PgBouncer's (same user, password and database). */
  via(url: string): string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * PgBouncer in transaction mode in front of the server(s) of `upstreams` (connection URLs; one
 * PgBouncer database entry per database name). `poolSize`: server connections per database/user.
 */
export async function startPgBouncer(o: { upstreams: string[]; poolSize: number; extra?: Record<string, string> }): Promise<PgBouncer> {
  const bin = binary('pgbouncer', 'pgbouncer');
  const dir = tempDir('roster-pgb-');
  const port = await freePort();
  const users = new Map<string, string>();
  const dbs: string[] = [];
  for (const raw of o.upstreams) {
    const u = new URL(raw);
    const db = decodeURIComponent(u.pathname.slice(1));
    const user = decodeURIComponent(u.username || 'postgres');
    const password = decodeURIComponent(u.password);
    users.set(user, password);
    dbs.push(`${db} = host=${u.hostname} port=${u.port || 5432} dbname=${db}${password ? ` password=${password}` : ''}`);
  }
  fs.writeFileSync(path.join(dir, 'users.txt'), [...users].map(([u, p]) => `"${u}" "${p}"`).join('\n') + '\n', { mode: 0o644 });
  const settings: Record<string, string> = {
    listen_addr: '127.0.0.1',
    listen_port: String(port),
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: path.join(dir, 'users.txt'),
    pool_mode: 'transaction',
    default_pool_size: String(o.poolSize),
    min_pool_size: '0',
    reserve_pool_size: '0',
    max_client_conn: '2000',
    max_db_connections: String(o.poolSize),
    server_reset_query: '',
    ignore_startup_parameters: 'extra_float_digits',
    log_connections: '0',
    log_disconnections: '0',
    ...o.extra,
  };
  const ini = `[databases]\n${dbs.join('\n')}\n\n[pgbouncer]\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
  const iniPath = path.join(dir, 'pgbouncer.ini');
  fs.writeFileSync(iniPath, ini, { mode: 0o644 });
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', iniPath] : [iniPath];
  const p = spawnLogged(bin, args);
  await waitPort(port, p, 'pgbouncer');
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    output: p.out,
    async stop() {
      await p.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HaProxy {
  port: number;
  baseUrl: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * HAProxy on 127.0.0.1 balancing HTTP over `backends` (ports), health-checking GET /readyz every
 * `checkMs` (down after 2 failures, up after 2 successes), with retries and redispatch on
 * connection failures, the configuration docs/deploy.md gives.
 */
export async function startHaProxy(o: { backends: number[]; checkMs?: number }): Promise<HaProxy> {
  const bin = binary('haproxy', 'haproxy');
  const dir = tempDir('roster-hap-');
  const port = await freePort();
  const inter = o.checkMs ?? 500;
  const cfg = [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    'frontend roster',
    `  bind 127.0.0.1:${port}`,
    '  default_backend rosters',
    'backend rosters',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    `  default-server inter ${inter} fastinter ${Math.max(100, Math.round(inter / 2))} downinter ${inter} fall 2 rise 2`,
    ...o.backends.map((p, i) => `  server r${i} 127.0.0.1:${p} check`),
    '',
  ].join('\n');
  const cfgPath = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfgPath, cfg);
  execFileSync(bin, ['-c', '-q', '-f', cfgPath]);
  const p = spawnLogged(bin, ['-db', '-f', cfgPath]);
  await waitPort(port, p, 'haproxy');
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    output: p.out,
    async stop() {
      await p.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
