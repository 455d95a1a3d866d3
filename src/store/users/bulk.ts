// Batch SQL for `roster import` and `roster export`. Queries only: which rows are valid and what
// they hold is decided by src/domain/users (buildUser, the profile rules) before anything reaches
// here. Rows are mapped by rows.ts, as for every other write of a user.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, NewUserRow, UserRow } from '../../db/schema.ts';
import type { ProfiledUser } from '../../domain/users/model.ts';
import { withRetry } from '../errors.ts';
import { ROW_COLUMNS, userRow, type RowColumn } from './rows.ts';
import { roomUnderCap } from './team-cap.ts';
import { recordEventsWhereLive } from '../webhooks/outbox.ts'; // webhooks (i12)
import { userEvent } from '../../domain/webhooks/events.ts'; // webhooks (i12)

/** Every column an imported user is written with (rows.ts); insertBatch numbers basic_id. */
export const importRow = (u: ProfiledUser): NewUserRow => userRow(u);

/** The SQL type of every column insertBatch writes (0001_init.sql, 0003_profile.sql). */
const COLUMN_TYPES: Record<RowColumn | 'basic_id', string> = {
  team_id: 'uuid', id: 'uuid', client_user_id: 'text', created_at: 'timestamptz', updated_at: 'timestamptz',
  deleted_at: 'timestamptz', fallback_time_zone: 'text', fallback_time_zone_source: 'text',
  fallback_time_zone_updated_at: 'timestamptz', fallback_birth_date: 'date', fallback_birth_date_source: 'text',
  fallback_birth_date_updated_at: 'timestamptz', ingestion_start: 'date', ingestion_end: 'date',
  first_name: 'text', last_name: 'text', email: 'text', language: 'text', measurement_unit: 'text', gender: 'text',
  height_cm: 'float8', weight_kg: 'float8', threshold_ftp: 'float8', threshold_lthr: 'float8', threshold_mhr: 'float8',
  location_lat: 'float8', location_lon: 'float8', coach_enabled: 'bool', tz_offset_seconds: 'int4', basic_id: 'int8',
};
const INSERT_COLUMNS = [...ROW_COLUMNS, 'basic_id'] as const;

export interface BatchResult {
  /** Client ids written by this batch. */
  inserted: Set<string>;
  /** Client ids a live user of the team already held (before or, in a race, during the batch). */
  existing: Set<string>;
  /** Client ids refused because another live user of the team has the row's e-mail (any case). */
  emailTaken: Set<string>;
  /** Client ids refused because the sandbox team reached its cap of live users. */
  overCap: Set<string>;
}

/**
 * Writes one batch in one transaction: rows whose client id a live user already holds are left
 * alone (looked up first, so they do not burn basic_id numbers); the rest go in as one multi-row
 * insert. `ON CONFLICT DO NOTHING` without a target covers every unique index of `users` (live
 * client id and live e-mail), so a row that loses a race, or whose e-mail is taken, is reported
 * instead of aborting the batch. `liveCap`: the team's sandbox cap (team-cap.ts, as every create).
 */
export async function insertBatch(db: Kysely<Database>, teamId: string, rows: NewUserRow[], opts: { liveCap?: number; emitEvents?: boolean } = {}): Promise<BatchResult> {
  return withRetry(() => db.transaction().execute(async (tx) => {
    const r: BatchResult = { inserted: new Set(), existing: new Set(), emailTaken: new Set(), overCap: new Set() };
    if (rows.length === 0) return r;
    let room = Infinity;
    if (opts.liveCap) room = await roomUnderCap(tx, teamId, opts.liveCap);
    for (const id of await liveClientIds(tx, teamId, rows.map((x) => x.client_user_id))) r.existing.add(id);
    const todo: NewUserRow[] = [];
    for (const row of rows) {
      if (r.existing.has(row.client_user_id)) continue;
      if (todo.length >= room) r.overCap.add(row.client_user_id);
      else todo.push(row);
    }
    if (todo.length === 0) return r;
    // The users' numbers (the team's sequence, 0009), taken here in file order so a batch is
    // numbered in the order of its rows. A row that then loses a race leaves a gap: numbers are
    // never reused.
    const nums = (await sql<{ n: string }>`select roster_next_basic_id(${teamId}::uuid) as n from generate_series(1, ${todo.length}::int)`.execute(tx)).rows.map((x) => Number(x.n)).sort((a, b) => a - b);
    const numbered = todo.map((x, i) => ({ ...x, basic_id: nums[i]! }));
    // One array per column (unnest) instead of a 30,000-parameter VALUES list: half the client
    // CPU, a quarter less server CPU, and no 65,535-parameter ceiling on the batch size.
    const arrays = INSERT_COLUMNS.map((c) => numbered.map((x) => x[c] ?? null));
    const done = await sql<{ client_user_id: string }>`insert into users (${sql.raw(INSERT_COLUMNS.join(', '))})
      select * from unnest(${sql.join(INSERT_COLUMNS.map((c, i) => sql`${arrays[i]}::${sql.raw(COLUMN_TYPES[c])}[]`))})
      on conflict do nothing returning client_user_id`.execute(tx);
    for (const d of done.rows) r.inserted.add(d.client_user_id);
    if (opts.emitEvents) await recordEventsWhereLive(tx, numbered.filter((x) => r.inserted.has(x.client_user_id)).map((x) => userEvent('user.created', teamId, x.id, new Date(), { client_user_id: x.client_user_id, basic_id: x.basic_id }))); // webhooks (i12)
    const missed = todo.filter((x) => !r.inserted.has(x.client_user_id)).map((x) => x.client_user_id);
    if (missed.length) {
      const live = new Set(await liveClientIds(tx, teamId, missed));
      for (const id of missed) (live.has(id) ? r.existing : r.emailTaken).add(id);
    }
    return r;
  }));
}

/**
 * Refreshes the planner's statistics of `users`. A bulk load grows the table faster than
 * autovacuum re-analyzes it; on stale statistics (a team "of one row") the planner may answer the
 * client-id look-up by scanning the team's whole index range, once per batch. Sampled, so bounded
 * in cost whatever the table's size. Without the privilege PostgreSQL only warns.
 */
export async function analyzeUsers(db: Kysely<Database>): Promise<void> {
  await sql`analyze users`.execute(db);
}

async function liveClientIds(tx: Transaction<Database>, teamId: string, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await tx.selectFrom('users').select('client_user_id')
    .where('team_id', '=', teamId).where('deleted_at', 'is', null)
    .where('client_user_id', '=', sql<string>`any(${ids}::text[])`).execute();
  return rows.map((x) => x.client_user_id);
}

/** An exported user: the domain user plus its profile columns (as stored). */
export type ExportedRow = UserRow;

/**
 * Pages through a team's live users in id order (UUIDv7, so roughly creation order), keyset on
 * the primary key (team_id, id). All pages are read in one repeatable-read, read-only transaction,
 * so the export is one consistent snapshot even while the server keeps writing.
 */
export async function forEachLivePage(db: Kysely<Database>, teamId: string, pageSize: number, fn: (rows: ExportedRow[]) => Promise<void>): Promise<void> {
  await db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (tx) => {
    let after: string | null = null;
    for (;;) {
      let q = tx.selectFrom('users').selectAll().where('team_id', '=', teamId).where('deleted_at', 'is', null);
      if (after !== null) q = q.where('id', '>', after);
      const rows = await q.orderBy('id').limit(pageSize).execute();
      if (rows.length === 0) return;
      await fn(rows);
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1]!.id;
    }
  });
}
