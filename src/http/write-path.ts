// What every write of every face goes through, at the app root (faces need not know):
//  - Idempotency-Key: the same key and the same request (method, URL, JSON body compared after
//    parsing) replays the first response without doing the work again; a different request under
//    that key → 422; the same key while the first is still running → 409. The key row is written in
//    the request's own transaction (src/db/request-tx.ts), so it commits exactly when the change
//    does. Requests refused before the operation ran (auth, schema validation) never reach here.
//  - Audit: one entry per mutation (team, key id, action, user id, request id, status, time).
import { parseUuid } from '../domain/ids.ts';
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/schema.ts';
import { runInRequestScope, type RequestScope } from '../db/request-tx.ts';
import type { AuditLog } from '../domain/audit.ts';
import { newId } from '../domain/ids.ts';
import type { Answer, OutsideError } from './face-errors.ts';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const KEY_RE = /^[\x21-\x7e]{1,255}$/;
const REPLAY_HEADERS = ['content-type', 'retry-after', 'location'];
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

declare module 'fastify' {
  interface FastifyRequest {
    scope: RequestScope | null;
    /** Set by a handler when the touched user is not in the path (e.g. a create). */
    auditUserId: string | null;
    idem: { replayed: boolean } | null;
  }
}

/** An error the faces render in their own shape (they map 4xx statusCode + message). */
export class WritePathError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'WritePathError';
  }
}

/** JSON with object keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same request. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return '';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

function faceOf(url: string | undefined): string {
  if (!url) return 'unknown';
  const seg = url.split('/')[1] ?? '';
  return seg === 'v2' ? 'junction' : seg || 'root';
}

export interface WritePathOptions {
  rootDb: Kysely<Database>;
  /** Open a request scope for reads too (set when reads may be routed to a replica). */
  scopeReads?: boolean;
  audit: AuditLog;
  now: () => Date;
  /** Renders an error in the shape of the request's face (src/http/face-errors.ts); `detail` is Junction's text. */
  answer?: (req: FastifyRequest, kind: OutsideError, detail: string) => Answer;
  /** Told of a commit that failed (storage exhaustion is counted: src/http/storage-state.ts). */
  onCommitError?: (e: unknown) => void;
}

const COMMIT_FAILED = 'The change could not be committed; retry with the same Idempotency-Key';

