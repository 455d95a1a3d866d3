// PostgreSQL CPU per create, statement by statement, on the server at --database-url (a scratch
// database, dropped at the end): the minimal server's one-row insert against Roster's group
// statement (create-group.ts) at several group sizes, and the audit batch. CPU is the backend's
// own (utime+stime from /proc), so a busy machine slows it but does not change it much.
//   node --import tsx bench/pg-create-cost.ts [--database-url URL] [--n 2400]
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrateAt } from '../src/db/migrate.ts';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1]! : def; };
const URL0 = arg('database-url', 'postgres://postgres@127.0.0.1:5432/test');
const N = Number(arg('n', '2400'));
const DB = 'roster_pg_cost';
const at = (db: string) => { const u = new URL(URL0); u.pathname = `/${db}`; return u.toString(); };
const TICK_US = 1e6 / 100;

async function cpuUs(c: pg.Client, pid: number): Promise<number> {
  void c;
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

const admin = new pg.Client({ connectionString: URL0 });
await admin.connect();
await admin.query(`drop database if exists ${DB} with (force)`);
await admin.query(`create database ${DB}`);
try {
  await migrateAt(at(DB));
  const c = new pg.Client({ connectionString: at(DB) });
  await c.connect();
  const pid = (await c.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]!.p;
  const team = randomUUID();
  await c.query(`insert into teams (id, name, mode, created_at) values ($1, 'cost', 'production', now())`, [team]).catch(async (e) => { console.error('team insert:', e.message); throw e; });
  const { GROUP_SQL } = await import('../src/store/users/create-group.ts');
  let k = 0;
  const user = () => ({ team_id: team, id: randomUUID(), client_user_id: `c${k++}`, created_at: new Date().toISOString(), updated_at: new Date().toISOString(), fallback_time_zone: null });
  async function run(label: string, per: number, fn: () => Promise<unknown>) {
    await c.query('vacuum (analyze)');
    for (let i = 0; i < 20; i++) await fn();
    const t0 = await cpuUs(c, pid); const w0 = performance.now();
    const loops = Math.ceil(N / per);
    for (let i = 0; i < loops; i++) await fn();
    const cpu = (await cpuUs(c, pid)) - t0; const wall = (performance.now() - w0) * 1000;
    console.log(`${label.padEnd(44)} ${(cpu / (loops * per)).toFixed(0).padStart(5)} µs CPU/create  ${(wall / (loops * per)).toFixed(0).padStart(5)} µs wall/create`);
  }
  await run('minimal: one insert, autocommit', 1, () => c.query({ name: 'min', text: `insert into users (team_id, id, client_user_id, created_at, updated_at, fallback_time_zone)
    values ($1, $2, $3, $4, $4, null) on conflict (team_id, client_user_id) where deleted_at is null do nothing returning id, client_user_id, created_at`, values: [team, randomUUID(), `m${k++}`, new Date()] }));
  for (const g of [1, 4, 12, 32]) {
    await run(`roster group statement, ${g} per group`, g, () => c.query(GROUP_SQL, [JSON.stringify(Array.from({ length: g }, user)), '[]']));
  }
  for (const g of [1, 4, 12, 32]) {
    await run(`roster group statement, named, ${g} per group`, g, () => c.query({ name: 'grp', text: GROUP_SQL, values: [JSON.stringify(Array.from({ length: g }, user)), '[]'] }));
  }
  // A lone create as one plain row insert of every column Roster writes (what a group of one could send instead).
  const { ROW_COLUMNS } = await import('../src/store/users/rows.ts');
  const single = `insert into users (${ROW_COLUMNS.map((x) => `"${x}"`).join(', ')}) values (${ROW_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
    on conflict (team_id, client_user_id) where deleted_at is null do nothing returning basic_id, client_user_id`;
  const singleValues = () => { const u = user() as Record<string, unknown>; return ROW_COLUMNS.map((col) => u[col] ?? null); };
  await run(`one-row insert, all ${ROW_COLUMNS.length} columns, named`, 1, () => c.query({ name: 'one', text: single, values: singleValues() }));
  await run(`one-row insert, all ${ROW_COLUMNS.length} columns, unnamed`, 1, () => c.query(single, singleValues()));
  for (const g of [12, 32]) {
    await run(`audit batch, ${g} rows`, g, () => c.query(`insert into audit_events (team_id, id, key_id, action, user_id, request_id, status, at)
      select $1, gen_random_uuid(), null, 'user.create', gen_random_uuid()::text, gen_random_uuid()::text, 200, now() from generate_series(1, ${g}) on conflict do nothing`, [team]));
  }
  await c.end();
} finally {
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.end();
}
