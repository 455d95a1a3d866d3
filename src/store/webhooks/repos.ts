// PostgreSQL storage of webhook endpoints, deliveries and attempts, and the dispatcher's claims
// (FOR UPDATE SKIP LOCKED: no two instances ever hold the same delivery).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { rootOf } from '../../db/request-tx.ts';
import { newId } from '../../domain/ids.ts';
import { endpointWants, newBatchId, type DomainEvent, type DomainEventType, type WebhookFormat } from '../../domain/webhooks/events.ts';
import { ONVY_BATCH_MAX } from '../../domain/webhooks/retry.ts';
import { grantRequests } from '../../domain/webhooks/rate.ts';
import type { Attempt, DeliveriesRepo, Delivery, DeliveryQuery, Endpoint, EndpointPatch, EndpointsRepo, OldSecret, StoredEvent } from '../../domain/webhooks/ports.ts';
import { PLAINTEXT, type SecretCodec } from '../secret-box.ts';
import type { AttemptRecord, ClaimedGroup, DispatchStore, FanOut } from '../../domain/webhooks/dispatcher.ts';
import { ENDPOINTS_CHANNEL, EVENTS_CHANNEL } from './outbox.ts';
import type { OperationalStore, OperationalType, StoredOperational } from '../../domain/webhooks/operational.ts';

interface EndpointRow {
  team_id: string; id: string; format: WebhookFormat; url: string; description: string; filter_types: string[] | null;
  headers: Record<string, string>; secret: string; old_secrets: Endpoint['oldSecrets']; rate_limit: number | null;
  disabled: boolean; disabled_reason: string | null; first_failure_at: Date | null; created_at: Date; updated_at: Date;
}
interface DeliveryRow {
  team_id: string; id: string; event_id: string; event_type: string; user_id: string | null; endpoint_id: string; format: WebhookFormat;
  batch_id: string | null; payload: string; status: Delivery['status']; attempts: number; manual: boolean; alerted: boolean; next_attempt_at: Date | null;
  last_status_code: number | null; created_at: Date; updated_at: Date;
}
interface AttemptRow {
  team_id: string; id: string; delivery_id: string; endpoint_id: string; attempt: number; trigger: 'scheduled' | 'manual';
  started_at: Date; duration_ms: number; status_code: number; error: string | null; response_excerpt: string | null;
}

// Signing secrets at rest (contract §5): sealed with AES-256-GCM when ROSTER_SECRET_KEY is set
// (src/store/secret-box.ts, as the JWT signing keys and portal secrets are), plaintext otherwise.
const secretName = (id: string) => `webhook endpoint ${id} secret`;
const sealOld = (codec: SecretCodec, old: OldSecret[]): OldSecret[] => old.map((o) => ({ secret: codec.writeText(o.secret), expires_at: o.expires_at }));
const toEndpoint = (r: EndpointRow, codec: SecretCodec): Endpoint => ({
  teamId: r.team_id, id: r.id, format: r.format, url: r.url, description: r.description, filterTypes: r.filter_types, headers: r.headers,
  secret: codec.readText(r.secret, secretName(r.id)),
  oldSecrets: r.old_secrets.map((o) => ({ secret: codec.readText(o.secret, `${secretName(r.id)} (rotated)`), expires_at: o.expires_at })),
  rateLimit: r.rate_limit, disabled: r.disabled, disabledReason: r.disabled_reason,
  firstFailureAt: r.first_failure_at, createdAt: r.created_at, updatedAt: r.updated_at,
});
const toDelivery = (r: DeliveryRow): Delivery => ({
  teamId: r.team_id, id: r.id, eventId: r.event_id, eventType: r.event_type, userId: r.user_id, endpointId: r.endpoint_id, format: r.format,
  batchId: r.batch_id, payload: r.payload, status: r.status, attempts: r.attempts, manual: r.manual, alerted: r.alerted, nextAttemptAt: r.next_attempt_at,
  lastStatusCode: r.last_status_code, createdAt: r.created_at, updatedAt: r.updated_at,
});
const toAttempt = (r: AttemptRow): Attempt => ({
  teamId: r.team_id, id: r.id, deliveryId: r.delivery_id, endpointId: r.endpoint_id, attempt: r.attempt, trigger: r.trigger,
  startedAt: r.started_at, durationMs: r.duration_ms, statusCode: r.status_code, error: r.error, responseExcerpt: r.response_excerpt,
});

