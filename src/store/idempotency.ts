// PostgreSQL implementation of the Idempotency-Key port (src/domain/idempotency.ts). A started key
// opens the request's own transaction (held in its scope, src/store/request-scope.ts): every query of
// the request follows it, and the key row, the remembered response and the audit entry commit
// together with the change, or not at all.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { runInRequestScope, settleAfterCommit } from '../db/request-tx.ts';
import type { AuditEntry, AuditLog } from '../domain/audit.ts';
import { IDEMPOTENCY_TTL_MS, type IdempotencyBegin, type IdempotencyStore, type StoredResponse } from '../domain/idempotency.ts';
import type { RequestScope } from '../domain/request-scope.ts';
import { dbScope } from './request-scope.ts';

export class PgIdempotencyStore implements IdempotencyStore {
  /** `db`: the root instance (not a request-scoped one); `audit`: the one audit writer. */
  constructor(private readonly db: Kysely<Database>, private readonly audit: AuditLog) {}

  async begin(s: RequestScope, teamId: string, key: string, fingerprint: Buffer, now: Date): Promise<IdempotencyBegin> {
    const trx = await this.db.startTransaction().execute();
    try {
      const lock = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${`idem:${teamId}:${key}`}, 0)) as ok`.execute(trx);
      const locked = Boolean(lock.rows[0]?.ok);
      // Not locked: another request holds the key. If the first request has completed (its row is
      // committed, with its response), this copy merely raced another replay: replay it too rather
      // than answer "in progress". (test/reliability/sigkill.test.ts)
      const existing = await (locked ? trx : this.db).selectFrom('idempotency_keys').selectAll().where('team_id', '=', teamId).where('key', '=', key).executeTakeFirst();
      const live = existing !== undefined && existing.expires_at.getTime() > now.getTime();
      if (!locked && (!live || existing.response_status === null)) {
        await trx.rollback().execute();
        return { kind: 'busy' };
      }
      if (live) {
        await trx.rollback().execute();
        if (!existing.fingerprint.equals(fingerprint)) return { kind: 'mismatch' };
        return { kind: 'replay', response: { status: existing.response_status ?? 200, headers: existing.response_headers ?? {}, body: existing.response_body ?? '' } };
      }
      if (existing) await trx.deleteFrom('idempotency_keys').where('team_id', '=', teamId).where('key', '=', key).execute();
      await trx.insertInto('idempotency_keys').values({ team_id: teamId, key, fingerprint, response_status: null, response_headers: null, response_body: null, created_at: now, expires_at: new Date(now.getTime() + IDEMPOTENCY_TTL_MS) }).execute();
      const scope = dbScope(s);
      scope.trx = trx;
      scope.idem = { teamId, key };
      return { kind: 'started' };
    } catch (e) {
      if (!trx.isCommitted && !trx.isRolledBack) await trx.rollback().execute().catch(() => {});
      throw e;
    }
  }

  isOpen(s: RequestScope): boolean {
    return Boolean(dbScope(s).trx);
  }

  async complete(s: RequestScope, response: StoredResponse, audit: AuditEntry): Promise<void> {
    const scope = dbScope(s);
    const trx = scope.trx;
    const idem = scope.idem;
    if (!trx || !idem) throw new Error('no idempotent write is open in this scope');
    try {
      await trx.updateTable('idempotency_keys').set({ response_status: response.status, response_headers: JSON.stringify(response.headers), response_body: response.body })
        .where('team_id', '=', idem.teamId).where('key', '=', idem.key).execute();
      // Inside the scope, the audit log writes through the request's transaction.
      await runInRequestScope(scope, () => this.audit.record(audit));
      scope.trx = null;
      scope.idem = null;
      await trx.commit().execute();
    } catch (e) {
      scope.trx = null;
      scope.idem = null;
      settleAfterCommit(scope, false);
      await trx.rollback().execute().catch(() => {});
      throw e;
    }
    settleAfterCommit(scope, true);
  }

  async abort(s: RequestScope): Promise<void> {
    const scope = dbScope(s);
    const trx = scope.trx;
    if (!trx) return;
    scope.trx = null;
    scope.idem = null;
    settleAfterCommit(scope, false);
    await trx.rollback().execute().catch(() => {});
  }

  purgeExpired(now: Date, batch?: number): Promise<number> {
    return purgeExpiredIdempotencyKeys(this.db, now, batch);
  }
}

/**
 * Deletes keys whose `expires_at` has passed, `batch` rows per statement (short statements: a
 * write path taking a key never waits long behind the sweep; rows it holds are skipped). Without
 * this they would stay forever: every write sent with an Idempotency-Key leaves a row holding its
 * response, which for a sign-in token request is the token itself. Returns how many were deleted.
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
