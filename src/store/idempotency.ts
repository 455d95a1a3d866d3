// Idempotency keys past their expiry (src/http/write-path.ts keeps each 24 hours). Without this they
// would stay forever: every write sent with an Idempotency-Key leaves a row holding its response,
// which for a sign-in token request is the token itself.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/**
 * Deletes keys whose `expires_at` has passed, `batch` rows per statement (short statements: a
 * write path taking a key never waits long behind the sweep; rows it holds are skipped). Returns
 * how many were deleted.
 */
export async function purgeExpiredIdempotencyKeys(db: Kysely<Database>, now: Date, batch = 5_000): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await sql`delete from idempotency_keys k using (
        select team_id, key from idempotency_keys where expires_at <= ${now} limit ${batch} for update skip locked
      ) gone where k.team_id = gone.team_id and k.key = gone.key`.execute(db);
    const n = Number(r.numAffectedRows ?? 0n);
    total += n;
    if (n < batch) return total;
  }
}