export class PgEndpointsRepo implements EndpointsRepo {
  private readonly db: Kysely<Database>;
  /** `onChanged`: this instance's own cache reload (other instances hear the NOTIFY). */
  constructor(db: Kysely<Database>, private readonly onChanged: () => Promise<void> = async () => {}, private readonly codec: SecretCodec = PLAINTEXT) { this.db = rootOf(db); }

  async insert(e: Endpoint) {
    await sql`insert into webhook_endpoints (team_id, id, format, url, description, filter_types, headers, secret, old_secrets, rate_limit, disabled, disabled_reason, first_failure_at, created_at, updated_at)
      values (${e.teamId}, ${e.id}, ${e.format}, ${e.url}, ${e.description}, ${e.filterTypes}, ${JSON.stringify(e.headers)}::jsonb, ${this.codec.writeText(e.secret)}, ${JSON.stringify(sealOld(this.codec, e.oldSecrets))}::jsonb,
        ${e.rateLimit}, ${e.disabled}, ${e.disabledReason}, ${e.firstFailureAt}, ${e.createdAt}, ${e.updatedAt})`.execute(this.db);
  }

  async get(teamId: string, id: string) {
    const r = await sql<EndpointRow>`select * from webhook_endpoints where team_id = ${teamId} and id = ${id}`.execute(this.db);
    return r.rows[0] ? toEndpoint(r.rows[0], this.codec) : null;
  }

  async list(teamId: string) {
    const r = await sql<EndpointRow>`select * from webhook_endpoints where team_id = ${teamId} order by created_at, id`.execute(this.db);
    return r.rows.map((x) => toEndpoint(x, this.codec));
  }

  async update(teamId: string, id: string, p: EndpointPatch, now: Date) {
    const sets = [sql`updated_at = ${now}`];
    if (p.url !== undefined) sets.push(sql`url = ${p.url}`);
    if (p.description !== undefined) sets.push(sql`description = ${p.description}`);
    if (p.filterTypes !== undefined) sets.push(sql`filter_types = ${p.filterTypes}`);
    if (p.headers !== undefined) sets.push(sql`headers = ${JSON.stringify(p.headers)}::jsonb`);
    if (p.rateLimit !== undefined) sets.push(sql`rate_limit = ${p.rateLimit}`);
    if (p.disabled !== undefined) sets.push(sql`disabled = ${p.disabled}`);
    if (p.disabledReason !== undefined) sets.push(sql`disabled_reason = ${p.disabledReason}`);
    if (p.firstFailureAt !== undefined) sets.push(sql`first_failure_at = ${p.firstFailureAt}`);
    if (p.secret !== undefined) sets.push(sql`secret = ${this.codec.writeText(p.secret)}`);
    if (p.oldSecrets !== undefined) sets.push(sql`old_secrets = ${JSON.stringify(sealOld(this.codec, p.oldSecrets))}::jsonb`);
    const r = await sql<EndpointRow>`update webhook_endpoints set ${sql.join(sets)} where team_id = ${teamId} and id = ${id} returning *`.execute(this.db);
    return r.rows[0] ? toEndpoint(r.rows[0], this.codec) : null;
  }

  async remove(teamId: string, id: string) {
    return this.db.transaction().execute(async (tx) => {
      const r = await sql`delete from webhook_endpoints where team_id = ${teamId} and id = ${id}`.execute(tx);
      if (Number(r.numAffectedRows ?? 0) === 0) return false;
      await sql`update webhook_deliveries set status = 'cancelled', next_attempt_at = null, updated_at = now()
        where team_id = ${teamId} and endpoint_id = ${id} and status = 'pending'`.execute(tx);
      return true;
    });
  }

  async stats24h(teamId: string, id: string, now: Date) {
    const r = await sql<{ attempts: string; successes: string }>`select count(*) as attempts, count(*) filter (where status_code between 200 and 299 and error is null) as successes
      from webhook_attempts where team_id = ${teamId} and endpoint_id = ${id} and started_at > ${new Date(now.getTime() - 86_400_000)}`.execute(this.db);
    const a = Number(r.rows[0]?.attempts ?? 0); const s = Number(r.rows[0]?.successes ?? 0);
    return { attempts: a, successes: s, failures: a - s };
  }

