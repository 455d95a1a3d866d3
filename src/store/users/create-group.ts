// Grouped commits for creates (issue 16). Creates that reach the database while earlier ones are
// still there wait for one of them and then go together: one statement and one commit for the
// whole group instead of one each. There is no timer: while fewer than MAX_IN_FLIGHT groups are at
// the database a create goes at once, alone, so latency at low load does not change.
//
// Each create still gets its own outcome, as if the group had been sent one by one in arrival
// order: its row; or a conflict naming the live user that holds its client id (a user already
// stored, or an earlier member of the same group); or, for a sandbox team, its own cap refusal
// (the group counts against the cap in order). A webhook event rides in the same statement as its
// user (so a team with a live endpoint pays no extra round trip), and exists iff the user does; once
// the group has committed, the dispatchers are woken (`eventsCommitted`, store/webhooks/wake.ts),
// or, without that, by a NOTIFY in the statement.
//
// A create named after its number (the basic face's) goes with no client id: the numbering
// trigger names it `basic:<n>` in the insert (0020_basic_name_in_trigger.sql), so it is one more
// member of the group instead of two statements of its own.
//
// Only autocommit creates are grouped: an idempotent request's create is inside that request's own
// transaction (its key row and audit entry commit with it) and takes the single path. A create the
// group cannot settle exactly (a holder committed by a concurrent writer after the statement's
// snapshot; an error that belongs to one row, such as another user's e-mail) answers 'retry', and
// the repository settles it alone on the single path.
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { Database, NewUserRow } from '../../db/schema.ts';
import { directQueryOf } from '../../db/pool.ts';
import type { InsertResult } from '../../domain/users/repo.ts';
import type { DomainEvent } from '../../domain/webhooks/events.ts';
import { sqlState, withRetry } from '../errors.ts';
import { EVENTS_CHANNEL } from '../webhooks/outbox.ts';
import { ROW_COLUMNS } from './rows.ts';

/** Groups at the database at once (each holds one pooled connection while it runs). */
export const MAX_IN_FLIGHT = 4;
/** Creates in one statement at most (one JSON parameter; keeps a group's statement short). */
const MAX_GROUP = 64;

/** A user row whose client id may be left to the numbering trigger (0020: `basic:<n>`). */
export type GroupRowInput = Omit<NewUserRow, 'client_user_id'> & { client_user_id: string | null };

export interface GroupedCreate {
  /** client_user_id null: named `basic:<n>` after its number by the insert trigger (0020). */
  row: GroupRowInput;
  /** The team's cap of live users (sandbox teams), if it has one. */
  cap?: number;
  event?: DomainEvent;
}

export type GroupedOutcome = InsertResult | 'retry';

const COLS = ROW_COLUMNS.map((c) => `"${c}"`).join(', ');

/**
 * The group's statement. $1: the users (JSON rows named as columns; a missing key is null); $2:
 * the events, by user id. One row per user, in input order: inserted (basic_id), or the holder of
 * its client id (an earlier member of the group first, else the stored live user), or neither.
 * ON CONFLICT DO NOTHING settles duplicates inside the group in input order (the first wins).
 * Rows go in (team, client id) order, the same in every group, so two groups that share client ids
 * wait for each other in one direction only (no deadlock); duplicates keep their input order.
 * `notify`: the statement NOTIFYs the dispatchers itself (a writer without an EventsWake).
 */
