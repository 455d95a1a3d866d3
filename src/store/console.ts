// PostgreSQL side of the console (src/domain/console.ts): sessions, one-time links and the reads its
// pages make. Every users query is a range of an index led by team_id (migration 0013 and 0001):
//   live, newest first        users_live_created (team_id, created_at desc, id desc) where live
//   deleted, awaiting undo    users_deleted_at (team_id, deleted_at desc, id desc) where deleted
//   client id prefix          users_client_prefix (team_id, client_user_id collate "C")
//   user id / basic userId    the primary key / users_basic_id; e-mail: users_live_email
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { AuditEntry } from '../domain/audit.ts';
import {
  COUNT_CAP, type AuditSearch, type ConsoleReads, type ConsoleSession, type ConsoleSessionStore, type ConsoleTeam, type ConsoleTeamSummary, type Count,
  type UserFaces, type UserPage, type UserRow, type UserSearch,
} from '../domain/console.ts';
import type { Connection } from '../domain/connections.ts';
import { parseUuid } from '../domain/ids.ts';

export class PgConsoleSessions implements ConsoleSessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(s: ConsoleSession) {
    await sql`insert into console_sessions (id_hash, csrf_token, scope, created_at, last_seen_at, expires_at)
      values (${s.idHash}, ${s.csrfToken}, ${s.scope}, ${s.createdAt}, ${s.lastSeenAt}, ${s.expiresAt})`.execute(this.db);
  }

  async find(idHash: Buffer): Promise<ConsoleSession | null> {
    const r = await sql<{ id_hash: Buffer; csrf_token: string; created_at: Date; last_seen_at: Date; expires_at: Date }>`
      select id_hash, csrf_token, created_at, last_seen_at, expires_at from console_sessions where id_hash = ${idHash}`.execute(this.db);
    const x = r.rows[0];
    return x ? { idHash: x.id_hash, csrfToken: x.csrf_token, scope: 'admin', createdAt: x.created_at, lastSeenAt: x.last_seen_at, expiresAt: x.expires_at } : null;
  }

  async touch(idHash: Buffer, at: Date) {
    await sql`update console_sessions set last_seen_at = ${at} where id_hash = ${idHash}`.execute(this.db);
  }

  async delete(idHash: Buffer) {
    await sql`delete from console_sessions where id_hash = ${idHash}`.execute(this.db);
  }

  async purge(now: Date, idleBefore: Date) {
    const a = await sql`delete from console_sessions where expires_at <= ${now} or last_seen_at < ${idleBefore}`.execute(this.db);
    const b = await sql`delete from console_sign_in_links where expires_at <= ${now}`.execute(this.db);
    return Number(a.numAffectedRows ?? 0n) + Number(b.numAffectedRows ?? 0n);
  }

  async insertLink(hash: Buffer, createdAt: Date, expiresAt: Date) {
    await sql`insert into console_sign_in_links (hash, created_at, expires_at) values (${hash}, ${createdAt}, ${expiresAt})`.execute(this.db);
  }

  async redeemLink(hash: Buffer, now: Date) {
    const r = await sql`update console_sign_in_links set used_at = ${now}
      where hash = ${hash} and used_at is null and expires_at > ${now}`.execute(this.db);
    return Number(r.numAffectedRows ?? 0n) === 1;
  }
}

/** The largest code point: `p || MAX` bounds every string that starts with p in byte ("C") order. */
const MAX_CHAR = String.fromCodePoint(0x10ffff);

interface UserDbRow {
  id: string;
  client_user_id: string;
  basic_id: string | number;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  created_at: Date;
  deleted_at: Date | null;
  providers: { provider: string; status: string }[] | null;
}

export class PgConsoleReads implements ConsoleReads {
  constructor(private readonly db: Kysely<Database>) {}

  private async teamRows(where: RawBuilder<unknown>): Promise<ConsoleTeam[]> {
    const r = await sql<{ id: string; name: string; mode: 'sandbox' | 'production'; created_at: Date; rate_limit_per_minute: number | null }>`
      select id, name, mode, created_at, rate_limit_per_minute from teams ${where} order by created_at, id`.execute(this.db);
    return r.rows.map((x) => ({ id: x.id, name: x.name, mode: x.mode, createdAt: x.created_at, rateLimitPerMinute: x.rate_limit_per_minute }));
  }

  teamList() {
    return this.teamRows(sql``);
  }