  async changed() {
    await sql`select pg_notify(${ENDPOINTS_CHANNEL}, '')`.execute(this.db);
    await this.onChanged();
  }
}

export class PgDeliveriesRepo implements DeliveriesRepo {
  private readonly db: Kysely<Database>;
  constructor(db: Kysely<Database>) { this.db = rootOf(db); }

  async list(teamId: string, endpointId: string, q: DeliveryQuery) {
    const conds = [sql`team_id = ${teamId}`, sql`endpoint_id = ${endpointId}`];
    if (q.status) conds.push(sql`status = ${q.status}`);
    if (q.eventType) conds.push(sql`event_type = ${q.eventType}`);
    if (q.userId) conds.push(sql`user_id = ${q.userId}`);
    if (q.cursor) conds.push(sql`id < ${q.cursor}`);
    const r = await sql<DeliveryRow>`select * from webhook_deliveries where ${sql.join(conds, sql` and `)} order by id desc limit ${q.limit + 1}`.execute(this.db);
    const rows = r.rows.slice(0, q.limit);
    return { deliveries: rows.map(toDelivery), nextCursor: r.rows.length > q.limit ? rows[rows.length - 1]!.id : null };
  }

  async get(teamId: string, id: string) {
    const d = await sql<DeliveryRow>`select * from webhook_deliveries where team_id = ${teamId} and id = ${id}`.execute(this.db);
    if (!d.rows[0]) return null;
    const a = await sql<AttemptRow>`select * from webhook_attempts where team_id = ${teamId} and delivery_id = ${id} order by started_at, attempt`.execute(this.db);
    return { delivery: toDelivery(d.rows[0]), attempts: a.rows.map(toAttempt) };
  }

  async retry(teamId: string, id: string, now: Date) {
    const r = await sql<{ status: string }>`update webhook_deliveries set status = 'pending', manual = true, next_attempt_at = ${now}, batch_id = null, updated_at = ${now}
      where team_id = ${teamId} and id = ${id} and status <> 'sending' returning status`.execute(this.db);
    if (r.rows.length) { await sql`select pg_notify('roster_webhooks', '')`.execute(this.db); return 'ok' as const; }
    const e = await sql`select 1 from webhook_deliveries where team_id = ${teamId} and id = ${id}`.execute(this.db);
    return e.rows.length ? ('in_flight' as const) : ('not_found' as const);
  }

  async recover(teamId: string, endpointId: string, since: Date, now: Date) {
    const r = await sql`update webhook_deliveries set status = 'pending', attempts = 0, manual = false, batch_id = null, next_attempt_at = ${now}, updated_at = ${now}
      where team_id = ${teamId} and endpoint_id = ${endpointId} and status = 'failed' and created_at >= ${since}`.execute(this.db);
    const n = Number(r.numAffectedRows ?? 0);
    if (n) await sql`select pg_notify('roster_webhooks', '')`.execute(this.db);
    return n;
  }

  async events(teamId: string, q: { type?: string; userId?: string; after?: Date; limit: number }): Promise<StoredEvent[]> {
    const conds = [sql`team_id = ${teamId}`];
    if (q.type) conds.push(sql`type = ${q.type}`);
    if (q.userId) conds.push(sql`user_id = ${q.userId}`);
    if (q.after) conds.push(sql`occurred_at > ${q.after}`);
    const r = await sql<{ team_id: string; id: string; type: string; user_id: string | null; facts: unknown; occurred_at: Date; fanned_out_at: Date | null }>`
      select * from webhook_events where ${sql.join(conds, sql` and `)} order by occurred_at desc, id desc limit ${q.limit}`.execute(this.db);
    return r.rows.map((x) => ({ teamId: x.team_id, id: x.id, type: x.type, userId: x.user_id, facts: x.facts, occurredAt: x.occurred_at, fannedOutAt: x.fanned_out_at }));
  }
}

export class PgDispatchStore implements DispatchStore, OperationalStore {
  private readonly db: Kysely<Database>;
  constructor(db: Kysely<Database>, private readonly onEndpointsChanged: () => void = () => {}, private readonly codec: SecretCodec = PLAINTEXT) { this.db = rootOf(db); }

