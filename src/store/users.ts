// PostgreSQL implementation of the domain's UsersRepo. Queries only; rules live in src/domain.
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Database, UsersTable, ConnectionRow } from '../db/schema.ts';
import type { User, UsersRepo, UndoTarget, TeamMetrics, UserView } from '../domain/users.ts';
import type { Connection } from '../domain/connections.ts';
import { isUniqueViolation, withRetry } from './errors.ts';
import { precompile, type Precompiled } from './compiled.ts';

const LIVE_CLIENT_ID_INDEX = 'users_live_client_user_id';

/** The columns a User is made of (users also holds the other faces' profile columns). */
export const USER_COLUMNS = [
  'team_id', 'id', 'client_user_id', 'created_at', 'updated_at', 'deleted_at',
  'fallback_time_zone', 'fallback_time_zone_source', 'fallback_time_zone_updated_at',
  'fallback_birth_date', 'fallback_birth_date_source', 'fallback_birth_date_updated_at',
  'ingestion_start', 'ingestion_end',
] as const satisfies readonly (keyof UsersTable)[];
type UserColumns = Pick<Selectable<UsersTable>, (typeof USER_COLUMNS)[number]>;
const USER_COLUMNS_Q = USER_COLUMNS.map((c) => `users.${c}` as const);

export function toUser(r: UserColumns): User {
  return {
    teamId: r.team_id,
    id: r.id,
    clientUserId: r.client_user_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
    fallbackTimeZone: r.fallback_time_zone !== null ? { value: r.fallback_time_zone, source: r.fallback_time_zone_source ?? 'manual', updatedAt: r.fallback_time_zone_updated_at ?? r.updated_at } : null,
    fallbackBirthDate: r.fallback_birth_date !== null ? { value: r.fallback_birth_date, source: r.fallback_birth_date_source ?? 'manual', updatedAt: r.fallback_birth_date_updated_at ?? r.updated_at } : null,
    ingestionStart: r.ingestion_start,
    ingestionEnd: r.ingestion_end,
  };
}

function fromUser(u: User) {
  return {
    team_id: u.teamId,
    id: u.id,
    client_user_id: u.clientUserId,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    deleted_at: u.deletedAt,
    fallback_time_zone: u.fallbackTimeZone?.value ?? null,
    fallback_time_zone_source: u.fallbackTimeZone?.source ?? null,
    fallback_time_zone_updated_at: u.fallbackTimeZone?.updatedAt ?? null,
    fallback_birth_date: u.fallbackBirthDate?.value ?? null,
    fallback_birth_date_source: u.fallbackBirthDate?.source ?? null,
    fallback_birth_date_updated_at: u.fallbackBirthDate?.updatedAt ?? null,
    ingestion_start: u.ingestionStart,
    ingestion_end: u.ingestionEnd,
  };
}

/** Any user: only its shape is used, to list the insert's columns once. */
const SAMPLE_USER: User = {
  teamId: '', id: '', clientUserId: '', createdAt: new Date(0), updatedAt: new Date(0), deletedAt: null,
  fallbackTimeZone: null, fallbackBirthDate: null, ingestionStart: null, ingestionEnd: null,
};

export function toConnection(r: ConnectionRow): Connection {
  return {
    provider: r.provider,
    status: r.status,
    createdAt: r.created_at,
    externalUserId: r.external_user_id,
    error: r.error_type ? { type: r.error_type, message: r.error_message ?? '', at: r.errored_at ?? r.created_at } : null,
    resources: resourcesFromJson(r.resources),
    demo: r.demo,
  };
}

type StoredResource = { status: 'available' | 'unavailable'; scope_requirements?: { user_granted: { required: string[]; optional: string[] }; user_denied: { required: string[]; optional: string[] } } | null };

function resourcesFromJson(j: Record<string, unknown>): Connection['resources'] {
  const out: Connection['resources'] = {};
  for (const [k, v] of Object.entries(j as Record<string, StoredResource>)) {
    const s = v.scope_requirements;
    out[k] = { status: v.status, scopeRequirements: s ? { userGranted: s.user_granted, userDenied: s.user_denied } : null };
  }
  return out;
}

/** The user's connections as a JSON array column, so a user and its connections are one query. */
const connectionsJson = (eb: ExpressionBuilder<Database, 'users'>) =>
  jsonArrayFrom(eb.selectFrom('connections').selectAll('connections')
    .whereRef('connections.team_id', '=', 'users.team_id').whereRef('connections.user_id', '=', 'users.id')
    .orderBy('connections.created_at').orderBy('connections.provider')).as('conns');

