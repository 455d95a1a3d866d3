// PostgreSQL implementation of the domain's PortalRepo.
//
// S3: the signing secret is created through the root handle, outside any request transaction, so
// it is committed before any instance caches or uses it. Secrets are cached per instance for
// CACHE_MS (a rotation reaches every instance within that), and looked up again at once, at most
// once a second, when a link does not verify with the cached ones. Values are sealed with
// ROSTER_SECRET_KEY when it is set (store/secret-box.ts).
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { PortalGrant, PortalRepo, PortalSecrets } from '../domain/portal.ts';
import { PLAINTEXT, type SecretCodec } from './secret-box.ts';

const SECRET_NAME = 'portal_signing_v1';
const CACHE_MS = 60_000;
const MISS_RELOAD_MS = 1_000;

export class PgPortalRepo implements PortalRepo {
  private cached: { secrets: PortalSecrets; at: number } | null = null;

  /** `db` follows the request's transaction; `rootDb` never does (secrets). */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly rootDb: Kysely<Database> = db,
    private readonly codec: SecretCodec = PLAINTEXT,
    /** How long secrets are cached (the signing keys' cache time; tests shorten it). */
    private readonly cacheMs = CACHE_MS,
  ) {}

  async secrets(fresh = false): Promise<PortalSecrets> {
    const age = this.cached ? Date.now() - this.cached.at : Infinity;
    if (this.cached && age < this.cacheMs && !(fresh && age >= MISS_RELOAD_MS)) return this.cached.secrets;
    let rows = await this.load();
    if (rows.length === 0) {
      // First instance to ask creates it, committed on its own; everyone then reads the same row.
      await this.rootDb.insertInto('server_secrets').values({ name: SECRET_NAME, value: this.codec.writeBytes(randomBytes(32)), created_at: new Date() })
        .onConflict((oc) => oc.column('name').doNothing()).execute();
      rows = await this.load();
    }
    const values = rows.map((r) => this.codec.readBytes(r.value, `server secret ${r.name}`));
    const secrets = { sign: values[0]!, verify: values };
    this.cached = { secrets, at: Date.now() };
    return secrets;
  }

  /** Secrets that still verify, the signing one (newest not retiring) first. */
  private load() {
    return this.rootDb.selectFrom('server_secrets').select(['name', 'value'])
      .where('name', 'like', `${SECRET_NAME}%`)
      .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', new Date())]))
      .orderBy(sql`retired_at is null`, 'desc').orderBy('created_at', 'desc').orderBy('name', 'desc')
      .execute();
  }

  async rotateSecret(graceS: number, now: Date) {
    const retireAt = new Date(now.getTime() + graceS * 1000);
    const r = await this.rootDb.transaction().execute(async (tx) => {
      const retiring = await tx.updateTable('server_secrets').set({ retired_at: retireAt })
        .where('name', 'like', `${SECRET_NAME}%`)
        .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', retireAt)]))
        .executeTakeFirst();
      await tx.insertInto('server_secrets').values({ name: `${SECRET_NAME}.${now.getTime()}`, value: this.codec.writeBytes(randomBytes(32)), created_at: now }).execute();
      return Number(retiring.numUpdatedRows);
    });
    this.cached = null;
    return { retiring: r, retireAt };
  }

  async saveLink(code: string, g: PortalGrant, now: Date) {
    await this.db.insertInto('portal_links').values({ code, team_id: g.teamId, user_id: g.userId, context: g.context, order_id: g.orderId, expires_at: g.expiresAt, created_at: now }).execute();
  }

  async findLink(code: string) {
    const r = await this.db.selectFrom('portal_links').selectAll().where('code', '=', code).executeTakeFirst();
    return r
      ? { teamId: r.team_id, userId: r.user_id, context: r.context as PortalGrant['context'], orderId: r.order_id, expiresAt: r.expires_at, createdAt: r.created_at, revokedAt: r.revoked_at }
      : null;
  }

  async notBefore(teamId: string, userId: string) {
    const r = await this.db.selectFrom('portal_revocations').select('not_before').where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
    return r?.not_before ?? null;
  }

  async revokeUserLinks(teamId: string, userId: string, at: Date) {
    return this.db.transaction().execute(async (tx) => {
      const u = await tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('id', '=', userId).executeTakeFirst();
      if (!u) return null;
      await tx.insertInto('portal_revocations').values({ team_id: teamId, user_id: userId, not_before: at })
        .onConflict((oc) => oc.columns(['team_id', 'user_id']).doUpdateSet({ not_before: sql`greatest(portal_revocations.not_before, excluded.not_before)` }))
        .execute();
      const r = await tx.updateTable('portal_links').set({ revoked_at: at })
        .where('team_id', '=', teamId).where('user_id', '=', userId).where('revoked_at', 'is', null).where('expires_at', '>', at).executeTakeFirst();
      return Number(r.numUpdatedRows);
    });
  }

  async revokeLink(teamId: string, code: string, at: Date) {
    const r = await this.db.updateTable('portal_links').set({ revoked_at: at })
      .where('team_id', '=', teamId).where('code', '=', code).where('revoked_at', 'is', null).where('expires_at', '>', at).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