  async fanOut(now: Date, render: (e: DomainEvent, ep: Endpoint) => string | null, limit: number, claim?: { leaseMs: number; limit: number }): Promise<FanOut> {
    return this.db.transaction().execute(async (tx) => {
      // Marked fanned out as they are taken (one statement, one new row version each); the
      // deliveries are inserted in the same transaction, so it is both or neither.
      const ev = await sql<{ team_id: string; id: string; type: DomainEventType; user_id: string | null; facts: DomainEvent['facts']; occurred_at: Date }>`
        update webhook_events w set fanned_out_at = ${now}
        from (select team_id, id from webhook_events where fanned_out_at is null order by occurred_at limit ${limit} for update skip locked) k
        where w.team_id = k.team_id and w.id = k.id
        returning w.team_id, w.id, w.type, w.user_id, w.facts, w.occurred_at`.execute(tx);
      if (ev.rows.length === 0) return { events: 0, claimed: [], pending: 0 };
      const teams = [...new Set(ev.rows.map((e) => e.team_id))];
      const eps = (await sql<EndpointRow>`select * from webhook_endpoints where team_id = any(${teams}::uuid[]) and not disabled`.execute(tx)).rows.map((x) => toEndpoint(x, this.codec));
      // Taken at once: what `claim` would hand back unchanged (no rate window to count, no Onvy
      // batch to form), up to the dispatcher's room. The event rows are locked by this
      // transaction, so no other dispatcher can create (or claim) these deliveries meanwhile.
      const lease = claim ? new Date(now.getTime() + claim.leaseMs) : null;
      let room = claim?.limit ?? 0;
      const rows: { team_id: string; id: string; event_id: string; event_type: string; user_id: string | null; endpoint_id: string; format: string; payload: string; claimed: boolean }[] = [];
      const claimed: ClaimedGroup[] = [];
      for (const r of ev.rows) {
        const e: DomainEvent = { teamId: r.team_id, id: r.id, type: r.type, userId: r.user_id, facts: r.facts, occurredAt: r.occurred_at };
        for (const ep of eps) {
          if (ep.teamId !== e.teamId || !endpointWants(ep.format, ep.filterTypes, e.type)) continue;
          const payload = render(e, ep);
          if (payload === null) continue;
          const take = room > 0 && ep.rateLimit === null && ep.format !== 'onvy';
          const row = { team_id: e.teamId, id: newId(now.getTime()), event_id: e.id, event_type: e.type, user_id: e.userId, endpoint_id: ep.id, format: ep.format, payload, claimed: take };
          rows.push(row);
          if (!take) continue;
          room--;
          claimed.push({ endpoint: ep, batchId: null, deliveries: [{
            teamId: row.team_id, id: row.id, eventId: row.event_id, eventType: row.event_type, userId: row.user_id, endpointId: ep.id, format: ep.format, batchId: null,
            payload, status: 'sending', attempts: 1, manual: false, alerted: false, nextAttemptAt: now, lastStatusCode: null, createdAt: now, updatedAt: now,
          }] });
        }
      }
      for (let i = 0; i < rows.length; i += 500) {
        await sql`insert into webhook_deliveries (team_id, id, event_id, event_type, user_id, endpoint_id, format, payload, status, attempts, locked_until, next_attempt_at, created_at, updated_at)
          select d.team_id, d.id, d.event_id, d.event_type, d.user_id, d.endpoint_id, d.format, d.payload,
            case when d.claimed then 'sending' else 'pending' end, case when d.claimed then 1 else 0 end, case when d.claimed then ${lease}::timestamptz end, ${now}, ${now}, ${now}
          from jsonb_to_recordset(${JSON.stringify(rows.slice(i, i + 500))}::jsonb) as d(team_id uuid, id uuid, event_id text, event_type text, user_id uuid, endpoint_id uuid, format text, payload text, claimed boolean)`.execute(tx);
      }
      return { events: ev.rows.length, claimed, pending: rows.length - claimed.length };
    });
  }

