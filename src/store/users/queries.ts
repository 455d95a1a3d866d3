// The users repository's hot statements, compiled once per repository (compiled.ts says why), and
// the connections JSON sub-select that lets a user and its connections be one statement.
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Database } from '../../db/schema.ts';
import { precompile } from './compiled.ts';
import { PAGE_COLUMNS, ROW_COLUMNS, USER_COLUMNS, type JsonConnection, type JsonSync, type PageEntry, type UserColumn, type UserRow } from './rows.ts';

const USER_COLUMNS_Q = USER_COLUMNS.map((c) => `users.${c}` as const);

/** The user's connections as a JSON array. */
const connectionsArray = (eb: ExpressionBuilder<Database, 'users'>) =>
  jsonArrayFrom(eb.selectFrom('connections').selectAll('connections')
    .whereRef('connections.team_id', '=', 'users.team_id').whereRef('connections.user_id', '=', 'users.id')
    .orderBy('connections.created_at').orderBy('connections.provider'));

/**
 * The user's connections as a JSON array column `conns`, null when the row's kept count says the user has none (0017_cheaper_reads.sql):
 * most users have no connection, and the sub-select is then the larger part of a read's SQL work.
 */
const connectionsJsonIfAnyExpr = (eb: ExpressionBuilder<Database, 'users'>) =>
  sql<JsonConnection[] | null>`case when users.connection_count > 0 then ${connectionsArray(eb)} end`;
export const connectionsJsonIfAny = (eb: ExpressionBuilder<Database, 'users'>) => connectionsJsonIfAnyExpr(eb).as('conns');

/** The user's recorded sync entries as a JSON array column `syncs`. */
const syncsJson = (eb: ExpressionBuilder<Database, 'users'>) =>
  jsonArrayFrom(eb.selectFrom('data_syncs').select(['data_syncs.provider', 'data_syncs.data_type', 'data_syncs.sync_type', 'data_syncs.status', 'data_syncs.updated_at'])
    .whereRef('data_syncs.team_id', '=', 'users.team_id').whereRef('data_syncs.user_id', '=', 'users.id')).as('syncs');

/** The team's live users: an index-only scan of users_live_team (0017_cheaper_reads.sql). */
const liveTotal = (eb: ExpressionBuilder<Database, any>, team: never) =>
  eb.selectFrom('users').select((e) => e.fn.countAll<string>().as('n')).where('users.team_id', '=', team).where('users.deleted_at', 'is', null);

/** `conns` is null when the user has no connection. */
export type ViewRow = Pick<UserRow, UserColumn> & { conns: JsonConnection[] | null };

/** Columns the Junction-field update writes: every user column but the key and the lifecycle ones. */
export const USER_UPDATE_COLUMNS = USER_COLUMNS.filter((c) => c !== 'team_id' && c !== 'id' && c !== 'created_at' && c !== 'deleted_at');

/** The page's JSON: one array per user, PAGE_COLUMNS then its connections, newest first. */
const pageAgg = (eb: ExpressionBuilder<Database, never>) =>
  sql<PageEntry[]>`coalesce(json_agg(json_build_array(${sql.join(PAGE_COLUMNS.map((c) => sql.ref(`users.${c}`)))}, ${connectionsJsonIfAnyExpr(eb as never)})
      order by users.created_at desc, users.id desc), '[]')`.as('page');

/** The team's live users, newest first, keys only (users_live_created): what a page skips and takes. */
const pageKeys = (k: Kysely<Database>, team: never, offset: never, limit: never) =>
  k.selectFrom('users').where('team_id', '=', team).where('deleted_at', 'is', null)
    .orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit);

/**
 * A page: the keys from the index alone, then only those rows, by primary key. Selecting the
 * connections in the same query as the OFFSET would compute them for every skipped row (at offset
 * 900,000 of a million-user team: 3.9 s instead of 0.19 s, docs/benchmark.md "At scale"); joining
 * the keys back to `users` let the planner hash-join a scan of the whole team (2.3 ms of
 * PostgreSQL CPU for a page of 10,000 users instead of 0.5 ms), so the keys are an array matched
 * by `= any`.
 */
const pageByKeys = (k: Kysely<Database>, eb: ExpressionBuilder<Database, never>, team: never, offset: never, limit: never) =>
  eb.selectFrom('users').select(pageAgg(eb)).where('users.team_id', '=', team)
    .where(sql<boolean>`users.id = any(array(${pageKeys(k, team, offset, limit).select('id')}))`);

/**
 * A first page: the rows straight off users_live_created in its order, the connections computed
 * for the page's rows only (outside the sub-select). It reads the skipped rows' heap too, so it is
 * for small offsets (queries by the repository): at offset 0 it costs PostgreSQL ~100 µs less than
 * 100 primary-key probes; at offset 1,000, more.
 */
const pageInOrder = (k: Kysely<Database>, eb: ExpressionBuilder<Database, never>, team: never, offset: never, limit: never) =>
  eb.selectFrom(pageKeys(k, team, offset, limit).selectAll().as('users')).select(pageAgg(eb));

