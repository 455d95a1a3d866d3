// Measures `roster import` on a generated file (default 100,000 users, every field of every face
// on most rows), then the idempotent re-run (all skipped) and `roster export` of the result.
//
//   node --import tsx scripts/import-bench.ts [--rows 100000] [--format jsonl|csv] [--cli]
//
// Uses a fresh database on DATABASE_URL's server when set (dropped afterwards), else Roster's
// embedded PostgreSQL in a temporary directory. --cli runs the real command as a child process
// (`node bin/roster.js import …`, so start-up and migrations count); otherwise the import runs
// in this process.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createDb } from '../src/db/pool.ts';
import { migrate } from '../src/db/migrate.ts';
import { startEmbedded, type EmbeddedServer } from '../src/db/embedded/index.ts';
import { TeamsService } from '../src/domain/teams.ts';
import { PgTeamsRepo } from '../src/store/teams.ts';
import { importUsers } from '../src/cli/import/index.ts';
import { exportUsers } from '../src/cli/export.ts';

const argv = process.argv.slice(2);
const arg = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
const rows = Number(arg('--rows', '100000'));
const format = arg('--format', 'jsonl') as 'jsonl' | 'csv';
const viaCli = argv.includes('--cli');
const keep = argv.includes('--keep');

const ZONES = ['Europe/London', 'America/New_York', 'Asia/Tokyo', 'UTC', 'Europe/Berlin'];

