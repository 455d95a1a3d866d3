// What /metrics reports about the registry itself: live users per team, with each team's mode.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

export async function liveUsersPerTeam(db: Kysely<Database>): Promise<{ mode: string; n: number }[]> {
  const r = await sql<{ mode: string; n: number }>`
    select t.mode, coalesce(u.n, 0)::int as n
    from teams t
    left join (select team_id, count(*) as n from users where deleted_at is null group by team_id) u on u.team_id = t.id`.execute(db);
  return r.rows;
}
