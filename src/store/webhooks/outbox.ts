// The transactional outbox (contract §5, §10): events are inserted in the change's own transaction
// (the request's, or one opened here around the change); once it has committed, the dispatchers are
// woken (wake.ts: this instance's at once, the others by a NOTIFY sent at most once per window).
// Which teams have a live endpoint is cached per instance and reloaded whenever any instance
// changes an endpoint (NOTIFY roster_webhook_endpoints), so a team without one pays no SQL.
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { afterCommit, currentScope, rootOf, runInRequestScope, settleAfterCommit, type RequestScope } from '../../db/request-tx.ts';
import type { DomainEvent } from '../../domain/webhooks/events.ts';
import type { EventOutbox } from '../../domain/webhooks/ports.ts';

export const EVENTS_CHANNEL = 'roster_webhooks';
export const ENDPOINTS_CHANNEL = 'roster_webhook_endpoints';

export class PgEventOutbox implements EventOutbox {
  private teams = new Set<string>();
  private loading: Promise<void> | null = null;
  private stale = false;

  /**
   * `db`: the request-scoped handle (src/db/request-tx.ts); `committed`: events written through
   * this outbox have committed (EventsWake.committed). Without it, each write NOTIFYs itself.
   */
  constructor(private readonly db: Kysely<Database>, private readonly onCommitted: (() => void) | null = null) {}

  /** Events this instance wrote outside record() (a repository's own statement) have committed. */
  committed(): void { this.onCommitted?.(); }

  wants(teamId: string): boolean { return this.teams.has(teamId); }
  /** Whether any team has a live endpoint (else the dispatcher has nothing to do). */
  hasAny(): boolean { return this.teams.size > 0; }

  /** (Re)loads the set of teams with a live endpoint. Concurrent calls share one query. */
  reload(): Promise<void> {
    if (this.loading) { this.stale = true; return this.loading; }
    this.loading = (async () => {
      do {
        this.stale = false;
        const r = await sql<{ team_id: string }>`select distinct team_id from webhook_endpoints where not disabled`.execute(rootOf(this.db));
        this.teams = new Set(r.rows.map((x) => x.team_id));
      } while (this.stale);
    })().finally(() => { this.loading = null; });
    return this.loading;
  }

  async record(events: DomainEvent[]): Promise<void> {
    const wanted = events.filter((e) => this.teams.has(e.teamId));
    if (wanted.length === 0) return;
    await insertEvents(this.db, wanted, { notify: this.onCommitted === null });
    if (this.onCommitted) afterCommit(this.onCommitted);
  }

  async emit<T>(teamId: string, change: () => Promise<T>, events: (result: T) => DomainEvent[] | Promise<DomainEvent[]>): Promise<T> {
    if (!this.teams.has(teamId)) return change();
    if (currentScope()?.trx) {
      const r = await change();
      await this.record(await events(r));
      return r;
    }
    const trx = await rootOf(this.db).startTransaction().execute();
    const scope: RequestScope = { trx };
    let r: T;
    try {
      r = await runInRequestScope(scope, async () => {
        const out = await change();
        await this.record(await events(out));
        return out;
      });
      await trx.commit().execute();
    } catch (e) {
      settleAfterCommit(scope, false);
      if (!trx.isCommitted && !trx.isRolledBack) await trx.rollback().execute().catch(() => {});
      throw e;
    }
    settleAfterCommit(scope, true);
    return r;
  }
}

/**
 * Writes `events` in `db`'s transaction (or as one autocommit statement), whatever the team: the
 * caller has decided they are wanted. One statement: the events (completed with the user's client
 * id and basic id when its row exists) and, with `notify` (a writer without an EventsWake), the
 * wake-up of every dispatcher, delivered at commit; else the caller wakes them after the commit.
 */