type JsonConnection = Omit<ConnectionRow, 'created_at' | 'errored_at'> & { created_at: string; errored_at: string | null };

function toView(r: UserColumns & { conns: unknown }): UserView {
  const conns = (r.conns as JsonConnection[]).map((c) => toConnection({ ...c, created_at: new Date(c.created_at), errored_at: c.errored_at ? new Date(c.errored_at) : null }));
  return { user: toUser(r), connections: conns };
}

/** The hot paths' SQL, compiled once per repository (src/store/compiled.ts). */
function hotQueries(db: Kysely<Database>) {
  const view = (k: Kysely<Database>) => k.selectFrom('users').select(USER_COLUMNS_Q).select(connectionsJson);
  return {
    viewById: precompile<[string, string], UserColumns & { conns: unknown }>(db, 2, (k, team, id) =>
      view(k).where('users.team_id', '=', team).where('users.id', '=', id)),
    liveViewByClientId: precompile<[string, string], UserColumns & { conns: unknown }>(db, 2, (k, team, cid) =>
      view(k).where('users.team_id', '=', team).where('users.client_user_id', '=', cid).where('users.deleted_at', 'is', null)),
    // A deferred join: the page's keys come from the index alone (users_live_created), and only
    // those rows are read and given their connections. Selecting the connections in the same
    // query as the OFFSET would compute them for every skipped row (at offset 900,000 of a
    // million-user team: 3.9 s instead of 0.19 s, docs/benchmark.md "At scale").
    livePage: precompile<[string, number, number], UserColumns & { conns: unknown }>(db, 3, (k, team, offset, limit) =>
      view(k).innerJoin(
        (eb) => eb.selectFrom('users').select(['id']).where('team_id', '=', team).where('deleted_at', 'is', null)
          .orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).as('page'),
        (j) => j.onRef('page.id', '=', 'users.id'),
      ).where('users.team_id', '=', team).orderBy('users.created_at', 'desc').orderBy('users.id', 'desc')),
    liveCount: precompile<[string], { n: number }>(db, 1, (k, team) =>
      k.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('team_id', '=', team).where('deleted_at', 'is', null)),
    liveVersioned: precompile<[string, string], UserColumns & { version: string }>(db, 2, (k, team, id) =>
      k.selectFrom('users').select(USER_COLUMNS_Q).select(sql<string>`users.xmin::text`.as('version'))
        .where('users.team_id', '=', team).where('users.id', '=', id).where('users.deleted_at', 'is', null)),
    holder: precompile<[string, string], { id: string; created_at: Date }>(db, 2, (k, team, cid) =>
      k.selectFrom('users').select(['id', 'created_at']).where('team_id', '=', team).where('client_user_id', '=', cid).where('deleted_at', 'is', null)),
  };
}

export class PgUsersRepo implements UsersRepo {
  private readonly q: ReturnType<typeof hotQueries>;
  private readonly insertColumns: (keyof ReturnType<typeof fromUser>)[];
  private readonly insertUser: Precompiled<unknown[], { id: string }>;
  private readonly updateColumns: (keyof ReturnType<typeof fromUser>)[];
  private readonly updateUser: Precompiled<unknown[], { id: string }>;

  constructor(private readonly db: Kysely<Database>) {
    this.q = hotQueries(db);
    // The plain create (no sandbox cap): one statement. The partial unique index decides who wins
    // a race on client_user_id; ON CONFLICT DO NOTHING turns the loser into "no row".
    const cols = Object.keys(fromUser(SAMPLE_USER)) as (keyof ReturnType<typeof fromUser>)[];
    this.insertUser = precompile<unknown[], { id: string }>(db, cols.length, (k, ...slots) =>
      k.insertInto('users').values(Object.fromEntries(cols.map((c, i) => [c, slots[i]])) as never)
        .onConflict((oc) => oc.columns(['team_id', 'client_user_id']).where('deleted_at', 'is', null).doNothing())
        .returning('id'));
    this.insertColumns = cols;
    // Every column but the key and the lifecycle ones, written only over the version that was read.
    const upd = cols.filter((c) => c !== 'team_id' && c !== 'id' && c !== 'created_at' && c !== 'deleted_at');
    this.updateColumns = upd;
    this.updateUser = precompile<unknown[], { id: string }>(db, upd.length + 3, (k, team, id, version, ...slots) =>
      k.updateTable('users').set(Object.fromEntries(upd.map((c, i) => [c, slots[i]])) as never)
        .where('team_id', '=', team).where('id', '=', id).where('deleted_at', 'is', null)
        .where(sql`xmin`, '=', sql`${version}::xid`).returning('id'));
  }

