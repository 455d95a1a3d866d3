import { checkRow } from '/work/main/src/cli/import.ts';
import { benchRow } from '/work/main/scripts/import-bench.ts';
import { importRow } from '/work/main/src/store/bulk.ts';
import { createDb } from '/work/main/src/db/pool.ts';
import { migrate } from '/work/main/src/db/migrate.ts';
import { TeamsService } from '/work/main/src/domain/teams.ts';
import { PgTeamsRepo } from '/work/main/src/store/teams.ts';
import fs from 'node:fs';
import pg from 'pg';
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' }); await admin.connect();
await admin.query('drop database if exists roster_prof5'); await admin.query('create database roster_prof5');
const db = createDb({ url: 'postgres://postgres@127.0.0.1:5432/roster_prof5', max: 2 });
await migrate(db.pool);
const team = (await new TeamsService(new PgTeamsRepo(db.kysely)).createTeam('p5', 'production')).team.id;
const rows: any[] = [];
for (let i = 0; i < 20000; i++) { const c = await checkRow(benchRow(i), team, new Date(), false); if (c.ok) rows.push({ ...importRow(c.user), basic_id: i + 1 }); }
const client = await db.pool.connect();
const pid = (await client.query('select pg_backend_pid() p')).rows[0].p;
const cpu = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const cols = Object.keys(rows[0]);
const types: Record<string, string> = { team_id: 'uuid', id: 'uuid', created_at: 'timestamptz', updated_at: 'timestamptz', deleted_at: 'timestamptz', fallback_time_zone_updated_at: 'timestamptz', fallback_birth_date_updated_at: 'timestamptz', fallback_birth_date: 'date', ingestion_start: 'date', ingestion_end: 'date', height_cm: 'float8', weight_kg: 'float8', threshold_ftp: 'float8', threshold_lthr: 'float8', threshold_mhr: 'float8', location_lat: 'float8', location_lon: 'float8', coach_enabled: 'bool', tz_offset_seconds: 'int4', basic_id: 'int8' };
for (const mode of ['values', 'unnest', 'values', 'unnest']) {
  const off = mode === 'values' ? 0 : 10000;
  let t = performance.now(); const c0 = process.cpuUsage(); const p0 = cpu();
  await client.query('begin');
  for (let b = 0; b < 10; b++) {
    const batch = rows.slice(off + b * 1000, off + b * 1000 + 1000);
    if (mode === 'values') {
      const q = db.kysely.insertInto('users').values(batch).onConflict((oc) => oc.doNothing()).returning('client_user_id').compile();
      await client.query(q.sql, q.parameters as unknown[]);
    } else {
      const sqlText = `insert into users (${cols.join(',')}) select * from unnest(${cols.map((c, i) => `$${i + 1}::${types[c] ?? 'text'}[]`).join(',')}) on conflict do nothing returning client_user_id`;
      await client.query(sqlText, cols.map((c) => batch.map((r) => r[c])));
    }
  }
  await client.query('rollback');
  const cu = process.cpuUsage(c0);
  console.log(`${mode}: wall ${(performance.now() - t).toFixed(0)}ms nodeCPU ${((cu.user + cu.system) / 1000).toFixed(0)}ms pgCPU ${cpu() - p0}ms (10k rows)`);
}
client.release(); await db.close(); await admin.query('drop database roster_prof5'); await admin.end();