export async function insertEvents(db: Kysely<Database>, events: DomainEvent[], o: { notify: boolean }): Promise<void> {
  if (events.length === 0) return;
  const rows = JSON.stringify(events.map((e) => ({ team_id: e.teamId, id: e.id, type: e.type, user_id: e.userId, facts: e.facts, occurred_at: e.occurredAt.toISOString() })));
  const insert = sql`insert into webhook_events (team_id, id, type, user_id, facts, occurred_at)
    select e.team_id, e.id, e.type, e.user_id,
      coalesce((select jsonb_strip_nulls(jsonb_build_object('client_user_id', u.client_user_id, 'basic_id', u.basic_id))
                from users u where u.team_id = e.team_id and u.id = e.user_id), '{}'::jsonb) || e.facts,
      e.occurred_at
    from jsonb_to_recordset(${rows}::jsonb) as e(team_id uuid, id text, type text, user_id uuid, facts jsonb, occurred_at timestamptz)`;
  if (!o.notify) await insert.execute(db);
  else await sql`with ins as (${insert} returning 1) select pg_notify(${EVENTS_CHANNEL}, '') from (select 1 from ins limit 1) x`.execute(db);
}

/**
 * Records events in `db`'s transaction for teams that have a live endpoint, checked in the same
 * statement (for writers without the per-instance cache, e.g. `roster import --emit-events`).
 */
export async function recordEventsWhereLive(db: Kysely<Database>, events: DomainEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = JSON.stringify(events.map((e) => ({ team_id: e.teamId, id: e.id, type: e.type, user_id: e.userId, facts: e.facts, occurred_at: e.occurredAt.toISOString() })));
  await sql`with ins as (
      insert into webhook_events (team_id, id, type, user_id, facts, occurred_at)
      select e.team_id, e.id, e.type, e.user_id, e.facts, e.occurred_at
      from jsonb_to_recordset(${rows}::jsonb) as e(team_id uuid, id text, type text, user_id uuid, facts jsonb, occurred_at timestamptz)
      where exists (select 1 from webhook_endpoints w where w.team_id = e.team_id and not w.disabled)
      returning 1)
    select pg_notify(${EVENTS_CHANNEL}, '') from (select 1 from ins limit 1) x`.execute(db);
}

export interface WebhookListener {
  /** Settles once the first LISTEN is in place (or failed: it keeps retrying in the background). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * One dedicated LISTEN connection: `onEvents` when events were committed anywhere (but not for the
 * NOTIFYs whose payload is `self`: this instance's own), `onEndpoints`
 * when any instance changed an endpoint, and `onEndpoints` too after any gap (reconnect).
 */
export function listenWebhooks(url: string, h: { onEvents: () => void; onEndpoints: () => void; self?: string }): WebhookListener {
  let client: pg.Client | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((res) => { markReady = res; });
  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, application_name: 'roster-webhooks' });
    c.on('error', () => {});
    c.on('end', () => { if (client === c) { client = null; h.onEndpoints(); schedule(); } });
    c.on('notification', (m) => {
      // This instance's own NOTIFYs (EventsWake): its dispatcher was poked when it sent them.
      if (m.channel === EVENTS_CHANNEL) { if (!h.self || m.payload !== h.self) h.onEvents(); }
      else if (m.channel === ENDPOINTS_CHANNEL) h.onEndpoints();
    });
    try {
      await c.connect();
      await c.query(`listen ${EVENTS_CHANNEL}; listen ${ENDPOINTS_CHANNEL}`);
      if (closed) { await c.end().catch(() => {}); return; }
      client = c;
      h.onEndpoints();
      h.onEvents();
      markReady();
    } catch {
      await c.end().catch(() => {});
      markReady();
      schedule();
    }
  };
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => { timer = null; void connect(); }, 1000);
    timer.unref();
  };
  void connect();
  return {
    ready,
    async close() {
      closed = true;
      markReady();
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      if (c) await c.end().catch(() => {});
    },
  };
}
