// PostgreSQL implementation of the domain's ProfilesRepo. Queries only; rules live in
// src/domain/profiles.ts. Profile fields are columns of `users` (0003_profile.sql).
import { randomBytes } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { ConnectionRow, Database, UsersTable } from '../db/schema.ts';
import type { BasicOrder, InsertProfiledResult, ListCursor, Profile, ProfiledUser, ProfileSelector, ProfilesRepo } from '../domain/profiles.ts';
import type { StoredSync } from '../domain/data-syncs.ts';
import type { Connection } from '../domain/connections.ts';
import { toConnection, toUser } from './users.ts';
import { isUniqueViolation, withRetry } from './errors.ts';
import { precompile, type Precompiled } from './compiled.ts';

const LIVE_EMAIL_INDEX = 'users_live_email';

type UserRow = Selectable<UsersTable>;

function toProfile(r: UserRow): Profile {
  return {
    firstName: r.first_name,
    lastName: r.last_name,
    email: r.email,
    language: r.language,
    measurementUnit: r.measurement_unit,
    gender: r.gender,
    heightCm: r.height_cm,
    weightKg: r.weight_kg,
    thresholds: { ftp: r.threshold_ftp, lthr: r.threshold_lthr, mhr: r.threshold_mhr },
    location: { lat: r.location_lat, lon: r.location_lon },
    coachEnabled: r.coach_enabled,
    tzOffsetSeconds: r.tz_offset_seconds,
  };
}

const toProfiled = (r: UserRow): ProfiledUser => ({ user: toUser(r), profile: toProfile(r), basicId: Number(r.basic_id) });

/** A profile as the `users` columns that hold it (one mapping, shared with bulk import). */
export function profileFields(p: ProfiledUser['profile']) {
  return {
    first_name: p.firstName,
    last_name: p.lastName,
    email: p.email,
    language: p.language,
    measurement_unit: p.measurementUnit,
    gender: p.gender,
    height_cm: p.heightCm,
    weight_kg: p.weightKg,
    threshold_ftp: p.thresholds.ftp,
    threshold_lthr: p.thresholds.lthr,
    threshold_mhr: p.thresholds.mhr,
    location_lat: p.location.lat,
    location_lon: p.location.lon,
    coach_enabled: p.coachEnabled,
    tz_offset_seconds: p.tzOffsetSeconds,
  };
}

/** The columns a profile write touches: the profile, the shared birthday, updated_at. */
function profileColumns(u: ProfiledUser) {
  const b = u.user.fallbackBirthDate;
  return {
    ...profileFields(u.profile),
    fallback_birth_date: b?.value ?? null,
    fallback_birth_date_source: b?.source ?? null,
    fallback_birth_date_updated_at: b?.updatedAt ?? null,
    updated_at: u.user.updatedAt,
  };
}

const selWhere = (sel: ProfileSelector) => (eb: ExpressionBuilder<Database, 'users'>) =>
  'id' in sel ? eb('id', '=', sel.id) : 'clientUserId' in sel ? eb('client_user_id', '=', sel.clientUserId) : eb('basic_id', '=', sel.basicId);

/** Text sorts by code point (collation "C"); ties by basic id. */
const SORT_SQL: Record<BasicOrder['field'], ReturnType<typeof sql.raw>> = {
  basicId: sql.raw('basic_id'),
  firstName: sql.raw('first_name collate "C"'),
  lastName: sql.raw('last_name collate "C"'),
  email: sql.raw('email collate "C"'),
};

type JsonConnection = Omit<ConnectionRow, 'created_at' | 'errored_at'> & { created_at: string; errored_at: string | null };
type JsonSync = { provider: string; data_type: string; sync_type: string; status: string; updated_at: string };

export class PgProfilesRepo implements ProfilesRepo {
  /** Onvy's read of one user: the row, its connections and its sync entries in one statement. */
  private readonly withSyncsByClientId: Precompiled<[string, string], UserRow & { conns: JsonConnection[]; syncs: JsonSync[] }>;

