// PostgreSQL implementation of the domain's AuthTokensRepo. Queries and locking only; the rules
// (what is expired, used, reused) are decided by src/domain/auth-tokens/ inside the transaction.
// Private keys are sealed with ROSTER_SECRET_KEY when it is set (store/secret-box.ts).
import { sql, type Kysely, type Selectable } from 'kysely';
import type { AuthSigningKeysTable, Database } from '../db/schema.ts';
import type {
  AuthTokensRepo, Owner, RedeemDecision, RefreshDecision, SessionRecord, SignInTokenRecord, SigningKeyRecord, RefreshTokenRecord, TeamMode,
} from '../domain/auth-tokens/index.ts';
import { withRetry } from './errors.ts';
import { PLAINTEXT, type SecretCodec } from './secret-box.ts';

/** Arbitrary constant: the advisory lock that makes "create the first signing key" happen once. */
const SIGNING_KEY_LOCK = 7_301_955_004;

const owner = (deletedAt: Date | null | undefined, mode: string | undefined): Owner => ({ userLive: deletedAt === null, mode: (mode ?? 'sandbox') as TeamMode });

export class PgAuthTokensRepo implements AuthTokensRepo {
  /**
   * `db` follows the request's transaction (tokens commit with the request); `keysDb` should be
   * the root handle: signing keys are cached by every request of the instance, so a key must never
   * live only inside one request's transaction (which may still roll back).
   */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly keysDb: Kysely<Database> = db,
    private readonly codec: SecretCodec = PLAINTEXT,
  ) {}

  private toKey(r: Selectable<AuthSigningKeysTable>): SigningKeyRecord {
    return {
      kid: r.kid, algorithm: r.algorithm, publicKeyPem: r.public_key, privateKeyPem: this.codec.readText(r.private_key, `signing key ${r.kid}`),
      createdAt: r.created_at, retiredAt: r.retired_at,
    };
  }

  private keyRow(k: SigningKeyRecord) {
    return { kid: k.kid, algorithm: k.algorithm, public_key: k.publicKeyPem, private_key: this.codec.writeText(k.privateKeyPem), created_at: k.createdAt, retired_at: k.retiredAt };
  }

  async activeSigningKeys(now: Date) {
    const rows = await this.keysDb.selectFrom('auth_signing_keys').selectAll()
      .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', now)]))
      .orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
    return rows.map((r) => this.toKey(r));
  }

  async allSigningKeys() {
    const rows = await this.keysDb.selectFrom('auth_signing_keys').selectAll().orderBy('created_at', 'desc').orderBy('kid', 'desc').execute();
    return rows.map((r) => this.toKey(r));
  }

  async ensureSigningKey(make: () => Promise<SigningKeyRecord>) {
    const newest = async (db: Kysely<Database>) => {
      const r = await db.selectFrom('auth_signing_keys').selectAll().where('retired_at', 'is', null)
        .orderBy('created_at', 'desc').orderBy('kid', 'desc').limit(1).executeTakeFirst();
      return r ? this.toKey(r) : null;
    };
    const found = await newest(this.keysDb);
    if (found) return found;
    // Instances starting together queue on the lock; the first makes the key, the others find it.
    return withRetry(() => this.keysDb.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`.execute(tx);
      const again = await newest(tx);
      if (again) return again;
      const k = await make();
      await tx.insertInto('auth_signing_keys').values(this.keyRow(k)).onConflict((oc) => oc.column('kid').doNothing()).execute();
      return k;
    }));
  }

  async rotateSigningKey(k: SigningKeyRecord, retireOthersAt: Date) {
    return this.keysDb.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(${SIGNING_KEY_LOCK})`.execute(tx);
      const retired = await tx.updateTable('auth_signing_keys').set({ retired_at: retireOthersAt })
        .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', retireOthersAt)]))
        .returning('kid').execute();
      await tx.insertInto('auth_signing_keys').values(this.keyRow(k)).execute();
      return retired.map((r) => r.kid);
    });
  }

  async retireSigningKey(kid: string, at: Date) {
    const r = await this.keysDb.updateTable('auth_signing_keys').set({ retired_at: at })
      .where('kid', '=', kid).where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', at)])).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async insertSignInToken(t: SignInTokenRecord) {
    await this.db.insertInto('auth_sign_in_tokens').values({
      team_id: t.teamId, jti: t.jti, user_id: t.userId, kid: t.kid, created_at: t.createdAt, expires_at: t.expiresAt, used_at: t.usedAt, revoked_at: t.revokedAt,
    }).execute();
  }

  async redeemSignInToken(teamId: string, jti: string, decide: (t: SignInTokenRecord | null, o: Owner) => RedeemDecision) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('auth_sign_in_tokens as t')
        .innerJoin('users as u', (j) => j.onRef('u.team_id', '=', 't.team_id').onRef('u.id', '=', 't.user_id'))
        .innerJoin('teams as tm', 'tm.id', 't.team_id')
        .select(['t.team_id', 't.jti', 't.user_id', 't.kid', 't.created_at', 't.expires_at', 't.used_at', 't.revoked_at', 'u.deleted_at', 'tm.mode'])
        .where('t.team_id', '=', teamId).where('t.jti', '=', jti)
        .forUpdate('t').executeTakeFirst();
      const rec: SignInTokenRecord | null = row
        ? { teamId: row.team_id, jti: row.jti, userId: row.user_id, kid: row.kid, createdAt: row.created_at, expiresAt: row.expires_at, usedAt: row.used_at, revokedAt: row.revoked_at }
        : null;
      const d = decide(rec, row ? owner(row.deleted_at, row.mode) : { userLive: false, mode: 'sandbox' });
      if (!d.ok || !rec) return d;
      await tx.updateTable('auth_sign_in_tokens').set({ used_at: d.usedAt }).where('team_id', '=', teamId).where('jti', '=', jti).execute();
      await tx.insertInto('auth_sessions').values({
        team_id: teamId, id: d.session.id, user_id: rec.userId, created_at: d.session.createdAt, revoked_at: null, revoked_reason: null,
      }).execute();
      await tx.insertInto('auth_refresh_tokens').values({
        team_id: teamId, token_hash: d.refresh.hash, session_id: d.session.id, user_id: rec.userId,
        created_at: d.refresh.createdAt, expires_at: d.refresh.expiresAt, rotated_at: null,
      }).execute();
      return d;
    }));
  }

  async useRefreshToken(teamId: string, hash: Buffer, decide: (r: RefreshTokenRecord | null, s: SessionRecord | null, o: Owner) => RefreshDecision) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('auth_refresh_tokens as r')
        .innerJoin('auth_sessions as s', (j) => j.onRef('s.team_id', '=', 'r.team_id').onRef('s.id', '=', 'r.session_id'))
        .innerJoin('users as u', (j) => j.onRef('u.team_id', '=', 's.team_id').onRef('u.id', '=', 's.user_id'))
        .innerJoin('teams as tm', 'tm.id', 'r.team_id')
        .select([
          'r.team_id', 'r.token_hash', 'r.session_id', 'r.user_id', 'r.created_at', 'r.expires_at', 'r.rotated_at',
          's.created_at as s_created_at', 's.revoked_at as s_revoked_at', 's.revoked_reason as s_revoked_reason', 'u.deleted_at', 'tm.mode',
        ])
        .where('r.team_id', '=', teamId).where('r.token_hash', '=', hash)
        .forUpdate('r').executeTakeFirst();
      const rec: RefreshTokenRecord | null = row
        ? { teamId: row.team_id, hash: row.token_hash, sessionId: row.session_id, userId: row.user_id, createdAt: row.created_at, expiresAt: row.expires_at, rotatedAt: row.rotated_at }
        : null;
      const ses: SessionRecord | null = row
        ? { teamId: row.team_id, id: row.session_id, userId: row.user_id, createdAt: row.s_created_at, revokedAt: row.s_revoked_at, revokedReason: row.s_revoked_reason }
        : null;
      const d = decide(rec, ses, row ? owner(row.deleted_at, row.mode) : { userLive: false, mode: 'sandbox' });
      if (!rec) return d;
      if (!d.ok) {
        if (d.revokeSession) {
          await tx.updateTable('auth_sessions').set({ revoked_at: d.revokeSession.at, revoked_reason: d.revokeSession.reason })
            .where('team_id', '=', teamId).where('id', '=', rec.sessionId).where('revoked_at', 'is', null).execute();
        }
        return d;
      }
      await tx.updateTable('auth_refresh_tokens').set({ rotated_at: d.rotatedAt }).where('team_id', '=', teamId).where('token_hash', '=', hash).execute();
      await tx.insertInto('auth_refresh_tokens').values({
        team_id: teamId, token_hash: d.next.hash, session_id: rec.sessionId, user_id: rec.userId,
        created_at: d.next.createdAt, expires_at: d.next.expiresAt, rotated_at: null,
      }).execute();
      return { ...d, sessionId: rec.sessionId, userId: rec.userId, mode: row!.mode as TeamMode };
    }));
  }

  async session(teamId: string, sessionId: string) {
    const r = await this.db.selectFrom('auth_sessions as s')
      .innerJoin('users as u', (j) => j.onRef('u.team_id', '=', 's.team_id').onRef('u.id', '=', 's.user_id'))
      .innerJoin('teams as tm', 'tm.id', 's.team_id')
      .select(['s.team_id', 's.id', 's.user_id', 's.created_at', 's.revoked_at', 's.revoked_reason', 'u.deleted_at', 'tm.mode'])
      .where('s.team_id', '=', teamId).where('s.id', '=', sessionId).executeTakeFirst();
    if (!r) return null;
    return {
      session: { teamId: r.team_id, id: r.id, userId: r.user_id, createdAt: r.created_at, revokedAt: r.revoked_at, revokedReason: r.revoked_reason },
      owner: owner(r.deleted_at, r.mode),
    };
  }

  async endSessions(teamId: string, userId: string, at: Date) {
    return this.db.transaction().execute(async (tx) => {
      const u = await tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('id', '=', userId).executeTakeFirst();
      if (!u) return null;
      const s = await tx.updateTable('auth_sessions').set({ revoked_at: at, revoked_reason: 'revoked' })
        .where('team_id', '=', teamId).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
      const t = await tx.updateTable('auth_sign_in_tokens').set({ revoked_at: at })
        .where('team_id', '=', teamId).where('user_id', '=', userId).where('revoked_at', 'is', null).where('used_at', 'is', null).executeTakeFirst();
      return { sessions: Number(s.numUpdatedRows), signInTokens: Number(t.numUpdatedRows) };
    });
  }

  async purge(before: Date) {
    const a = await this.db.deleteFrom('auth_sign_in_tokens').where('expires_at', '<', before).executeTakeFirst();
    const b = await this.db.deleteFrom('auth_refresh_tokens').where('expires_at', '<', before).executeTakeFirst();
    // Sessions whose every refresh token is gone can never be used again (their access tokens
    // expire long before their refresh tokens do).
    const c = await this.db.deleteFrom('auth_sessions')
      .where('created_at', '<', before)
      .where(({ not, exists, selectFrom }) => not(exists(
        selectFrom('auth_refresh_tokens as r').select(sql`1`.as('one'))
          .whereRef('r.team_id', '=', 'auth_sessions.team_id').whereRef('r.session_id', '=', 'auth_sessions.id'),
      )))
      .executeTakeFirst();
    return Number(a.numDeletedRows) + Number(b.numDeletedRows) + Number(c.numDeletedRows);
  }
}