  async claim(now: Date, leaseMs: number, limit: number): Promise<ClaimedGroup[]> {
    return this.db.transaction().execute(async (tx) => {
      const lease = new Date(now.getTime() + leaseMs);
      const due = sql`((status = 'pending' and next_attempt_at <= ${now}) or (status = 'sending' and locked_until < ${now}))`;
      const claimed = (await sql<DeliveryRow>`update webhook_deliveries d set status = 'sending', locked_until = ${lease}, attempts = d.attempts + 1, updated_at = ${now}
        from (select team_id, id from webhook_deliveries where ${due} order by next_attempt_at limit ${limit} for update skip locked) c
        where d.team_id = c.team_id and d.id = c.id returning d.*`.execute(tx)).rows;
      if (claimed.length === 0) return [];
      // An Onvy batch is retried as a unit: claim the members the query above left out.
      const batches = [...new Set(claimed.filter((d) => d.batch_id).map((d) => `${d.team_id} ${d.batch_id}`))];
      if (batches.length) {
        const keys = JSON.stringify(batches.map((b) => { const [t, id] = b.split(' '); return { team_id: t, batch_id: id }; }));
        const have = new Set(claimed.map((d) => d.id));
        const more = (await sql<DeliveryRow>`update webhook_deliveries d set status = 'sending', locked_until = ${lease}, attempts = d.attempts + 1, updated_at = ${now}
          from (select w.team_id, w.id from webhook_deliveries w join jsonb_to_recordset(${keys}::jsonb) as k(team_id uuid, batch_id text)
                on w.team_id = k.team_id and w.batch_id = k.batch_id where ${due} for update of w skip locked) c
          where d.team_id = c.team_id and d.id = c.id returning d.*`.execute(tx)).rows.filter((d) => !have.has(d.id));
        claimed.push(...more);
      }
      const epKeys = JSON.stringify([...new Set(claimed.map((d) => `${d.team_id} ${d.endpoint_id}`))].map((k) => { const [t, id] = k.split(' '); return { team_id: t, id }; }));
      const epRows = (await sql<EndpointRow & { rate_window: string | null; rate_used: number }>`select e.* from webhook_endpoints e join jsonb_to_recordset(${epKeys}::jsonb) as k(team_id uuid, id uuid)
        on e.team_id = k.team_id and e.id = k.id`.execute(tx)).rows;
      const eps = new Map(epRows.map((r) => [`${r.team_id} ${r.id}`, toEndpoint(r, this.codec)]));
      if (epRows.some((r) => r.rate_limit !== null && !r.disabled)) {
        const deferred = await deferOverRate(tx, claimed, epRows, now);
        if (deferred.size) claimed.splice(0, claimed.length, ...claimed.filter((d) => !deferred.has(d.id)));
        if (claimed.length === 0) return [];
      }
      // New Onvy deliveries: frozen into batches of up to 10 per endpoint.
      const fresh = new Map<string, DeliveryRow[]>();
      for (const d of claimed) {
        if (d.format !== 'onvy' || d.batch_id) continue;
        const k = `${d.team_id} ${d.endpoint_id}`;
        (fresh.get(k) ?? fresh.set(k, []).get(k)!).push(d);
      }
      const assign: { team_id: string; id: string; batch_id: string }[] = [];
      for (const list of fresh.values()) {
        list.sort((a, b) => (a.created_at.getTime() - b.created_at.getTime()) || (a.id < b.id ? -1 : 1));
        for (let i = 0; i < list.length; i += ONVY_BATCH_MAX) {
          const b = newBatchId(now.getTime());
          for (const d of list.slice(i, i + ONVY_BATCH_MAX)) { d.batch_id = b; assign.push({ team_id: d.team_id, id: d.id, batch_id: b }); }
        }
      }
      if (assign.length) {
        await sql`update webhook_deliveries w set batch_id = k.batch_id from jsonb_to_recordset(${JSON.stringify(assign)}::jsonb) as k(team_id uuid, id uuid, batch_id text)
          where w.team_id = k.team_id and w.id = k.id`.execute(tx);
      }
      const groups = new Map<string, ClaimedGroup>();
      for (const r of claimed) {
        const d = toDelivery(r);
        const key = d.batchId ? `b ${d.teamId} ${d.batchId}` : `d ${d.teamId} ${d.id}`;
        const g = groups.get(key) ?? groups.set(key, { endpoint: eps.get(`${d.teamId} ${d.endpointId}`) ?? null, deliveries: [], batchId: d.batchId }).get(key)!;
        g.deliveries.push(d);
      }
      for (const g of groups.values()) g.deliveries.sort((a, b) => (a.createdAt.getTime() - b.createdAt.getTime()) || (a.id < b.id ? -1 : 1));
      return [...groups.values()];
    });
  }