  constructor(private readonly db: Kysely<Database>) {
    this.withSyncsByClientId = precompile(db, 2, (k, team, cid) => k.selectFrom('users').selectAll('users')
      .select((eb) => [
        jsonArrayFrom(eb.selectFrom('connections').selectAll('connections')
          .whereRef('connections.team_id', '=', 'users.team_id').whereRef('connections.user_id', '=', 'users.id')
          .orderBy('connections.created_at').orderBy('connections.provider')).as('conns'),
        jsonArrayFrom(eb.selectFrom('data_syncs').select(['data_syncs.provider', 'data_syncs.data_type', 'data_syncs.sync_type', 'data_syncs.status', 'data_syncs.updated_at'])
          .whereRef('data_syncs.team_id', '=', 'users.team_id').whereRef('data_syncs.user_id', '=', 'users.id')).as('syncs'),
      ])
      .where('users.team_id', '=', team).where('users.client_user_id', '=', cid).where('users.deleted_at', 'is', null));
  }

  async findWithSyncInputs(teamId: string, clientUserId: string) {
    const r = (await this.withSyncsByClientId(this.db, teamId, clientUserId)).rows[0];
    if (!r) return null;
    return {
      user: toProfiled(r),
      connections: r.conns.map((c) => toConnection({ ...c, created_at: new Date(c.created_at), errored_at: c.errored_at ? new Date(c.errored_at) : null })),
      stored: r.syncs.map((x) => ({ provider: x.provider, dataType: x.data_type, syncType: x.sync_type, status: x.status, updatedAt: new Date(x.updated_at) }) as StoredSync),
    };
  }

