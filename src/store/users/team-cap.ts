// The sandbox cap of live users per team, counted once for every path that makes a user live
// (create, bulk import, undo_delete). The cap is a count, so concurrent writers of one team are
// serialised by a transaction-scoped advisory lock on the team (sandbox teams only; production
// never waits), and the count is taken after the lock is held.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';

/**
 * Inside `tx`: takes the team's cap lock (held to commit) and returns how many more live users the
 * team may have (0 when at or over the cap).
 */
export async function roomUnderCap(tx: Kysely<Database>, teamId: string, cap: number): Promise<number> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${teamId}, 0))`.execute(tx);
  const { n } = await tx.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('team_id', '=', teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
  return Math.max(0, cap - Number(n));
}