  private finishing: { r: AttemptRecord; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  /**
   * Records one attempt's outcome. Outcomes that finish while an earlier record is being written
   * wait for it and are then written together, in one transaction (no timer: a lone outcome goes at
   * once), so a busy dispatcher pays one commit for many attempts rather than one each.
   */
  finish(r: AttemptRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.finishing.push({ r, resolve, reject });
      if (!this.flushing) void this.flushFinished();
    });
  }

  private async flushFinished(): Promise<void> {
    this.flushing = true;
    try {
      while (this.finishing.length) {
        const batch = this.finishing.splice(0, 64);
        try {
          await this.finishAll(batch.map((b) => b.r));
          batch.forEach((b) => b.resolve());
        } catch (e) {
          if (batch.length === 1) { batch[0]!.reject(e); continue; }
          // One record's fault must not cost the others their record: each is written alone.
          for (const b of batch) await this.finishAll([b.r]).then(b.resolve, b.reject);
        }
      }
    } finally { this.flushing = false; }
  }

  private async finishAll(rs: AttemptRecord[]): Promise<void> {
    let disabled = false;
    const attempts = rs.flatMap((r) => r.attempts);
    const deliveries = rs.flatMap((r) => r.deliveries);
    const audit = rs.flatMap((r) => r.audit ?? []);
    const operational = rs.flatMap((r) => r.operational ?? []);
    // Endpoint health: rows in one order in every transaction (no deadlock between instances);
    // for one endpoint, in the order its attempts finished (a later outcome wins, as one by one).
    const eps = rs.flatMap((r) => (r.endpoint ? [r.endpoint] : [])).sort((a, b) => (a.teamId + a.id < b.teamId + b.id ? -1 : a.teamId + a.id > b.teamId + b.id ? 1 : 0));
    const insertAttempts = attempts.length ? sql`insert into webhook_attempts select * from jsonb_populate_recordset(null::webhook_attempts, ${JSON.stringify(attempts.map((a) => ({
      team_id: a.teamId, id: a.id, delivery_id: a.deliveryId, endpoint_id: a.endpointId, attempt: a.attempt, trigger: a.trigger,
      started_at: a.startedAt.toISOString(), duration_ms: a.durationMs, status_code: a.statusCode, error: a.error,
      response_excerpt: a.responseExcerpt === null ? null : a.responseExcerpt.replace(/\u0000/g, ''),
    })))}::jsonb)` : null;
    const updateDeliveries = deliveries.length ? sql`update webhook_deliveries w set status = k.status, next_attempt_at = k.next_attempt_at, last_status_code = k.last_status_code,
        locked_until = null, manual = false, alerted = coalesce(k.alerted, w.alerted), updated_at = now()
      from jsonb_to_recordset(${JSON.stringify(deliveries.map((d) => ({ team_id: d.teamId, id: d.id, status: d.status, next_attempt_at: d.nextAttemptAt?.toISOString() ?? null, last_status_code: d.lastStatusCode, alerted: d.alerted ?? null })))}::jsonb)
        as k(team_id uuid, id uuid, status text, next_attempt_at timestamptz, last_status_code smallint, alerted boolean)${sql.raw(', async_commit')}
      where w.team_id = k.team_id and w.id = k.id` : null;
    if (insertAttempts && updateDeliveries && !audit.length && !operational.length && !eps.length) {
      // The usual record (successes of healthy endpoints): one statement, atomic on its own, so no
      // transaction to open and commit around it.
      await sql`with ${ASYNC_COMMIT}, a as (${insertAttempts}) ${updateDeliveries}`.execute(this.db);
      return;
    }
    await this.db.transaction().execute(async (tx) => {
      if (insertAttempts) await insertAttempts.execute(tx);
      if (updateDeliveries) await sql`with ${ASYNC_COMMIT} ${updateDeliveries}`.execute(tx);
      if (audit.length) {
        await sql`insert into audit_events (team_id, id, key_id, action, user_id, request_id, status, at)
          select a.team_id, a.id, null, a.action, a.user_id, a.request_id, a.status, a.at
          from jsonb_to_recordset(${JSON.stringify(audit.map((a) => ({ team_id: a.teamId, id: a.id, action: a.action, user_id: a.userId, request_id: a.requestId, status: a.status, at: a.at.toISOString() })))}::jsonb)
            as a(team_id uuid, id uuid, action text, user_id text, request_id text, status integer, at timestamptz)`.execute(tx);
      }
      if (operational.length) {
        // In the attempt's own transaction: an operational message exists exactly when its cause was recorded.
        const ops = JSON.stringify(operational.map((m) => ({ id: m.id, type: m.type, payload: m.payload })));
        await sql`insert into webhook_operational (id, type, payload, status, next_attempt_at, created_at, updated_at)
          select o.id, o.type, o.payload, 'pending', now(), now(), now() from jsonb_to_recordset(${ops}::jsonb) as o(id text, type text, payload text)`.execute(tx);
        await sql`select pg_notify(${EVENTS_CHANNEL}, '')`.execute(tx);
      }
      for (const e of eps) {
        if (e.disabled) {
          disabled = true;
          await sql`update webhook_endpoints set first_failure_at = ${e.firstFailureAt}, disabled = true, disabled_reason = ${e.disabled.reason}, updated_at = now()
            where team_id = ${e.teamId} and id = ${e.id}`.execute(tx);
          await sql`select pg_notify(${ENDPOINTS_CHANNEL}, '')`.execute(tx);
        } else {
          if (e.firstFailureAt) await sql`update webhook_endpoints set first_failure_at = ${e.firstFailureAt} where team_id = ${e.teamId} and id = ${e.id} and first_failure_at is null`.execute(tx);
          else await sql`update webhook_endpoints set first_failure_at = null where team_id = ${e.teamId} and id = ${e.id} and first_failure_at is not null`.execute(tx);
        }
      }
    });
    if (disabled) this.onEndpointsChanged();
  }

  async claimOperational(now: Date, leaseMs: number, limit: number): Promise<StoredOperational[]> {
    const r = await sql<{ id: string; type: OperationalType; payload: string; attempts: number }>`update webhook_operational o
        set status = 'sending', locked_until = ${new Date(now.getTime() + leaseMs)}, attempts = o.attempts + 1, updated_at = ${now}
      from (select id from webhook_operational where (status = 'pending' and next_attempt_at <= ${now}) or (status = 'sending' and locked_until < ${now})
            order by next_attempt_at limit ${limit} for update skip locked) c
      where o.id = c.id returning o.id, o.type, o.payload, o.attempts`.execute(this.db);
    return r.rows;
  }

  async finishOperational(id: string, status: 'pending' | 'success' | 'failed', nextAttemptAt: Date | null, statusCode: number): Promise<void> {
    await sql`update webhook_operational set status = ${status}, next_attempt_at = ${nextAttemptAt}, locked_until = null, last_status_code = ${statusCode}, updated_at = now()
      where id = ${id}`.execute(this.db);
  }

  /** Pending deliveries and the age of the oldest (metrics §5). */
  async backlog(now: Date): Promise<{ pending: number; oldestS: number }> {
    const r = await sql<{ n: string; oldest: Date | null }>`select count(*) as n, min(created_at) as oldest from webhook_deliveries where status in ('pending', 'sending')`.execute(this.db);
    const o = r.rows[0]?.oldest;
    return { pending: Number(r.rows[0]?.n ?? 0), oldestS: o ? Math.max(0, (now.getTime() - o.getTime()) / 1000) : 0 };
  }
}

