// PostgreSQL implementations of the append-only user records: demographics and insurance.
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { Demographics, DemographicsRepo, DemographicsVersion } from '../domain/demographics.ts';
import type { Insurance, InsuranceRepo } from '../domain/insurance.ts';
import { withRetry } from './errors.ts';

export class PgDemographicsRepo implements DemographicsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  append(teamId: string, userId: string, merge: (prev: Demographics | null) => DemographicsVersion) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      // The user row lock serialises writers, so each merge sees the version before it.
      const u = await tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('id', '=', userId).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
      if (!u) return null;
      const prev = await tx.selectFrom('demographics').select('data').where('team_id', '=', teamId).where('user_id', '=', userId)
        .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
      const next = merge((prev?.data as unknown as Demographics) ?? null);
      await tx.insertInto('demographics').values({ team_id: teamId, user_id: userId, id: next.id, data: JSON.stringify(next.data), key_id: next.keyId, created_at: next.createdAt }).execute();
      return next;
    }));
  }

  async latest(teamId: string, userId: string) {
    const r = await this.db.selectFrom('demographics').selectAll().where('team_id', '=', teamId).where('user_id', '=', userId)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return r ? { id: r.id, data: r.data as unknown as Demographics, keyId: r.key_id, createdAt: r.created_at } : null;
  }

  async history(teamId: string, userId: string) {
    const rows = await this.db.selectFrom('demographics').selectAll().where('team_id', '=', teamId).where('user_id', '=', userId)
      .orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, data: r.data as unknown as Demographics, keyId: r.key_id, createdAt: r.created_at }));
  }
}

export class PgInsuranceRepo implements InsuranceRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async append(teamId: string, userId: string, id: string, record: Insurance, keyId: string | null, at: Date) {
    // insert … select: the row is written only if the user is live, in one statement.
    const r = await this.db.insertInto('insurances')
      .columns(['team_id', 'user_id', 'id', 'is_primary', 'data', 'key_id', 'created_at'])
      .expression((eb) => eb.selectFrom('users')
        .select([
          eb.val(teamId).as('team_id'), eb.val(userId).as('user_id'), eb.val(id).as('id'), eb.val(record.is_primary).as('is_primary'),
          eb.val(JSON.stringify(record)).as('data'), eb.val(keyId).as('key_id'), eb.val(at).as('created_at'),
        ])
        .where('team_id', '=', teamId).where('id', '=', userId).where('deleted_at', 'is', null))
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async latest(teamId: string, userId: string, isPrimary: boolean) {
    const r = await this.db.selectFrom('insurances').select('data').where('team_id', '=', teamId).where('user_id', '=', userId).where('is_primary', '=', isPrimary)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
    return r ? (r.data as unknown as Insurance) : null;
  }
}
