// The hooks every write of every face goes through, at the app root (faces need not know). The
// rules and the storage are not here: Idempotency-Key is the port in src/domain/idempotency.ts (its
// PostgreSQL implementation: src/store/idempotency.ts), the audit trail is the AuditLog port.
//  - Idempotency-Key: replay, mismatch (422), busy (409); the key commits exactly when the change
//    does. Requests refused before the operation ran (auth, schema validation) never reach here.
//  - Audit: one entry per mutation (team, key id, action, user id, request id, status, time). The
//    action is `<face>.<operationId>`, the face being the one its route was registered by
//    (src/http/faces.ts sets `config.face`), never read from the URL. Reads of health records (routes
//    with `config.auditRead`: demographics, insurance) are audited the same way, buffered (no
//    round trip on the read: src/store/audit.ts batches them); docs/security.md S5.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry, AuditLog } from '../domain/audit.ts';
import { isIdempotencyKey, requestFingerprint, type IdempotencyStore } from '../domain/idempotency.ts';
import type { RequestScope, RequestScopes } from '../domain/request-scope.ts';
import { newId, parseUuid } from '../domain/ids.ts';
import type { Clock } from '../kernel/clock.ts';
import { WritePathError, type Answer, type OutsideError } from './outside-errors.ts';
import { WRITE_METHODS } from './shared/auth.ts';
import { clientRequestId } from './request-id.ts';

const REPLAY_HEADERS = ['content-type', 'retry-after', 'location'];

declare module 'fastify' {
  interface FastifyRequest {
    scope: RequestScope | null;
    /** Set by a handler when the touched user is not in the path (e.g. a create). */
    auditUserId: string | null;
    idem: { replayed: boolean } | null;
  }
  interface FastifyContextConfig {
    /** The face whose plugin registered this route (the audit action's first part). */
    face?: string;
    /** A read of health records: audited like a mutation (security review S5). */
    auditRead?: boolean;
  }
}

export interface WritePathOptions {
  scopes: RequestScopes;
  idempotency: IdempotencyStore;
  /** Open a request scope for reads too (set when reads may be routed to a replica). */
  scopeReads?: boolean;
  audit: AuditLog;
  now: Clock;
  /** Renders an error in the shape of the request's face (src/http/faces.ts); `detail` is Junction's text. */
  answer?: (req: FastifyRequest, kind: OutsideError, detail: string) => Answer;
  /** Told of a commit that failed (storage exhaustion is counted: src/http/storage-state.ts). */
  onCommitError?: (e: unknown) => void;
}

const COMMIT_FAILED = 'The change could not be committed; retry with the same Idempotency-Key';