/**
 * A CTE (`async_commit`, one row; the statement must join it) that makes its transaction's commit
 * not wait for the WAL flush (synchronous_commit is read at commit). For attempt records only —
 * never for a change, its event, a fan-out or a claim (what decides who may send is durable before
 * anything is sent): if PostgreSQL itself crashes, the records of the last few hundred
 * milliseconds may be lost, which leaves those deliveries claimed until their lease ends (30 s,
 * twice the attempt timeout, so never while the first POST may still be in flight), then sent
 * again: what a Roster crash between a POST and its record already does (at least once). Those
 * commits no longer queue for the WAL flush with the creates' (`LWLock:WALWrite`, `IO:WalSync`).
 */
const ASYNC_COMMIT = sql`async_commit as (select set_config('synchronous_commit', 'off', true))`;

const byDue = (a: DeliveryRow, b: DeliveryRow) => ((a.next_attempt_at?.getTime() ?? 0) - (b.next_attempt_at?.getTime() ?? 0)) || (a.created_at.getTime() - b.created_at.getTime()) || (a.id < b.id ? -1 : 1);

/**
 * rate_limit across instances (src/domain/webhooks/rate.ts): for each rate-limited endpoint among
 * the claimed deliveries, takes the window under the endpoint's row lock, keeps the requests it
 * allows (an Onvy batch, or up to 10 new Onvy deliveries, is one request) and puts the rest back,
 * pending, due at the next window, their attempt not counted. Returns the ids put back.
 */