const groupSql = (notify: boolean) => `with i as (
  select * from jsonb_populate_recordset(null::users, $1::jsonb) with ordinality
), ins as (
  insert into users (${COLS}) select ${COLS} from i order by team_id, client_user_id, ordinality
  on conflict (team_id, client_user_id) where deleted_at is null do nothing
  returning team_id, id, client_user_id, basic_id, created_at
), ev as (
  insert into webhook_events (team_id, id, type, user_id, facts, occurred_at)
  select ins.team_id, e.id, e.type, ins.id,
    jsonb_strip_nulls(jsonb_build_object('client_user_id', ins.client_user_id, 'basic_id', ins.basic_id)) || e.facts, e.occurred_at
  from jsonb_to_recordset($2::jsonb) as e(user_id uuid, id text, type text, facts jsonb, occurred_at timestamptz)
  join ins on ins.id = e.user_id
  returning 1
)${notify ? `, wake as (
  select pg_notify('${EVENTS_CHANNEL}', '') from (select 1 from ev limit 1) x
)` : ''}
select ins.basic_id, ins.client_user_id, coalesce(s.id, h.id) as holder_id, coalesce(s.created_at, h.created_at) as holder_at${notify ? `,
  (select count(*) from wake) as woke` : ''}
from i
left join ins on ins.id = i.id
left join ins s on ins.id is null and s.team_id = i.team_id and s.client_user_id = i.client_user_id
left join lateral (
  select u.id, u.created_at from users u
  where ins.id is null and u.team_id = i.team_id and u.client_user_id = i.client_user_id and u.deleted_at is null
  -- At most one live holder exists (the unique index); the limit keeps this a per-row probe. Without
  -- it the planner flattens the lateral into a hash join over every user of the table (a Seq Scan
  -- per group statement, 4 ms at 20,000 users): test/store/create-groups.test.ts guards the plan.
  limit 1
) h on true
order by i.ordinality`;

/**
 * The statement as Roster's server sends it (its dispatchers are woken after the commit).
 * Exported for bench/pg-create-cost.ts, which measures its PostgreSQL CPU per create.
 */
export const GROUP_SQL = groupSql(false);

interface GroupRow { basic_id: string | number | null; client_user_id: string | null; holder_id: string | null; holder_at: Date | null }

/** A user row as JSON, without its null columns (jsonb_populate_recordset fills them). */
function rowJson(r: GroupRowInput): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const c of ROW_COLUMNS) {
    const v = r[c];
    if (v !== null && v !== undefined) o[c] = v;
  }
  return o;
}

const eventJson = (e: DomainEvent) => ({ user_id: e.userId, id: e.id, type: e.type, facts: e.facts, occurred_at: e.occurredAt.toISOString() });

/** Errors that may belong to one member (bad text, a unique e-mail, a conflict): each is settled alone. */
const perRow = (e: unknown) => /^(22|23|40)/.test(sqlState(e) ?? '');

interface Waiting { item: GroupedCreate; resolve: (o: GroupedOutcome) => void; reject: (e: unknown) => void }

export class CreateGroups {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private readonly sql: string;
  private readonly maxInFlight: number;
  private readonly eventsCommitted: (() => void) | null;

  /**
   * `db`: the root Kysely instance (never a request-scoped one: groups are autocommit).
   * `eventsCommitted`: called once a group that wrote events has committed.
   */
  constructor(private readonly db: Kysely<Database>, o: { maxInFlight?: number; eventsCommitted?: (() => void) | null } = {}) {
    this.maxInFlight = o.maxInFlight ?? MAX_IN_FLIGHT;
    this.eventsCommitted = o.eventsCommitted ?? null;
    this.sql = groupSql(this.eventsCommitted === null);
  }

