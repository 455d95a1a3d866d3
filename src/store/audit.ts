// PostgreSQL audit log. Inside a request transaction (idempotent writes) the entry commits with
// the change. Otherwise entries are buffered and written in multi-row batches every few ms, so an
// audited write costs no extra round trip on the request path; the buffer is flushed on shutdown
// (a crash can lose at most one flush interval of entries — see docs/reliability.md).
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { AuditEntry, AuditLog, AuditQuery } from '../domain/audit.ts';
import { currentScope } from '../db/request-tx.ts';
import { hasForbiddenChars } from '../domain/text.ts';

const FLUSH_MS = 20;
const MAX_BATCH = 500;

// The user id may come from a request path as the client sent it: text PostgreSQL cannot store
// (NUL) would fail the whole batch, and every later one with it. Such an id is recorded as null.
const row = (e: AuditEntry) => ({ team_id: e.teamId, id: e.id, key_id: e.keyId, action: e.action, user_id: e.userId !== null && hasForbiddenChars(e.userId) ? null : e.userId, request_id: e.requestId, client_request_id: e.clientRequestId ?? null, status: e.status, at: e.at });

export class PgAuditLog implements AuditLog {
  private buffer: AuditEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Kysely<Database>, private readonly onError: (e: unknown) => void = () => {}) {}

  async record(e: AuditEntry): Promise<void> {
    if (currentScope()?.trx) {
      await this.db.insertInto('audit_events').values(row(e)).execute();
      return;
    }
    this.buffer.push(e);
    if (this.buffer.length >= MAX_BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; void this.flush(); }, FLUSH_MS);
      this.timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const batch = this.buffer.splice(0, this.buffer.length);
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        await this.db.insertInto('audit_events').values(batch.map(row)).onConflict((oc) => oc.doNothing()).execute();
      } catch (e) {
        // Keep the entries for the next flush (database briefly away), bounded.
        if (this.buffer.length < 100_000) this.buffer.unshift(...batch);
        this.onError(e);
      }
    });
    return this.flushing;
  }

  async list(q: AuditQuery): Promise<AuditEntry[]> {
    let query = this.db.selectFrom('audit_events').selectAll().orderBy('at', 'desc').orderBy('id', 'desc').limit(q.limit);
    if (q.teamId) query = query.where('team_id', '=', q.teamId);
    if (q.userId) query = query.where('user_id', '=', q.userId);
    if (q.action) query = query.where('action', '=', q.action);
    if (q.since) query = query.where('at', '>=', q.since);
    const rows = await query.execute();
    return rows.map((r) => ({ teamId: r.team_id, id: r.id, keyId: r.key_id, action: r.action, userId: r.user_id, requestId: r.request_id, clientRequestId: r.client_request_id, status: r.status, at: r.at }));
  }
}

/**
 * Deletes audit entries older than `before` (ROSTER_AUDIT_RETENTION_DAYS), team by team and
 * `batch` rows per statement, each statement a range of the (team_id, at) index: short
 * statements, and no index on `at` alone for every audited write to maintain. Returns the count.
 */
export async function purgeAuditBefore(db: Kysely<Database>, before: Date, batch = 5_000): Promise<number> {
  let total = 0;
  for (const { id: teamId } of await db.selectFrom('teams').select('id').execute()) {
    for (;;) {
      const r = await sql`delete from audit_events a using (
          select team_id, id from audit_events where team_id = ${teamId} and at < ${before} limit ${batch}
        ) old where a.team_id = old.team_id and a.id = old.id`.execute(db);
      const n = Number(r.numAffectedRows ?? 0n);
      total += n;
      if (n < batch) break;
    }
  }
  return total;
}