  async team(teamId: string) {
    return (await this.teamRows(sql`where id = ${teamId}`))[0] ?? null;
  }

  async teams(): Promise<ConsoleTeamSummary[]> {
    const teams = await this.teamList();
    const keys = await sql<{ team_id: string; n: string }>`select team_id, count(*) as n from api_keys where revoked_at is null group by team_id`.execute(this.db);
    const k = new Map(keys.rows.map((x) => [x.team_id, Number(x.n)]));
    const eps = await sql<{ team_id: string; total: string; enabled: string }>`select team_id, count(*) as total, count(*) filter (where not disabled) as enabled
      from webhook_endpoints group by team_id`.execute(this.db);
    const e = new Map(eps.rows.map((x) => [x.team_id, { total: Number(x.total), enabled: Number(x.enabled) }]));
    return Promise.all(teams.map(async (t) => ({ ...t, activeKeys: k.get(t.id) ?? 0, endpoints: e.get(t.id) ?? { total: 0, enabled: 0 },
      liveUsers: await this.count(sql`u.team_id = ${t.id} and u.deleted_at is null`, true) })));
  }

  /**
   * Exact up to COUNT_CAP (an index range that stops there); above, the planner's estimate when
   * `estimate` (a plain team/state range, whose statistics are good), else "at least".
   */
  private async count(where: RawBuilder<unknown>, estimate: boolean): Promise<Count> {
    const r = await sql<{ n: string }>`select count(*) as n from (select 1 from users u where ${where} limit ${COUNT_CAP + 1}) m`.execute(this.db);
    const n = Number(r.rows[0]!.n);
    if (n <= COUNT_CAP) return { n, kind: 'exact' };
    if (!estimate) return { n: COUNT_CAP, kind: 'atLeast' };
    const plan = await sql<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>`explain (format json) select 1 from users u where ${where}`.execute(this.db);
    return { n: Math.max(COUNT_CAP + 1, Math.round(plan.rows[0]!['QUERY PLAN'][0].Plan['Plan Rows'])), kind: 'estimate' };
  }

  async searchUsers(q: UserSearch): Promise<UserPage> {
    const live = q.state === 'live';
    // The time the page is ordered by: creation for live users, deletion for deleted ones.
    const at = live ? sql.ref('u.created_at') : sql.ref('u.deleted_at');
    const conds: RawBuilder<unknown>[] = [sql`u.team_id = ${q.teamId}`, live ? sql`u.deleted_at is null` : sql`u.deleted_at is not null`];
    let capped = false;
    if (q.q) {
      const term = q.q;
      const alts: RawBuilder<unknown>[] = [];
      const uuid = parseUuid(term);
      if (uuid) alts.push(sql`u.id = ${uuid}`);
      if (/^[1-9]\d{0,15}$/.test(term)) alts.push(sql`u.basic_id = ${term}::bigint`);
      if (term.includes('@')) alts.push(live ? sql`lower(u.email) = lower(${term})` : sql`lower(u.email) = lower(${term})`);
      alts.push(sql`(u.client_user_id collate "C" >= ${term} and u.client_user_id collate "C" < ${term + MAX_CHAR})`);
      conds.push(sql`(${sql.join(alts, sql` or `)})`);
      capped = true;
    }
    if (q.provider) {
      conds.push(sql`exists (select 1 from connections c where c.team_id = u.team_id and c.user_id = u.id and c.provider = ${q.provider})`);
      capped = true;
    }
    if (q.errored) {
      conds.push(sql`exists (select 1 from connections c where c.team_id = u.team_id and c.user_id = u.id and c.status = 'error')`);
      capped = true;
    }
    const where = sql.join(conds, sql` and `);
    const desc = q.order === 'desc';
    // The cursor row's own (time, id), read exactly (microseconds), not rounded through a URL.
    const atOf = live ? sql`k.created_at` : sql`k.deleted_at`;
    const cursor = q.after ? sql`(select ${atOf}, k.id from users k where k.team_id = ${q.teamId} and k.id = ${q.after})` : null;
    const keyset = cursor ? (desc ? sql` and (${at}, u.id) < ${cursor}` : sql` and (${at}, u.id) > ${cursor}`) : sql``;
    const dir = desc ? sql`desc` : sql`asc`;
    const page = sql<UserDbRow>`
      select u.id, u.client_user_id, u.basic_id, u.email, u.first_name, u.last_name, u.created_at, u.deleted_at,
        (select json_agg(json_build_object('provider', c.provider, 'status', c.status) order by c.provider)
           from connections c where c.team_id = u.team_id and c.user_id = u.id) as providers
      from users u where ${where}${keyset}
      order by ${at} ${dir}, u.id ${dir} limit ${q.limit + 1}`.execute(this.db);
    const [rows, total] = await Promise.all([page, this.count(where, !capped)]);
    const more = rows.rows.length > q.limit;
    const list = rows.rows.slice(0, q.limit).map(toRow);
    const last = list[list.length - 1];
    return {
      rows: list,
      total,
      next: more && last ? last.id : null,
    };
  }

