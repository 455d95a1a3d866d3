import { checkRow } from '/work/main/src/cli/import.ts';
import { benchRow } from '/work/main/scripts/import-bench.ts';
import { importRow } from '/work/main/src/store/bulk.ts';
import { createDb } from '/work/main/src/db/pool.ts';
const db = createDb({ url: 'postgres://postgres@127.0.0.1:5432/roster_bench_b62272da', max: 2 });
const team = (await db.kysely.selectFrom('teams').select('id').where('name','=','p2').executeTakeFirstOrThrow()).id;
const rows = [];
for (let i = 0; i < 5000; i++) { const c = await checkRow({ ...benchRow(i), client_user_id: 'p3-' + i + '-' + Date.now() }, team, new Date(), false); if (c.ok) rows.push({ ...importRow(c.user), basic_id: 50000000 + i + Math.floor(Math.random()*1e7) }); }
const client = await db.pool.connect();
const pid = (await client.query('select pg_backend_pid() p')).rows[0].p;
const cpu = async () => { const f = (await import('node:fs')).readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
for (let b = 0; b < 5; b++) {
  const batch = rows.slice(b * 1000, b * 1000 + 1000);
  let t = performance.now(); const c0 = process.cpuUsage(); const p0 = await cpu();
  const q = db.kysely.insertInto('users').values(batch).onConflict((oc) => oc.doNothing()).returning('client_user_id').compile();
  const tc = performance.now() - t;
  await client.query('begin');
  const r = await client.query(q.sql, q.parameters as unknown[]);
  await client.query('rollback');
  const cu = process.cpuUsage(c0); const p1 = await cpu();
  console.log(`compile ${tc.toFixed(0)}ms total ${(performance.now() - t).toFixed(0)}ms rows ${r.rowCount} nodeCPU ${((cu.user + cu.system) / 1000).toFixed(0)}ms pgCPU ${p1 - p0}ms`);
}
client.release(); await db.close();