export function hotQueries(db: Kysely<Database>) {
  const view = (k: Kysely<Database>) => k.selectFrom('users').select(USER_COLUMNS_Q).select(connectionsJsonIfAny);
  // Where a live user holds the client id the insert is "no row": the partial unique index decides races.
  const insert = (k: Kysely<Database>, cols: readonly string[], slots: never[]) =>
    k.insertInto('users').values(Object.fromEntries(cols.map((c, i) => [c, slots[i]])) as never)
      .onConflict((oc) => oc.columns(['team_id', 'client_user_id']).where('deleted_at', 'is', null).doNothing())
      .returning(['basic_id', 'client_user_id']);
  const numbered = [...ROW_COLUMNS, 'basic_id'] as const;
  return {
    viewById: precompile<[string, string], ViewRow>(db, 2, (k, team, id) =>
      view(k).where('users.team_id', '=', team).where('users.id', '=', id)),
    liveViewByClientId: precompile<[string, string], ViewRow>(db, 2, (k, team, cid) =>
      view(k).where('users.team_id', '=', team).where('users.client_user_id', '=', cid).where('users.deleted_at', 'is', null)),
    // The whole page is one JSON value (an array of arrays, PAGE_COLUMNS then the connections)
    // next to `total`, in one row even when the page is empty: the driver reads one field when the
    // last byte is in, instead of 100 rows × 14 fields as they trickle in, which kept every
    // streaming page alive across young-generation GCs (docs/benchmark.md, 2026-12-08 session 2).
    // `total` rides along (an init-plan, computed once, same snapshot as the page); from offset
    // 10,000 on the caller counts apart, in parallel (then the page and the count are each a long scan).
    livePage: precompile<[string, number, number], { total: number; page: PageEntry[] }>(db, 3, (k, team, offset, limit) =>
      k.selectNoFrom((eb) => [liveTotal(eb, team).as('total'), pageByKeys(k, eb, team, offset, limit).as('page')])),
    /** The same for small offsets, read in index order (pageInOrder). */
    liveFirstPage: precompile<[string, number, number], { total: number; page: PageEntry[] }>(db, 3, (k, team, offset, limit) =>
      k.selectNoFrom((eb) => [liveTotal(eb, team).as('total'), pageInOrder(k, eb, team, offset, limit).as('page')])),
    /** The same page without the count (deep pages: the count runs beside it, on another connection). */
    livePageOnly: precompile<[string, number, number], { page: PageEntry[] }>(db, 3, (k, team, offset, limit) =>
      k.selectNoFrom((eb) => [pageByKeys(k, eb, team, offset, limit).as('page')])),
    liveCount: precompile<[string], { n: number }>(db, 1, (k, team) => k.selectNoFrom((eb) => liveTotal(eb, team).as('n'))),
    liveVersioned: precompile<[string, string], Pick<UserRow, UserColumn> & { version: string }>(db, 2, (k, team, id) =>
      k.selectFrom('users').select(USER_COLUMNS_Q).select(sql<string>`users.xmin::text`.as('version'))
        .where('users.team_id', '=', team).where('users.id', '=', id).where('users.deleted_at', 'is', null)),
    holder: precompile<[string, string], { id: string; created_at: Date }>(db, 2, (k, team, cid) =>
      k.selectFrom('users').select(['id', 'created_at']).where('team_id', '=', team).where('client_user_id', '=', cid).where('deleted_at', 'is', null)),
    /** Onvy's read of one user: the row, its connections and its sync entries in one statement. */
    withSyncsByClientId: precompile<[string, string], UserRow & { conns: JsonConnection[] | null; syncs: JsonSync[] }>(db, 2, (k, team, cid) =>
      k.selectFrom('users').selectAll('users').select((eb) => [connectionsJsonIfAny(eb), syncsJson(eb)])
        .where('users.team_id', '=', team).where('users.client_user_id', '=', cid).where('users.deleted_at', 'is', null)),
    /** A create: one statement; storage numbers the user (0009_basic_id_per_team.sql). */
    insert: precompile<unknown[], { basic_id: number; client_user_id: string }>(db, ROW_COLUMNS.length, (k, ...slots) => insert(k, ROW_COLUMNS, slots)),
    /** A create whose number was taken first (to name the user after it). */
    insertNumbered: precompile<unknown[], { basic_id: number; client_user_id: string }>(db, numbered.length, (k, ...slots) => insert(k, numbered, slots)),
    /** The team's next number, from its own sequence (0009_basic_id_per_team.sql). */
    nextNumber: precompile<[string], { n: string }>(db, 1, (k, team) => k.selectNoFrom(sql<string>`roster_next_basic_id(${team}::uuid)`.as('n'))),
    // Every column but the key and the lifecycle ones, written only over the version that was read.
    updateUser: precompile<unknown[], { id: string }>(db, USER_UPDATE_COLUMNS.length + 3, (k, team, id, version, ...slots) =>
      k.updateTable('users').set(Object.fromEntries(USER_UPDATE_COLUMNS.map((c, i) => [c, slots[i]])) as never)
        .where('team_id', '=', team).where('id', '=', id).where('deleted_at', 'is', null)
        .where(sql`xmin`, '=', sql`${version}::xid`).returning('id')),
  };
}

export type HotQueries = ReturnType<typeof hotQueries>;