  async insert(user: User, opts: { liveCap?: number }) {
    const row = fromUser(user);
    const attempt = async (db: Kysely<Database>) => (await this.insertUser(db, ...this.insertColumns.map((c) => row[c]))).rows[0];

    for (let i = 0; i < 5; i++) {
      let inserted: { id: string } | undefined;
      if (opts.liveCap) {
        const cap = opts.liveCap;
        // The sandbox cap is a count, so concurrent creates of one team are serialised by a
        // transaction-scoped advisory lock on the team (sandbox teams only; production never waits).
        const r = await withRetry(() => this.db.transaction().execute(async (tx) => {
          await sql`select pg_advisory_xact_lock(hashtextextended(${user.teamId}, 0))`.execute(tx);
          const { n } = await tx.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
            .where('team_id', '=', user.teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
          if (n >= cap) return 'cap' as const;
          return attempt(tx);
        }));
        if (r === 'cap') return { ok: false as const, reason: 'cap' as const };
        inserted = r;
      } else {
        inserted = await attempt(this.db);
      }
      if (inserted) return { ok: true as const };
      const holder = (await this.q.holder(this.db, user.teamId, user.clientUserId)).rows[0];
      // The holder may have been deleted between the two statements: try the insert again.
      if (holder) return { ok: false as const, reason: 'taken' as const, existing: { userId: holder.id, createdAt: holder.created_at } };
    }
    throw new Error('create did not settle after 5 attempts');
  }

  async find(teamId: string, id: string) {
    const r = await this.db.selectFrom('users').selectAll().where('team_id', '=', teamId).where('id', '=', id).executeTakeFirst();
    return r ? toUser(r) : null;
  }

  async findLiveByClientId(teamId: string, clientUserId: string) {
    const r = await this.db.selectFrom('users').selectAll()
      .where('team_id', '=', teamId).where('client_user_id', '=', clientUserId).where('deleted_at', 'is', null).executeTakeFirst();
    return r ? toUser(r) : null;
  }

  async listLive(teamId: string, offset: number, limit: number) {
    const [rows, count] = await Promise.all([
      limit === 0 ? Promise.resolve([]) : this.db.selectFrom('users').selectAll()
        .where('team_id', '=', teamId).where('deleted_at', 'is', null)
        .orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).execute(),
      this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('team_id', '=', teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow(),
    ]);
    return { users: rows.map(toUser), total: count.n };
  }

  async update(teamId: string, id: string, apply: (u: User) => User) {
    // Optimistic first: read, apply the domain's change, write only if the row is still the
    // version read (its xmin). Two statements and one commit, no explicit transaction and no row
    // lock held across round trips. A concurrent writer makes the update match no row; after two
    // such losses (a row being written by many at once) the change is made under a row lock
    // instead, which always makes progress. Inside an idempotent request's transaction the same
    // statements simply join it.
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const cur = (await this.q.liveVersioned(this.db, teamId, id)).rows[0];
        if (!cur) return null;
        const next = apply(toUser(cur));
        const set = fromUser(next);
        const done = await this.updateUser(this.db, teamId, id, cur.version, ...this.updateColumns.map((c) => set[c]));
        if (done.rows.length) return next;
      }
      return await withRetry(() => this.db.transaction().execute(async (tx) => {
        const cur = await tx.selectFrom('users').select(USER_COLUMNS)
          .where('team_id', '=', teamId).where('id', '=', id).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
        if (!cur) return null;
        const next = apply(toUser(cur));
        const { team_id: _t, id: _i, created_at: _c, deleted_at: _d, ...set } = fromUser(next);
        await tx.updateTable('users').set(set).where('team_id', '=', teamId).where('id', '=', id).execute();
        return next;
      }));
    } catch (e) {
      if (isUniqueViolation(e, LIVE_CLIENT_ID_INDEX)) return 'taken' as const;
      throw e;
    }
  }

  async softDelete(teamId: string, id: string, now: Date) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      const r = await tx.updateTable('users').set({ deleted_at: now, updated_at: now })
        .where('team_id', '=', teamId).where('id', '=', id).where('deleted_at', 'is', null).returning('id').executeTakeFirst();
      if (!r) return false;
      await tx.deleteFrom('connections').where('team_id', '=', teamId).where('user_id', '=', id).execute();
      return true;
    }));
  }

  async restore(teamId: string, target: UndoTarget, since: Date, now: Date) {
    try {
      const r = await this.db.updateTable('users').set({ deleted_at: null, updated_at: now })
        .where('team_id', '=', teamId)
        .where('id', '=', (eb) => {
          let q = eb.selectFrom('users').select('id').where('team_id', '=', teamId).where('deleted_at', 'is not', null).where('deleted_at', '>', since);
          q = 'userId' in target ? q.where('id', '=', target.userId) : q.where('client_user_id', '=', target.clientUserId);
          return q.orderBy('deleted_at', 'desc').limit(1);
        })
        .where('deleted_at', 'is not', null)
        .returning('id').executeTakeFirst();
      return r ? ('ok' as const) : ('not_found' as const);
    } catch (e) {
      // users_live_email (0003_profile.sql): while the user was deleted, another took its e-mail.
      if (isUniqueViolation(e, LIVE_CLIENT_ID_INDEX) || isUniqueViolation(e, 'users_live_email')) return 'taken' as const;
      throw e;
    }
  }

  async findView(teamId: string, id: string) {
    const r = (await this.q.viewById(this.db, teamId, id)).rows[0];
    return r ? toView(r) : null;
  }

  async findLiveViewByClientId(teamId: string, clientUserId: string) {
    const r = (await this.q.liveViewByClientId(this.db, teamId, clientUserId)).rows[0];
    return r ? toView(r) : null;
  }

  async listLiveViews(teamId: string, offset: number, limit: number) {
    // Page and count in parallel (two connections): at a million users each is an index scan of
    // most of the team, so a deep page costs the longer of the two rather than their sum.
    const [page, count] = await Promise.all([
      limit === 0 ? null : this.q.livePage(this.db, teamId, offset, limit),
      this.q.liveCount(this.db, teamId),
    ]);
    const rows = page?.rows ?? [];
    const total = Number(count.rows[0]!.n);
    return { views: rows.map(toView), total };
  }

  async connectionsOf(teamId: string, userIds: string[]) {
    const out = new Map<string, Connection[]>();
    if (userIds.length === 0) return out;
    const rows = await this.db.selectFrom('connections').selectAll()
      .where('team_id', '=', teamId).where('user_id', 'in', userIds).orderBy('created_at').orderBy('provider').execute();
    for (const r of rows) {
      const list = out.get(r.user_id);
      if (list) list.push(toConnection(r)); else out.set(r.user_id, [toConnection(r)]);
    }
    return out;
  }

  async metrics(teamId: string, now: Date): Promise<TeamMetrics> {
    const [users, conns, weeks] = await Promise.all([
      this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('team_id', '=', teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow(),
      // Connections of soft-deleted users are removed with the delete, so no join is needed.
      this.db.selectFrom('connections')
        .select((eb) => [eb.fn.countAll<number>().as('n'), sql<number>`count(*) filter (where status = 'error')`.as('errored')])
        .where('team_id', '=', teamId).executeTakeFirstOrThrow(),
      this.db.selectFrom('connections')
        .select([sql<Date>`date_trunc('week', created_at at time zone 'UTC') at time zone 'UTC'`.as('week'), (eb) => eb.fn.countAll<number>().as('n')])
        .where('team_id', '=', teamId).groupBy(sql`1`).orderBy(sql`1`).execute(),
    ]);
    return { users: users.n, connectedSources: conns.n, erroredConnectedSources: Number(conns.errored), weekly: weeklySeries(weeks, now) };
  }

  async purge(before: Date) {
    const r = await this.db.deleteFrom('users').where('deleted_at', 'is not', null).where('deleted_at', '<=', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

const WEEK_MS = 7 * 86_400_000;

/** Fills empty weeks between the first connection's week and now, with a running total. */
function weeklySeries(weeks: { week: Date; n: number }[], now: Date): TeamMetrics['weekly'] {
  if (weeks.length === 0) return [];
  const counts = new Map(weeks.map((w) => [w.week.getTime(), w.n]));
  const out: TeamMetrics['weekly'] = [];
  let all = 0;
  for (let t = weeks[0]!.week.getTime(); t <= now.getTime(); t += WEEK_MS) {
    const value = counts.get(t) ?? 0;
    all += value;
    out.push({ week: new Date(t), value, all });
  }
  return out;
}