/** A realistic row: every face's fields on 3 of 4 rows, Junction's only on the rest. */
export function benchRow(i: number): Record<string, unknown> {
  const r: Record<string, unknown> = { client_user_id: `bench-${i}-${(i * 2654435761 >>> 0).toString(36)}`, fallback_time_zone: ZONES[i % ZONES.length] };
  if (i % 4 !== 3) {
    Object.assign(r, {
      fallback_birth_date: `19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10}`,
      ingestion_start: '2024-01-01',
      first_name: `First${i}`, last_name: `Last, ${i}`, email: `user${i}@example.com`, language: 'en',
      measurement_unit: i % 2 ? 'metric' : 'imperial', gender: ['male', 'female', 'other'][i % 3],
      height_cm: 150 + (i % 50) + 0.5, weight_kg: 50 + (i % 60), threshold_ftp: 200 + (i % 100), threshold_lthr: 160, threshold_mhr: 190,
      location_lat: 51.5, location_lon: -0.12, coach_enabled: i % 2 === 0, tz_offset_seconds: 3600,
    });
  }
  return r;
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function writeBenchFile(file: string, n: number, fmt: 'jsonl' | 'csv'): void {
  const fd = fs.openSync(file, 'w');
  const cols = Object.keys(benchRow(0));
  if (fmt === 'csv') fs.writeSync(fd, cols.join(',') + '\n');
  let chunk = '';
  for (let i = 0; i < n; i++) {
    const r = benchRow(i);
    chunk += (fmt === 'csv' ? cols.map((c) => csvCell(r[c])).join(',') : JSON.stringify(r)) + '\n';
    if (chunk.length > 1 << 20) { fs.writeSync(fd, chunk); chunk = ''; }
  }
  fs.writeSync(fd, chunk);
  fs.closeSync(fd);
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-import-bench-'));
  fs.chmodSync(tmp, 0o755);
  let embedded: EmbeddedServer | null = null;
  let adminUrl = process.env.DATABASE_URL ?? null;
  if (!adminUrl) {
    embedded = await startEmbedded({ dataDir: path.join(tmp, 'data') });
    adminUrl = embedded.url;
  }
  const name = `roster_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = createDb({ url, max: 4 });
  try {
    await migrate(db.pool);
    const team = await new TeamsService(new PgTeamsRepo(db.kysely)).createTeam('bench', 'production');
    const file = path.join(tmp, `users.${format}`);
    let t = Date.now();
    writeBenchFile(file, rows, format);
    const mb = fs.statSync(file).size / 1048576;
    console.log(`generated ${rows} rows (${mb.toFixed(1)} MiB ${format}) in ${Date.now() - t} ms`);

    // CPU seconds (utime + stime, CLK_TCK = 100) of the importer and of this database's PostgreSQL
    // backends, sampled from /proc while a run goes on (a child and its backends are gone at the
    // end). Same machine only; NaN otherwise. The load-independent measure on a shared machine.
    const ticks = (pid: number): number | null => {
      try {
        const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(f[11]) + Number(f[12])) / 100;
      } catch {
        return null;
      }
    };
    const sampler = (childPid: () => number | null) => {
      const seen = new Map<string, number>();
      const take = async () => {
        const c = childPid();
        if (c !== null) { const t = ticks(c); if (t !== null) seen.set('importer', t); }
        const pids = (await admin.query('select pid from pg_stat_activity where datname = $1', [name])).rows.map((r) => Number(r.pid));
        for (const pid of pids) { const t = ticks(pid); if (t !== null) seen.set(`pg:${pid}`, t); }
      };
      let stop = false;
      const loop = (async () => { while (!stop) { await take().catch(() => {}); await new Promise((r) => setTimeout(r, 200)); } })();
      return {
        base: take().then(() => new Map(seen)),
        async end() {
          stop = true;
          await loop;
          await take().catch(() => {});
          return seen;
        },
      };
    };
    const run = async (label: string) => {
      const cpu0 = process.cpuUsage();
      let child: ChildProcess | null = null;
      const s = sampler(() => child?.pid ?? null);
      const base = await s.base;
      t = Date.now();
      let summary: Record<string, unknown>;
      if (viaCli) {
        const c = spawn(process.execPath, ['bin/roster.js', 'import', '--team', team.team.id, file, '--progress-interval', '2'], {
          cwd: path.resolve(import.meta.dirname, '..'), env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'inherit'],
        });
        child = c;
        let out = '';
        c.stdout.on('data', (d) => { out += d; });
        const code = await new Promise<number | null>((resolve) => c.on('close', resolve));
        if (code !== 0) throw new Error(`import exited ${code}`);
        summary = JSON.parse(out.trim().split('\n').pop()!);
      } else {
        summary = { ...(await importUsers({ db: db.kysely, teamId: team.team.id, file, progress: { stream: process.stderr, tty: process.stderr.isTTY === true, intervalMs: 2000 } })) };
      }
      const wall = (Date.now() - t) / 1000;
      const seen = await s.end();
      let pgSecs = 0;
      for (const [k, v] of seen) if (k.startsWith('pg:')) pgSecs += v - (base.get(k) ?? 0);
      const cpu = process.cpuUsage(cpu0);
      const importer = viaCli ? seen.get('importer') ?? NaN : (cpu.user + cpu.system) / 1e6;
      const load = os.loadavg()[0]!.toFixed(1);
      console.log(`${label}: ${wall.toFixed(2)} s wall, ${Math.round(rows / wall)} rows/s; CPU importer ${importer.toFixed(2)} s${viaCli ? ' (whole command: start-up, migrations check, import)' : ''}, PostgreSQL ${pgSecs.toFixed(2)} s; load average ${load} on ${os.cpus().length} cores`);
      console.log(`  summary: ${JSON.stringify(summary)}`);
      return summary;
    };
    const first = await run(`import ${viaCli ? '(CLI child process)' : '(in process)'}`);
    if (first.imported !== rows) throw new Error(`expected ${rows} imported`);
    const again = await run('re-run (all skipped)');
    if (again.skipped_existing !== rows) throw new Error(`expected ${rows} skipped`);

    t = Date.now();
    let bytes = 0;
    const sink = new Writable({ write(c, _e, cb) { bytes += c.length; cb(); } });
    const ex = await exportUsers({ db: db.kysely, teamId: team.team.id, out: sink });
    console.log(`export: ${ex.exported} users, ${(bytes / 1048576).toFixed(1)} MiB in ${((Date.now() - t) / 1000).toFixed(2)} s`);
  } finally {
    await db.close();
    if (keep) console.log(`kept database ${url}`);
    else await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
    await embedded?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
