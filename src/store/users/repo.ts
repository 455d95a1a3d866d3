// PostgreSQL implementation of the users aggregate's port (src/domain/users/repo.ts). Queries only;
// rules live in src/domain/users. Rows are mapped in rows.ts, hot statements are in queries.ts.
import { randomBytes } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { InsertOptions, InsertResult, SyncChange, SyncConnection, UsersRepo } from '../../domain/users/repo.ts';
import type { ListCursor, ProfiledUser, TeamMetrics, UndoTarget, User, UserOrder, UserQuery, UserSelector, UserView } from '../../domain/users/model.ts';
import type { StoredSync } from '../../domain/users/data-syncs.ts';
import type { Connection } from '../../domain/connections.ts';
import { isUniqueViolation, withRetry } from '../errors.ts';
import {
  PROFILE_WRITE_COLUMNS, ROW_COLUMNS, USER_COLUMNS, fromJsonConnection, fromPageEntry, fromJsonSync, pickColumns, toConnection, toProfiled, toUser, userColumns, userRow,
} from './rows.ts';
import { USER_UPDATE_COLUMNS, hotQueries, type HotQueries, type ViewRow } from './queries.ts';
import type { PageEntry } from './rows.ts';
import { roomUnderCap } from './team-cap.ts';
import { lockUser } from '../connections.ts';
import { CreateGroups } from './create-group.ts';
import { afterCommit, currentScope, rootOf } from '../../db/request-tx.ts';
import { insertEvents } from '../webhooks/outbox.ts';

const LIVE_CLIENT_ID_INDEX = 'users_live_client_user_id';
const LIVE_EMAIL_INDEX = 'users_live_email';
/** From this offset on, a page and its count are each a long index scan: run them in parallel. */
const DEEP_OFFSET = 10_000;
/** Below this offset a page is read in index order, skipped rows included (queries.ts pageInOrder). */
const IN_ORDER_OFFSET = 500;
/** How often a create is tried when the holder of its client id vanishes between two statements. */
const CREATE_ATTEMPTS = 5;

const selWhere = (sel: UserSelector) => (eb: ExpressionBuilder<Database, 'users'>) =>
  'id' in sel ? eb('id', '=', sel.id) : 'clientUserId' in sel ? eb('client_user_id', '=', sel.clientUserId) : eb('basic_id', '=', sel.number);

/** Text sorts by code point (collation "C"); ties by number. */
const SORT_SQL: Record<UserOrder['field'], ReturnType<typeof sql.raw>> = {
  number: sql.raw('basic_id'),
  firstName: sql.raw('first_name collate "C"'),
  lastName: sql.raw('last_name collate "C"'),
  email: sql.raw('email collate "C"'),
};

const toView = (r: ViewRow): UserView => ({ user: toUser(r), connections: r.conns ? r.conns.map(fromJsonConnection) : [] });

type Inserted = { basic_id: number; client_user_id: string };

export class PgUsersRepo implements UsersRepo {
  private readonly q: HotQueries;
  private readonly groups: CreateGroups | null;

  private readonly eventsCommitted: (() => void) | null;

  /**
   * `group: false`: every create takes the single path (tests of its races). `eventsCommitted`:
   * wakes the webhook dispatchers after a create's event has committed (EventOutbox.committed);
   * without it, the event's statement NOTIFYs itself.
   */
  constructor(private readonly db: Kysely<Database>, opts: { group?: boolean; eventsCommitted?: () => void } = {}) {
    this.q = hotQueries(db);
    this.eventsCommitted = opts.eventsCommitted ?? null;
    this.groups = opts.group === false ? null : new CreateGroups(rootOf(db), { eventsCommitted: this.eventsCommitted });
  }

  // ---------- create ----------