async function deferOverRate(tx: Kysely<Database>, claimed: DeliveryRow[], eps: (EndpointRow & { rate_window: string | null; rate_used: number })[], now: Date): Promise<Set<string>> {
  const out = new Set<string>();
  for (const ep of eps) {
    if (ep.rate_limit === null || ep.disabled) continue;
    const mine = claimed.filter((d) => d.team_id === ep.team_id && d.endpoint_id === ep.id).sort(byDue);
    // The requests these deliveries make, in the order they are due.
    const units: DeliveryRow[][] = [];
    const batches = new Map<string, DeliveryRow[]>();
    let fresh: DeliveryRow[] = [];
    for (const d of mine) {
      if (d.batch_id) {
        const b = batches.get(d.batch_id);
        if (b) b.push(d); else { const nb = [d]; batches.set(d.batch_id, nb); units.push(nb); }
      } else if (d.format === 'onvy') {
        if (fresh.length === 0) units.push(fresh);
        fresh.push(d);
        if (fresh.length === ONVY_BATCH_MAX) fresh = [];
      } else units.push([d]);
    }
    const cur = (await sql<{ rate_window: string | null; rate_used: number }>`select rate_window, rate_used from webhook_endpoints
      where team_id = ${ep.team_id} and id = ${ep.id} for update`.execute(tx)).rows[0];
    if (!cur) continue;
    const g = grantRequests(ep.rate_limit, { window: cur.rate_window === null ? null : Number(cur.rate_window), used: cur.rate_used }, units.length, now.getTime());
    await sql`update webhook_endpoints set rate_window = ${g.next.window}, rate_used = ${g.next.used} where team_id = ${ep.team_id} and id = ${ep.id}`.execute(tx);
    const back = units.slice(g.granted).flat();
    if (back.length === 0) continue;
    for (const d of back) out.add(d.id);
    const keys = JSON.stringify(back.map((d) => ({ team_id: d.team_id, id: d.id })));
    await sql`update webhook_deliveries w set status = 'pending', attempts = w.attempts - 1, locked_until = null, next_attempt_at = ${new Date(g.deferUntilMs)}
      from jsonb_to_recordset(${keys}::jsonb) as k(team_id uuid, id uuid) where w.team_id = k.team_id and w.id = k.id`.execute(tx);
  }
  return out;
}

/** Deletes events, deliveries and attempts older than `before`, in batches. Returns rows removed. */
export async function purgeWebhooksBefore(db: Kysely<Database>, before: Date): Promise<number> {
  const root = rootOf(db);
  let total = 0;
  for (const table of ['webhook_attempts', 'webhook_deliveries', 'webhook_events', 'webhook_operational'] as const) {
    const col = table === 'webhook_attempts' ? 'started_at' : table === 'webhook_events' ? 'occurred_at' : 'created_at';
    const extra = table === 'webhook_deliveries' || table === 'webhook_operational' ? sql` and status in ('success', 'failed', 'cancelled')` : table === 'webhook_events' ? sql` and fanned_out_at is not null` : sql``;
    for (;;) {
      const r = await sql`delete from ${sql.table(table)} where ctid = any(array(select ctid from ${sql.table(table)} where ${sql.ref(col)} < ${before}${extra} limit 5000))`.execute(root);
      const n = Number(r.numAffectedRows ?? 0);
      total += n;
      if (n < 5000) break;
    }
  }
  return total;
}