  async insert(u: ProfiledUser, opts: { liveCap?: number; clientIdFromBasicId?: boolean }): Promise<InsertProfiledResult> {
    const teamId = u.user.teamId;
    const row = {
      team_id: teamId,
      id: u.user.id,
      client_user_id: u.user.clientUserId,
      created_at: u.user.createdAt,
      deleted_at: null,
      ...profileColumns(u),
    };
    // Without a sandbox cap, one autocommit insert (after one nextval for the basic face's name)
    // instead of a transaction of up to four statements. A miss (the client id, or the generated
    // `basic:<n>` name, is held by a live user) goes on to the general path below, which tells the
    // two apart and names around a held name.
    if (!opts.liveCap) {
      let values = row;
      if (opts.clientIdFromBasicId) {
        const n = Number((await sql<{ n: string }>`select nextval('users_basic_id_seq') as n`.execute(this.db)).rows[0]!.n);
        values = { ...row, client_user_id: `basic:${n}`, basic_id: n } as typeof row;
      }
      let ins: { basic_id: number; client_user_id: string } | undefined;
      try {
        ins = await this.db.insertInto('users').values(values)
          .onConflict((oc) => oc.columns(['team_id', 'client_user_id']).where('deleted_at', 'is', null).doNothing())
          .returning(['basic_id', 'client_user_id']).executeTakeFirst();
      } catch (e) {
        if (isUniqueViolation(e, LIVE_EMAIL_INDEX)) return { ok: false, reason: 'email_taken' };
        throw e;
      }
      if (ins) return { ok: true, basicId: Number(ins.basic_id), clientUserId: ins.client_user_id };
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      let r: { basic_id: number; client_user_id: string } | 'cap' | null;
      try {
        r = await withRetry(() => this.db.transaction().execute(async (tx) => {
          if (opts.liveCap) {
            // Same serialisation as PgUsersRepo.insert: the cap is a count of the team's live users.
            await sql`select pg_advisory_xact_lock(hashtextextended(${teamId}, 0))`.execute(tx);
            const { n } = await tx.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
              .where('team_id', '=', teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
            if (Number(n) >= opts.liveCap) return 'cap' as const;
          }
          let values = row;
          if (opts.clientIdFromBasicId) {
            const n = Number((await sql<{ n: number }>`select nextval('users_basic_id_seq') as n`.execute(tx)).rows[0]!.n);
            let cid = `basic:${n}`;
            const held = await tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('client_user_id', '=', cid).where('deleted_at', 'is', null).executeTakeFirst();
            if (held) cid = `basic:${n}-${randomBytes(4).toString('hex')}`;
            values = { ...row, client_user_id: cid, basic_id: n } as typeof row;
          }
          const ins = await tx.insertInto('users').values(values)
            .onConflict((oc) => oc.columns(['team_id', 'client_user_id']).where('deleted_at', 'is', null).doNothing())
            .returning(['basic_id', 'client_user_id']).executeTakeFirst();
          return ins ?? null;
        }));
      } catch (e) {
        if (isUniqueViolation(e, LIVE_EMAIL_INDEX)) return { ok: false, reason: 'email_taken' };
        throw e;
      }
      if (r === 'cap') return { ok: false, reason: 'cap' };
      if (r) return { ok: true, basicId: Number(r.basic_id), clientUserId: r.client_user_id };
      if (opts.clientIdFromBasicId) continue; // lost a race for the generated name: take the next number
      const holder = await this.db.selectFrom('users').select(['id', 'created_at'])
        .where('team_id', '=', teamId).where('client_user_id', '=', u.user.clientUserId).where('deleted_at', 'is', null).executeTakeFirst();
      // The holder may have been deleted between the two statements: try again.
      if (holder) return { ok: false, reason: 'taken', existing: { userId: holder.id, createdAt: holder.created_at } };
    }
    throw new Error('create did not settle after 5 attempts');
  }

  async find(teamId: string, sel: ProfileSelector) {
    const r = await this.db.selectFrom('users').selectAll()
      .where('team_id', '=', teamId).where(selWhere(sel)).where('deleted_at', 'is', null).executeTakeFirst();
    return r ? toProfiled(r) : null;
  }

  async listByCreated(teamId: string, after: ListCursor | null, limit: number) {
    let q = this.db.selectFrom('users').selectAll()
      .select(sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'))
      .where('team_id', '=', teamId).where('deleted_at', 'is', null);
    if (after) q = q.where(sql<boolean>`(created_at, client_user_id collate "C") > (${after.createdAt}::timestamptz, ${after.clientUserId} collate "C")`);
    const [rows, count] = await Promise.all([
      q.orderBy('created_at').orderBy(sql`client_user_id collate "C"`).limit(limit + 1).execute(),
      this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('team_id', '=', teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow(),
    ]);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return {
      users: page.map(toProfiled),
      total: Number(count.n),
      next: more && last ? { createdAt: last.cursor_at, clientUserId: last.client_user_id } : null,
    };
  }

  async listBasicVisible(teamId: string, order: BasicOrder, offset: number, limit: number) {
    const dir = order.descending ? sql.raw('desc') : sql.raw('asc');
    let q = this.db.selectFrom('users').selectAll()
      .where('team_id', '=', teamId).where('deleted_at', 'is', null)
      // isBasicVisible, in SQL
      .where('first_name', 'is not', null).where('last_name', 'is not', null).where('email', 'is not', null)
      .orderBy(sql`${SORT_SQL[order.field]} ${dir}`);
    if (order.field !== 'basicId') q = q.orderBy('basic_id');
    const rows = await q.offset(offset).limit(limit).execute();
    return rows.map(toProfiled);
  }

  async update(teamId: string, sel: ProfileSelector, apply: (cur: ProfiledUser) => ProfiledUser | null) {
    try {
      return await withRetry(() => this.db.transaction().execute(async (tx) => {
        const cur = await tx.selectFrom('users').selectAll()
          .where('team_id', '=', teamId).where(selWhere(sel)).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
        if (!cur) return null;
        const before = toProfiled(cur);
        const next = apply(before);
        if (!next) return before;
        await tx.updateTable('users').set(profileColumns(next)).where('team_id', '=', teamId).where('id', '=', cur.id).execute();
        return next;
      }));
    } catch (e) {
      if (isUniqueViolation(e, LIVE_EMAIL_INDEX)) return 'email_taken' as const;
      throw e;
    }
  }

  async remove(teamId: string, sel: ProfileSelector, guard: (cur: ProfiledUser) => boolean) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      const cur = await tx.selectFrom('users').selectAll()
        .where('team_id', '=', teamId).where(selWhere(sel)).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
      if (!cur || !guard(toProfiled(cur))) return null;
      // Connections, devices, records, tokens and sync entries cascade.
      await tx.deleteFrom('users').where('team_id', '=', teamId).where('id', '=', cur.id).execute();
      return cur.id;
    }));
  }

  async syncInputs(teamId: string, userIds: string[]) {
    const out = new Map<string, { connections: Connection[]; stored: StoredSync[] }>();
    if (userIds.length === 0) return out;
    const [conns, syncs] = await Promise.all([
      this.db.selectFrom('connections').selectAll().where('team_id', '=', teamId).where('user_id', 'in', userIds).orderBy('created_at').orderBy('provider').execute(),
      this.db.selectFrom('data_syncs').selectAll().where('team_id', '=', teamId).where('user_id', 'in', userIds).execute(),
    ]);
    const slot = (id: string) => {
      let s = out.get(id);
      if (!s) out.set(id, (s = { connections: [], stored: [] }));
      return s;
    };
    for (const c of conns) slot(c.user_id).connections.push(toConnection(c));
    for (const s of syncs) slot(s.user_id).stored.push({ provider: s.provider, dataType: s.data_type, syncType: s.sync_type, status: s.status, updatedAt: s.updated_at });
    return out;
  }

  async recordSync(teamId: string, userId: string, e: StoredSync, c: { id: string; status: 'connected' | 'error'; error: { type: string; message: string } | null; setStatus: boolean }) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      // The user row lock keeps a concurrent delete from leaving a connection behind.
      const u = await tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('id', '=', userId).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
      if (!u) return false;
      const errorCols = { error_type: c.error?.type ?? null, error_message: c.error?.message ?? null, errored_at: c.error ? e.updatedAt : null };
      await tx.insertInto('connections').values({
        team_id: teamId, user_id: userId, provider: e.provider, id: c.id, status: c.status, external_user_id: null,
        ...errorCols, resources: '{}', demo: false, created_at: e.updatedAt,
      }).onConflict((oc) => oc.columns(['team_id', 'user_id', 'provider']).doNothing()).execute();
      if (c.setStatus) {
        await tx.updateTable('connections').set({ status: c.status, ...errorCols })
          .where('team_id', '=', teamId).where('user_id', '=', userId).where('provider', '=', e.provider).execute();
      }
      await tx.insertInto('data_syncs').values({
        team_id: teamId, user_id: userId, provider: e.provider, data_type: e.dataType, sync_type: e.syncType, status: e.status, updated_at: e.updatedAt,
      }).onConflict((oc) => oc.columns(['team_id', 'user_id', 'provider', 'data_type', 'sync_type']).doUpdateSet({ status: e.status, updated_at: e.updatedAt })).execute();
      await tx.updateTable('users').set({ updated_at: e.updatedAt }).where('team_id', '=', teamId).where('id', '=', userId).execute();
      return true;
    }));
  }

  async disconnect(teamId: string, userId: string, providerSlug: string, now: Date) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      const gone = await tx.deleteFrom('connections').where('team_id', '=', teamId).where('user_id', '=', userId).where('provider', '=', providerSlug).executeTakeFirst();
      await tx.deleteFrom('data_syncs').where('team_id', '=', teamId).where('user_id', '=', userId).where('provider', '=', providerSlug).execute();
      if (Number(gone.numDeletedRows) === 0) return false;
      await tx.updateTable('users').set({ updated_at: now }).where('team_id', '=', teamId).where('id', '=', userId).where('deleted_at', 'is', null).execute();
      return true;
    }));
  }
}