export function installWritePath(app: FastifyInstance, o: WritePathOptions) {
  app.decorateRequest('scope', null);
  app.decorateRequest('auditUserId', null);
  app.decorateRequest('idem', null);

  // Opens the async context the store reads its request transaction from. Callback style and after
  // body parsing, so the context reaches the handler.
  //
  // Only requests that can use it get one: a write carrying an Idempotency-Key (its transaction)
  // and, with a read replica, a read (its routing). AsyncLocalStorage switches on async_hooks'
  // promise tracking for the whole process once used, which costs every request a few percent,
  // so a deployment that never sends Idempotency-Key and has no replica never pays for it.
  app.addHook('preValidation', (req, _reply, done) => {
    const wantsScope = WRITE_METHODS.has(req.method) ? req.headers['idempotency-key'] !== undefined : o.scopeReads === true;
    if (!wantsScope) return done();
    const scope: RequestScope = { trx: null };
    req.scope = scope;
    runInRequestScope(scope, done);
  });

  app.addHook('preHandler', (req, reply, done) => {
    // Requests refused by schema validation never ran the operation: nothing to remember.
    if (!WRITE_METHODS.has(req.method) || !req.principal || req.validationError || req.headers['idempotency-key'] === undefined) return done();
    // A replay has sent its answer: the chain must not go on (no done()).
    beginIdempotent(req, reply).then((replayed) => { if (!replayed) done(); }, done);
  });
  /** Opens the idempotent write, or replays the stored answer (then true). */
  const beginIdempotent = async (req: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (!req.principal) return false;
    const raw = req.headers['idempotency-key']!;
    const key = Array.isArray(raw) ? raw[0]! : raw;
    if (!KEY_RE.test(key)) throw new WritePathError(400, 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    const teamId = req.principal.teamId;
    const fingerprint = createHash('sha256').update(`${req.method}\n${req.url}\n${canonicalJson(req.body)}`).digest();
    const now = o.now();

    const trx = await o.rootDb.startTransaction().execute();
    try {
      const lock = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(hashtextextended(${`idem:${teamId}:${key}`}, 0)) as ok`.execute(trx);
      const locked = Boolean(lock.rows[0]?.ok);
      // Not locked: another request holds the key. If the first request has completed (its row is
      // committed, with its response), this copy merely raced another replay: replay it too rather
      // than answer 409 "in progress". (test/reliability/sigkill.test.ts)
      const existing = await (locked ? trx : o.rootDb).selectFrom('idempotency_keys').selectAll().where('team_id', '=', teamId).where('key', '=', key).executeTakeFirst();
      if (!locked && (!existing || existing.response_status === null || existing.expires_at.getTime() <= now.getTime())) {
        throw new WritePathError(409, 'A request with this Idempotency-Key is still in progress; retry after it completes');
      }
      if (existing && existing.expires_at.getTime() > now.getTime()) {
        await trx.rollback().execute();
        if (!existing.fingerprint.equals(fingerprint)) {
          throw new WritePathError(422, 'This Idempotency-Key was already used with a different request (method, path or body); use a new key');
        }
        req.idem = { replayed: true };
        reply.code(existing.response_status ?? 200);
        for (const [h, v] of Object.entries(existing.response_headers ?? {})) reply.header(h, v);
        reply.header('idempotent-replayed', 'true');
        reply.send(existing.response_body ?? '');
        return true;
      }
      if (existing) await trx.deleteFrom('idempotency_keys').where('team_id', '=', teamId).where('key', '=', key).execute();
      await trx.insertInto('idempotency_keys').values({ team_id: teamId, key, fingerprint, response_status: null, response_headers: null, response_body: null, created_at: now, expires_at: new Date(now.getTime() + IDEMPOTENCY_TTL_MS) }).execute();
      req.idem = { replayed: false };
      req.scope!.trx = trx;
      (req as FastifyRequest & { idemKey?: string }).idemKey = key;
      return false;
    } catch (e) {
      if (!trx.isCommitted && !trx.isRolledBack) await trx.rollback().execute().catch(() => {});
      throw e;
    }
  };

  // Reads pass the hooks below synchronously (callback style): no promise per read for a hook that
  // has nothing to do.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (!WRITE_METHODS.has(req.method) || !req.principal || req.idem?.replayed) return done(null, payload);
    finishWrite(req, reply, payload).then((p) => done(null, p), done);
  });
  const finishWrite = async (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (!req.principal) return payload;
    const entry = {
      teamId: req.principal.teamId,
      id: newId(),
      keyId: req.principal.keyId,
      action: `${faceOf(req.routeOptions.url)}.${(req.routeOptions.schema as { operationId?: string } | undefined)?.operationId ?? `${req.method} ${req.routeOptions.url ?? 'unknown'}`}`,
      userId: auditUserId(req, payload),
      requestId: req.id,
      status: reply.statusCode,
      at: o.now(),
    };
    const trx = req.scope?.trx;
    if (!trx) {
      await o.audit.record(entry);
      return payload;
    }
    req.scope!.trx = null;
    try {
      if (reply.statusCode >= 500) {
        await trx.rollback().execute();
        await o.audit.record(entry);
        return payload;
      }
      const headers: Record<string, string> = {};
      for (const h of REPLAY_HEADERS) {
        const v = reply.getHeader(h);
        if (v !== undefined) headers[h] = String(v);
      }
      const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
      await trx.updateTable('idempotency_keys').set({ response_status: reply.statusCode, response_headers: JSON.stringify(headers), response_body: body })
        .where('team_id', '=', req.principal.teamId).where('key', '=', (req as FastifyRequest & { idemKey?: string }).idemKey!).execute();
      await trx.insertInto('audit_events').values({ team_id: entry.teamId, id: entry.id, key_id: entry.keyId, action: entry.action, user_id: entry.userId, request_id: entry.requestId, status: entry.status, at: entry.at }).execute();
      await trx.commit().execute();
      return payload;
    } catch (e) {
      await trx.rollback().execute().catch(() => {});
      o.onCommitError?.(e);
      req.log.warn({ err: (e as Error).message }, 'idempotent write could not commit');
      // In the face's own error shape (the answer already on its way was a success).
      const a = o.answer?.(req, 'commit_failed', COMMIT_FAILED) ?? { status: 503, type: 'application/json', body: JSON.stringify({ detail: COMMIT_FAILED }) };
      reply.code(a.status).header('retry-after', '1').type(a.type);
      return a.body;
    }
  };

  // Whatever path a request took (aborted, errored before onSend), never leak an open transaction.
  const release = async (req: FastifyRequest) => {
    const trx = req.scope?.trx;
    if (trx) {
      req.scope!.trx = null;
      await trx.rollback().execute().catch(() => {});
    }
  };
  app.addHook('onResponse', (req, _reply, done) => {
    if (!req.scope?.trx) return done();
    release(req).then(() => done(), done);
  });
  app.addHook('onRequestAbort', async (req) => release(req));
}

function auditUserId(req: FastifyRequest, payload: unknown): string | null {
  if (req.auditUserId) return req.auditUserId;
  const p = req.params as Record<string, unknown> | undefined;
  if (p && typeof p.user_id === 'string') return parseUuid(p.user_id) ?? p.user_id.toLowerCase();
  if (p && typeof p.id === 'string') return p.id;
  if (typeof payload === 'string' && payload.startsWith('{') && payload.length < 65_536) {
    try {
      const b = JSON.parse(payload) as Record<string, unknown>;
      const v = b.user_id ?? b.userId ?? b.id;
      return v === undefined || v === null ? null : String(v);
    } catch {
      return null;
    }
  }
  return null;
}

export type { FastifyReply };
