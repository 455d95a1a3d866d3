// PostgreSQL implementation of the domain's PortalRepo.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { PortalGrant, PortalRepo } from '../domain/portal.ts';

const SECRET_NAME = 'portal_signing_v1';

export class PgPortalRepo implements PortalRepo {
  private cached: Buffer | null = null;
  constructor(private readonly db: Kysely<Database>) {}

  async secret(): Promise<Buffer> {
    if (this.cached) return this.cached;
    // First instance to ask creates it; everyone then reads the same row.
    await this.db.insertInto('server_secrets').values({ name: SECRET_NAME, value: randomBytes(32), created_at: new Date() })
      .onConflict((oc) => oc.column('name').doNothing()).execute();
    const r = await this.db.selectFrom('server_secrets').select('value').where('name', '=', SECRET_NAME).executeTakeFirstOrThrow();
    this.cached = r.value;
    return r.value;
  }

  async saveLink(code: string, g: PortalGrant, now: Date) {
    await this.db.insertInto('portal_links').values({ code, team_id: g.teamId, user_id: g.userId, context: g.context, order_id: g.orderId, expires_at: g.expiresAt, created_at: now }).execute();
  }

  async findLink(code: string) {
    const r = await this.db.selectFrom('portal_links').selectAll().where('code', '=', code).executeTakeFirst();
    return r ? { teamId: r.team_id, userId: r.user_id, context: r.context as PortalGrant['context'], orderId: r.order_id, expiresAt: r.expires_at } : null;
  }
}
