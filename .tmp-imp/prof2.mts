import { checkRow } from '/work/main/src/cli/import.ts';
import { benchRow } from '/work/main/scripts/import-bench.ts';
import { importRow, insertBatch } from '/work/main/src/store/bulk.ts';
import { createDb } from '/work/main/src/db/pool.ts';
import { TeamsService } from '/work/main/src/domain/teams.ts';
import { PgTeamsRepo } from '/work/main/src/store/teams.ts';
import { sql } from 'kysely';
const db = createDb({ url: 'postgres://postgres@127.0.0.1:5432/roster_bench_b62272da', max: 2 });
const team = await new TeamsService(new PgTeamsRepo(db.kysely)).createTeam('p2', 'production');
const rows = [];
for (let i = 0; i < 100000; i++) { const c = await checkRow(benchRow(i), team.team.id, new Date(), false); if (c.ok) rows.push(importRow(c.user)); }
let t = performance.now();
for (let i = 0; i < rows.length; i += 1000) { await insertBatch(db.kysely, team.team.id, rows.slice(i, i + 1000)); if (((i/1000+1) & (i/1000)) === 0) await sql`analyze users`.execute(db.kysely); }
console.log('insert 100k', Math.round(performance.now() - t), 'ms');
t = performance.now();
for (let i = 0; i < rows.length; i += 1000) await insertBatch(db.kysely, team.team.id, rows.slice(i, i + 1000));
console.log('skip 100k', Math.round(performance.now() - t), 'ms');
await db.close();