export function installWritePath(app: FastifyInstance, o: WritePathOptions) {
  app.decorateRequest('scope', null);
  app.decorateRequest('auditUserId', null);
  app.decorateRequest('idem', null);

  // Opens the request scope the store reads its request transaction from. Callback style and after
  // body parsing, so the scope reaches the handler.
  //
  // Only requests that can use it get one: a write carrying an Idempotency-Key (its transaction)
  // and, with a read replica, a read (its routing). AsyncLocalStorage switches on async_hooks'
  // promise tracking for the whole process once used, which costs every request a few percent,
  // so a deployment that never sends Idempotency-Key and has no replica never pays for it.
  app.addHook('preValidation', (req, _reply, done) => {
    const wantsScope = WRITE_METHODS.has(req.method) ? req.headers['idempotency-key'] !== undefined : o.scopeReads === true;
    if (!wantsScope) return done();
    req.scope = o.scopes.open();
    o.scopes.run(req.scope, done);
  });

  app.addHook('preHandler', (req, reply, done) => {
    // Requests refused by schema validation never ran the operation: nothing to remember.
    if (!WRITE_METHODS.has(req.method) || !req.principal || req.validationError || req.headers['idempotency-key'] === undefined) return done();
    // A replay has sent its answer: the chain must not go on (no done()).
    beginIdempotent(req, reply).then((replayed) => { if (!replayed) done(); }, done);
  });
  /** Opens the idempotent write, or replays the stored answer (then true). */
  const beginIdempotent = async (req: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (!req.principal || !req.scope) return false;
    const raw = req.headers['idempotency-key']!;
    const key = Array.isArray(raw) ? raw[0]! : raw;
    if (!isIdempotencyKey(key)) throw new WritePathError(400, 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    const r = await o.idempotency.begin(req.scope, req.principal.teamId, key, requestFingerprint(req.method, req.url, req.body), o.now());
    switch (r.kind) {
      case 'busy': throw new WritePathError(409, 'A request with this Idempotency-Key is still in progress; retry after it completes');
      case 'mismatch': throw new WritePathError(422, 'This Idempotency-Key was already used with a different request (method, path or body); use a new key');
      case 'replay':
        req.idem = { replayed: true };
        reply.code(r.response.status);
        for (const [h, v] of Object.entries(r.response.headers)) reply.header(h, v);
        reply.header('idempotent-replayed', 'true');
        reply.send(r.response.body);
        return true;
      case 'started':
        req.idem = { replayed: false };
        return false;
    }
  };

  // Reads pass the hooks below synchronously (callback style): no promise per read for a hook that
  // has nothing to do.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (!WRITE_METHODS.has(req.method) || !req.principal || req.idem?.replayed) return done(null, payload);
    finishWrite(req, reply, payload).then((p) => done(null, p), done);
  });
  const finishWrite = async (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const entry = auditEntry(req, reply, payload, o.now());
    const scope = req.scope;
    if (!scope || !o.idempotency.isOpen(scope)) {
      await o.audit.record(entry);
      return payload;
    }
    if (reply.statusCode >= 500) {
      await o.idempotency.abort(scope);
      await o.audit.record(entry);
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const h of REPLAY_HEADERS) {
      const v = reply.getHeader(h);
      if (v !== undefined) headers[h] = String(v);
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    try {
      await o.idempotency.complete(scope, { status: reply.statusCode, headers, body }, entry);
      return payload;
    } catch (e) {
      o.onCommitError?.(e);
      req.log.warn({ err: (e as Error).message }, 'idempotent write could not commit');
      // In the face's own error shape (the answer already on its way was a success).
      const a = o.answer?.(req, 'commit_failed', COMMIT_FAILED) ?? { status: 503, type: 'application/json', body: JSON.stringify({ detail: COMMIT_FAILED }) };
      reply.code(a.status).header('retry-after', '1').type(a.type);
      return a.body;
    }
  };

  // Whatever path a request took (aborted, errored before onSend), never leak an open transaction.
  app.addHook('onResponse', (req, reply, done) => {
    if (req.routeOptions.config?.auditRead && req.principal) void o.audit.record(auditEntry(req, reply, undefined, o.now())).catch(() => {});
    if (!req.scope || !o.idempotency.isOpen(req.scope)) return done();
    o.idempotency.abort(req.scope).then(() => done(), done);
  });
  app.addHook('onRequestAbort', async (req) => { if (req.scope) await o.idempotency.abort(req.scope); });
}

function auditEntry(req: FastifyRequest, reply: FastifyReply, payload: unknown, at: Date): AuditEntry {
  const p = req.principal;
  const operation = (req.routeOptions.schema as { operationId?: string } | undefined)?.operationId ?? `${req.method} ${req.routeOptions.url ?? 'unknown'}`;
  return {
    teamId: p.teamId,
    id: newId(),
    keyId: p.keyId,
    action: `${req.routeOptions.config?.face ?? 'unknown'}.${operation}`,
    userId: auditUserId(req, payload),
    requestId: req.id,
    clientRequestId: clientRequestId(req.headers),
    status: reply.statusCode,
    at,
  };
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