  async insert(u: ProfiledUser, opts: InsertOptions): Promise<InsertResult> {
    const row = userRow(u);
    const teamId = u.user.teamId;
    // Autocommit creates go in groups (create-group.ts); the group hands back what it cannot
    // settle exactly, and that is settled here, alone. A create named after its number goes with
    // no client id: the numbering trigger names it (0020_basic_name_in_trigger.sql).
    if (this.groups && !currentScope()?.trx) {
      const member = opts.nameFromNumber ? { ...row, client_user_id: null } : row;
      const r = await this.groups.submit({ row: member, ...(opts.liveCap ? { cap: opts.liveCap } : {}), ...(opts.event ? { event: opts.event } : {}) });
      if (r !== 'retry') return r;
    }
    const event = opts.event;
    try {
      for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        // Without a cap or an event: autocommit statements, no transaction. With a cap: the count
        // and the insert in one transaction under the team's cap lock (team-cap.ts). An event is
        // written in the insert's transaction, iff the user was inserted.
        const cap = opts.liveCap;
        const once = async (db: Kysely<Database>) => {
          const ins = await this.insertOnce(db, row, opts, attempt > 0);
          if (ins && event) await insertEvents(db, [event], { notify: this.eventsCommitted === null });
          return ins;
        };
        const r = cap || event
          ? await withRetry(() => this.db.transaction().execute(async (tx) =>
            (cap && (await roomUnderCap(tx, teamId, cap)) === 0 ? ('cap' as const) : once(tx))))
          : await this.insertOnce(this.db, row, opts, attempt > 0);
        if (r === 'cap') return { ok: false, reason: 'cap' };
        if (r && event && this.eventsCommitted) afterCommit(this.eventsCommitted);
        if (r) return { ok: true, number: Number(r.basic_id), clientUserId: r.client_user_id };
        if (opts.nameFromNumber) continue; // lost a race for the generated name: take the next number
        const holder = (await this.q.holder(this.db, teamId, row.client_user_id)).rows[0];
        // The holder may have been deleted between the two statements: try the insert again.
        if (holder) return { ok: false, reason: 'taken', existing: { userId: holder.id, createdAt: holder.created_at } };
      }
    } catch (e) {
      if (isUniqueViolation(e, LIVE_EMAIL_INDEX)) return { ok: false, reason: 'email_taken' };
      throw e;
    }
    throw new Error(`create did not settle after ${CREATE_ATTEMPTS} attempts`);
  }

  /**
   * One insert; undefined when a live user holds the client id. `nameFromNumber`: takes the team's
   * next number first and names the user after it; `avoidHeld` (a retry): when a live user holds
   * that name, a random suffix makes it unique.
   */
  private async insertOnce(db: Kysely<Database>, row: ReturnType<typeof userRow>, opts: InsertOptions, avoidHeld: boolean): Promise<Inserted | undefined> {
    if (!opts.nameFromNumber) return (await this.q.insert(db, ...pickColumns(row, ROW_COLUMNS))).rows[0];
    const n = Number((await this.q.nextNumber(db, row.team_id)).rows[0]!.n);
    let cid = `basic:${n}`;
    if (avoidHeld && (await this.q.holder(db, row.team_id, cid)).rows[0]) cid = `basic:${n}-${randomBytes(4).toString('hex')}`;
    return (await this.q.insertNumbered(db, ...pickColumns({ ...row, client_user_id: cid }, ROW_COLUMNS), n)).rows[0];
  }

  // ---------- reads ----------

  async find(teamId: string, sel: UserSelector, opts: { live?: boolean } = {}) {
    let q = this.db.selectFrom('users').selectAll().where('team_id', '=', teamId).where(selWhere(sel));
    if (opts.live) q = q.where('deleted_at', 'is', null);
    const r = await q.executeTakeFirst();
    return r ? toProfiled(r) : null;
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
    const views = (page: PageEntry[]) => page.map((e) => fromPageEntry(teamId, e));
    if (limit === 0) return { views: [], total: await this.liveCount(teamId) };
    if (offset < DEEP_OFFSET) {
      // One statement, one row: the page as one JSON value and the count beside it.
      const r = (await (offset < IN_ORDER_OFFSET ? this.q.liveFirstPage : this.q.livePage)(this.db, teamId, offset, limit)).rows[0]!;
      return { views: views(r.page), total: Number(r.total) };
    }
    // Deep pages: page and count in parallel (two connections): at a million users each is an
    // index scan of most of the team, so the page costs the longer of the two rather than their sum.
    const [page, total] = await Promise.all([this.q.livePageOnly(this.db, teamId, offset, limit), this.liveCount(teamId)]);
    return { views: views(page.rows[0]!.page), total };
  }

  private async liveCount(teamId: string): Promise<number> {
    return Number((await this.q.liveCount(this.db, teamId)).rows[0]!.n);
  }

  async listByCreated(teamId: string, after: ListCursor | null, limit: number) {
    let q = this.db.selectFrom('users').selectAll()
      .select(sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'))
      .where('team_id', '=', teamId).where('deleted_at', 'is', null);
    if (after) q = q.where(sql<boolean>`(created_at, client_user_id collate "C") > (${after.createdAt}::timestamptz, ${after.clientUserId} collate "C")`);
    const [rows, total] = await Promise.all([
      q.orderBy('created_at').orderBy(sql`client_user_id collate "C"`).limit(limit + 1).execute(),
      this.liveCount(teamId),
    ]);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return {
      users: page.map(toProfiled),
      total,
      next: more && last ? { createdAt: last.cursor_at, clientUserId: last.client_user_id } : null,
    };
  }

  async list(teamId: string, query: UserQuery, offset: number, limit: number) {
    const order = query.order ?? { field: 'number', descending: false };
    let q = this.db.selectFrom('users').selectAll().where('team_id', '=', teamId).where('deleted_at', 'is', null);
    for (const f of query.require ?? []) q = q.where(f === 'firstName' ? 'first_name' : f === 'lastName' ? 'last_name' : 'email', 'is not', null);
    q = q.orderBy(sql`${SORT_SQL[order.field]} ${order.descending ? sql.raw('desc') : sql.raw('asc')}`);
    if (order.field !== 'number') q = q.orderBy('basic_id');
    return (await q.offset(offset).limit(limit).execute()).map(toProfiled);
  }

  async findWithSyncInputs(teamId: string, clientUserId: string) {
    const r = (await this.q.withSyncsByClientId(this.db, teamId, clientUserId)).rows[0];
    if (!r) return null;
    return { user: toProfiled(r), connections: r.conns ? r.conns.map(fromJsonConnection) : [], stored: r.syncs.map(fromJsonSync) };
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

  async metrics(teamId: string, now: Date): Promise<TeamMetrics> {
    const [users, conns, weeks] = await Promise.all([
      this.liveCount(teamId),
      // Connections of soft-deleted users are removed with the delete, so no join is needed.
      this.db.selectFrom('connections')
        .select((eb) => [eb.fn.countAll<number>().as('n'), sql<number>`count(*) filter (where status = 'error')`.as('errored')])
        .where('team_id', '=', teamId).executeTakeFirstOrThrow(),
      this.db.selectFrom('connections')
        .select([sql<Date>`date_trunc('week', created_at at time zone 'UTC') at time zone 'UTC'`.as('week'), (eb) => eb.fn.countAll<number>().as('n')])
        .where('team_id', '=', teamId).groupBy(sql`1`).orderBy(sql`1`).execute(),
    ]);
    return { users, connectedSources: conns.n, erroredConnectedSources: Number(conns.errored), weekly: weeklySeries(weeks, now) };
  }

  // ---------- changes ----------

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
        const set = userColumns(next);
        const done = await this.q.updateUser(this.db, teamId, id, cur.version, ...USER_UPDATE_COLUMNS.map((c) => set[c]));
        if (done.rows.length) return next;
      }
      return await withRetry(() => this.db.transaction().execute(async (tx) => {
        const cur = await tx.selectFrom('users').select(USER_COLUMNS)
          .where('team_id', '=', teamId).where('id', '=', id).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
        if (!cur) return null;
        const next = apply(toUser(cur));
        const set = userColumns(next);
        await tx.updateTable('users').set(Object.fromEntries(USER_UPDATE_COLUMNS.map((c) => [c, set[c]]))).where('team_id', '=', teamId).where('id', '=', id).execute();
        return next;
      }));
    } catch (e) {
      if (isUniqueViolation(e, LIVE_CLIENT_ID_INDEX)) return 'taken' as const;
      throw e;
    }
  }

  async updateProfile(teamId: string, sel: UserSelector, apply: (cur: ProfiledUser) => ProfiledUser | null) {
    try {
      return await withRetry(() => this.db.transaction().execute(async (tx) => {
        const cur = await tx.selectFrom('users').selectAll()
          .where('team_id', '=', teamId).where(selWhere(sel)).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
        if (!cur) return null;
        const before = toProfiled(cur);
        const next = apply(before);
        if (!next) return before;
        const row = userRow(next);
        await tx.updateTable('users').set(Object.fromEntries(PROFILE_WRITE_COLUMNS.map((c) => [c, row[c]]))).where('team_id', '=', teamId).where('id', '=', cur.id).execute();
        return next;
      }));
    } catch (e) {
      if (isUniqueViolation(e, LIVE_EMAIL_INDEX)) return 'email_taken' as const;
      throw e;
    }
  }

  async recordSync(teamId: string, userId: string, e: StoredSync, c: SyncConnection) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      // The user row lock keeps a concurrent delete from leaving a connection behind.
      const u = await tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('id', '=', userId).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
      if (!u) return false;
      const errorCols = { error_type: c.error?.type ?? null, error_message: c.error?.message ?? null, errored_at: c.error ? e.updatedAt : null };
      const made = await tx.insertInto('connections').values({
        team_id: teamId, user_id: userId, provider: e.provider, id: c.id, status: c.status, external_user_id: null,
        ...errorCols, resources: '{}', demo: false, created_at: e.updatedAt,
      }).onConflict((oc) => oc.columns(['team_id', 'user_id', 'provider']).doNothing()).returning('status').executeTakeFirst();
      const entered = (s: string) => (s === 'error' ? 'errored' as const : 'connected' as const);
      let change: SyncChange['connection'] = made ? entered(made.status) : null;
      if (c.setStatus && !made) {
        // The status before, read in the same statement (the FROM subquery sees the row as it was).
        const r = await sql<{ before: string }>`update connections c set status = ${c.status}, error_type = ${errorCols.error_type},
            error_message = ${errorCols.error_message}, errored_at = ${errorCols.errored_at}
          from (select status as before from connections where team_id = ${teamId} and user_id = ${userId} and provider = ${e.provider}) o
          where c.team_id = ${teamId} and c.user_id = ${userId} and c.provider = ${e.provider} returning o.before`.execute(tx);
        const before = r.rows[0]?.before;
        if (before !== undefined && (before === 'error') !== (c.status === 'error')) change = entered(c.status);
      }
      await tx.insertInto('data_syncs').values({
        team_id: teamId, user_id: userId, provider: e.provider, data_type: e.dataType, sync_type: e.syncType, status: e.status, updated_at: e.updatedAt,
      }).onConflict((oc) => oc.columns(['team_id', 'user_id', 'provider', 'data_type', 'sync_type']).doUpdateSet({ status: e.status, updated_at: e.updatedAt })).execute();
      await tx.updateTable('users').set({ updated_at: e.updatedAt }).where('team_id', '=', teamId).where('id', '=', userId).execute();
      return { connection: change };
    }));
  }

  async disconnect(teamId: string, userId: string, providerSlug: string, now: Date) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      await lockUser(tx, teamId, userId); // before the connection row, as connect does (connections.ts)
      const gone = await tx.deleteFrom('connections').where('team_id', '=', teamId).where('user_id', '=', userId).where('provider', '=', providerSlug).executeTakeFirst();
      await tx.deleteFrom('data_syncs').where('team_id', '=', teamId).where('user_id', '=', userId).where('provider', '=', providerSlug).execute();
      if (Number(gone.numDeletedRows) === 0) return false;
      await tx.updateTable('users').set({ updated_at: now }).where('team_id', '=', teamId).where('id', '=', userId).where('deleted_at', 'is', null).execute();
      return true;
    }));
  }

  // ---------- deletes ----------

  async softDelete(teamId: string, id: string, now: Date) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      const r = await tx.updateTable('users').set({ deleted_at: now, updated_at: now })
        .where('team_id', '=', teamId).where('id', '=', id).where('deleted_at', 'is', null).returning('id').executeTakeFirst();
      if (!r) return null;
      const gone = await tx.deleteFrom('connections').where('team_id', '=', teamId).where('user_id', '=', id).returning('provider').execute();
      return gone.map((c) => c.provider);
    }));
  }

  async remove(teamId: string, sel: UserSelector, guard: (cur: ProfiledUser) => boolean) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      const cur = await tx.selectFrom('users').selectAll()
        .where('team_id', '=', teamId).where(selWhere(sel)).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
      if (!cur || !guard(toProfiled(cur))) return null;
      // Connections, devices, records, tokens and sync entries cascade (at the statement's end, so
      // the RETURNING subquery still sees the connections: their providers, in the same statement).
      const gone = await tx.deleteFrom('users').where('team_id', '=', teamId).where('id', '=', cur.id)
        .returning((eb) => eb.selectFrom('connections').select(sql<string[]>`coalesce(array_agg(provider order by provider), '{}')`.as('p'))
          .where('connections.team_id', '=', teamId).where('connections.user_id', '=', cur.id).as('providers'))
        .executeTakeFirst();
      return { gone: toProfiled(cur), providers: (gone?.providers as string[] | null) ?? [] };
    }));
  }

  async restore(teamId: string, target: UndoTarget, since: Date, now: Date, opts: { liveCap?: number } = {}) {
    const restore = async (db: Kysely<Database>) => {
      const r = await db.updateTable('users').set({ deleted_at: null, updated_at: now })
        .where('team_id', '=', teamId)
        .where('id', '=', (eb) => {
          let q = eb.selectFrom('users').select('id').where('team_id', '=', teamId).where('deleted_at', 'is not', null).where('deleted_at', '>', since);
          q = 'userId' in target ? q.where('id', '=', target.userId) : q.where('client_user_id', '=', target.clientUserId);
          return q.orderBy('deleted_at', 'desc').limit(1);
        })
        .where('deleted_at', 'is not', null)
        .returning('id').executeTakeFirst();
      return r ? ('ok' as const) : ('not_found' as const);
    };
    try {
      const cap = opts.liveCap;
      if (!cap) return await restore(this.db);
      // A restore makes a user live again: it counts against the cap as a create does (C8).
      return await withRetry(() => this.db.transaction().execute(async (tx) =>
        (await roomUnderCap(tx, teamId, cap)) === 0 ? ('cap' as const) : restore(tx)));
    } catch (e) {
      // users_live_email (0003_profile.sql): while the user was deleted, another took its e-mail.
      if (isUniqueViolation(e, LIVE_CLIENT_ID_INDEX) || isUniqueViolation(e, LIVE_EMAIL_INDEX)) return 'taken' as const;
      throw e;
    }
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