  submit(item: GroupedCreate): Promise<GroupedOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const group = this.queue.splice(0, MAX_GROUP);
      this.inFlight++;
      void this.settle(group).finally(() => { this.inFlight--; this.pump(); });
    }
  }

  private async settle(group: Waiting[]): Promise<void> {
    // Teams with a cap are counted under their cap lock, in a transaction; the rest is one statement.
    const capped = group.filter((w) => w.item.cap);
    const plain = capped.length ? group.filter((w) => !w.item.cap) : group;
    const answers = await Promise.all([
      plain.length ? this.answer(plain, () => this.insertGroup(this.db, plain.map((w) => w.item))) : null,
      capped.length ? this.answer(capped, () => this.insertCapped(capped.map((w) => w.item))) : null,
    ]);
    // Both are committed here (an autocommit statement; the capped group's transaction): the
    // dispatchers are woken before the creates are answered.
    if (this.eventsCommitted && answers.some((a) => a?.events)) this.eventsCommitted();
    for (const a of answers) a?.settle();
  }

  /** Runs one part of a group: how to settle its members, and whether it wrote events. */
  private async answer(group: Waiting[], run: () => Promise<GroupedOutcome[]>): Promise<{ events: boolean; settle: () => void }> {
    try {
      const out = await run();
      return {
        events: group.some((w, i) => w.item.event && out[i] !== 'retry' && out[i]!.ok),
        settle: () => group.forEach((w, i) => w.resolve(out[i]!)),
      };
    } catch (e) {
      return { events: false, settle: () => (perRow(e) ? group.forEach((w) => w.resolve('retry')) : group.forEach((w) => w.reject(e))) };
    }
  }

  /** One statement for `items` (autocommit on the pool, or inside `db` when it is a transaction). */
  private async insertGroup(db: Kysely<Database>, items: GroupedCreate[]): Promise<GroupedOutcome[]> {
    const params = [JSON.stringify(items.map((x) => rowJson(x.row))), JSON.stringify(items.flatMap((x) => (x.event ? [eventJson(x.event)] : [])))];
    const direct = directQueryOf(db);
    const rows = (direct ? (await direct(this.sql, params)).rows : (await db.executeQuery(CompiledQuery.raw(this.sql, params))).rows) as GroupRow[];
    return rows.map((r): GroupedOutcome => {
      if (r.basic_id !== null) return { ok: true, number: Number(r.basic_id), clientUserId: r.client_user_id! };
      if (r.holder_id !== null) return { ok: false, reason: 'taken', existing: { userId: r.holder_id, createdAt: r.holder_at! } };
      return 'retry';
    });
  }

  /**
   * Sandbox teams: under each team's cap lock (team-cap.ts; taken in one order, so two groups never
   * wait on each other), the live users and the holders of the group's client ids are read, each
   * member is decided in order as a lone create would be (no room: cap; a holder: conflict; else it
   * takes one place), and the chosen ones are inserted in the same transaction.
   */
  private async insertCapped(items: GroupedCreate[]): Promise<GroupedOutcome[]> {
    const teams = [...new Set(items.map((x) => x.row.team_id))].sort();
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      for (const t of teams) await sql`select pg_advisory_xact_lock(hashtextextended(${t}, 0))`.execute(tx);
      const live = await sql<{ team_id: string; n: string }>`select team_id, count(*) as n from users
        where team_id = any(${teams}::uuid[]) and deleted_at is null group by team_id`.execute(tx);
      const held = await sql<{ team_id: string; client_user_id: string; id: string; created_at: Date }>`select team_id, client_user_id, id, created_at from users
        where (team_id, client_user_id) in (select * from unnest(${items.map((x) => x.row.team_id)}::uuid[], ${items.map((x) => x.row.client_user_id)}::text[]))
        and deleted_at is null`.execute(tx);
      const room = new Map(teams.map((t) => [t, 0]));
      for (const x of items) room.set(x.row.team_id, x.cap!);
      for (const r of live.rows) room.set(r.team_id, Math.max(0, room.get(r.team_id)! - Number(r.n)));
      const holders = new Map(held.rows.map((r) => [`${r.team_id}\u0000${r.client_user_id}`, { userId: r.id, createdAt: r.created_at }]));
      const out: GroupedOutcome[] = [];
      const chosen: number[] = [];
      items.forEach((x, i) => {
        // A member named after its number (no client id yet) holds no name and meets no holder.
        const named = x.row.client_user_id !== null;
        const key = `${x.row.team_id}\u0000${x.row.client_user_id}`;
        const holder = named ? holders.get(key) : undefined;
        if (room.get(x.row.team_id)! <= 0) out[i] = { ok: false, reason: 'cap' };
        else if (holder) out[i] = { ok: false, reason: 'taken', existing: holder };
        else {
          room.set(x.row.team_id, room.get(x.row.team_id)! - 1);
          if (named) holders.set(key, { userId: x.row.id, createdAt: x.row.created_at as Date });
          chosen.push(i);
        }
      });
      if (chosen.length) {
        const done = await this.insertGroup(tx, chosen.map((i) => items[i]!));
        // A chosen create that was not inserted met a writer outside the cap lock: settled alone.
        // Its place was counted, so a later member may have been refused for the cap: the cap is
        // never exceeded, at worst one create short in that race.
        chosen.forEach((i, k) => { const d = done[k]!; out[i] = d !== 'retry' && d.ok ? d : 'retry'; });
      }
      return out;
    }));
  }
}