  async userFaces(teamId: string, userId: string): Promise<UserFaces | null> {
    const r = await sql<{ basic_id: string | number; email: string | null; first_name: string | null; last_name: string | null; conns: ConnJson[] | null }>`
      select u.basic_id, u.email, u.first_name, u.last_name,
        (select json_agg(json_build_object('provider', c.provider, 'status', c.status, 'created_at', c.created_at, 'external_user_id', c.external_user_id,
                 'error_type', c.error_type, 'error_message', c.error_message, 'errored_at', c.errored_at, 'demo', c.demo) order by c.provider)
           from connections c where c.team_id = u.team_id and c.user_id = u.id) as conns
      from users u where u.team_id = ${teamId} and u.id = ${userId}`.execute(this.db);
    const x = r.rows[0];
    if (!x) return null;
    return { basicId: Number(x.basic_id), email: x.email, firstName: x.first_name, lastName: x.last_name, connections: (x.conns ?? []).map(toConnection) };
  }

  async audit(q: AuditSearch) {
    const conds: RawBuilder<unknown>[] = [sql`team_id = ${q.teamId}`];
    if (q.action) conds.push(sql`action = ${q.action}`);
    if (q.keyId) conds.push(sql`key_id = ${q.keyId}`);
    if (q.userIds) conds.push(q.userIds.length ? sql`user_id in (${sql.join(q.userIds)})` : sql`false`);
    if (q.since) conds.push(sql`at >= ${q.since}`);
    if (q.until) conds.push(sql`at < ${q.until}`);
    if (q.after) conds.push(sql`(at, id) < (select k.at, k.id from audit_events k where k.team_id = ${q.teamId} and k.id = ${q.after})`);
    const r = await sql<{ team_id: string; id: string; key_id: string | null; action: string; user_id: string | null; request_id: string; client_request_id: string | null; status: number; at: Date }>`
      select team_id, id, key_id, action, user_id, request_id, client_request_id, status, at from audit_events
      where ${sql.join(conds, sql` and `)} order by at desc, id desc limit ${q.limit + 1}`.execute(this.db);
    const entries: AuditEntry[] = r.rows.slice(0, q.limit).map((x) => ({ teamId: x.team_id, id: x.id, keyId: x.key_id, action: x.action, userId: x.user_id, requestId: x.request_id, clientRequestId: x.client_request_id, status: x.status, at: x.at }));
    const last = entries[entries.length - 1];
    return { entries, next: r.rows.length > q.limit && last ? last.id : null };
  }

  async auditActions(teamId: string) {
    // A loose index scan would be exact; the newest 5,000 entries name every action in practice.
    const r = await sql<{ action: string }>`
      select distinct action from (select action from audit_events where team_id = ${teamId} order by at desc limit 5000) a order by action`.execute(this.db);
    return r.rows.map((x) => x.action);
  }
}

interface ConnJson {
  provider: string;
  status: 'connected' | 'error';
  created_at: string;
  external_user_id: string | null;
  error_type: string | null;
  error_message: string | null;
  errored_at: string | null;
  demo: boolean;
}

function toConnection(c: ConnJson): Connection {
  return {
    provider: c.provider,
    status: c.status,
    createdAt: new Date(c.created_at),
    externalUserId: c.external_user_id,
    error: c.error_type || c.error_message ? { type: c.error_type ?? 'error', message: c.error_message ?? '', at: new Date(c.errored_at ?? c.created_at) } : null,
    resources: {},
    demo: c.demo,
  };
}

function toRow(r: UserDbRow): UserRow {
  return {
    id: r.id,
    clientUserId: r.client_user_id,
    basicId: Number(r.basic_id),
    email: r.email,
    firstName: r.first_name,
    lastName: r.last_name,
    createdAt: r.created_at,
    deletedAt: r.deleted_at,
    providers: r.providers ?? [],
  };
}
