// Failed credential attempts (security review C4): API keys on every face, the admin token, the
// metrics token and the tokens /auth/v1/token takes.
//
//  - Per client address: after `maxFailures` refused credentials within `windowMs`, the address gets
//    the face's own 429 (with Retry-After) until its window ends, before any credential is looked at.
//    A success does not reset the count: a guesser holding one valid key gains nothing.
//  - Per credential (a negative cache): a credential refused once is refused again for `negativeTtlMs`
//    without a database query (its SHA-256 is what is kept, never the secret).
//
// State is per process (like the in-process rate limits): N instances allow N times the attempts.
// The client address is `req.ip`, which honours X-Forwarded-For only with ROSTER_TRUST_PROXY.
//
// Wiring: `throttleFailures(scope, throttle, tooMany)` once per face/scope (two hooks: refuse a
// blocked address on arrival, count every 401 it answered); `throttle.bad`/`throttle.remember` where
// a credential is resolved.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface CredentialThrottleOptions {
  /** Refused credentials per address per window before 429 (default 30). */
  maxFailures?: number;
  /** Window length in ms (default 60 s). */
  windowMs?: number;
  /** How long a refused credential is refused from memory (default 60 s). */
  negativeTtlMs?: number;
  /** Bound on each map (addresses, credentials); the oldest entries go first. */
  maxEntries?: number;
  now?: () => number;
}

export const DEFAULT_CREDENTIAL_THROTTLE = { maxFailures: 30, windowMs: 60_000, negativeTtlMs: 60_000, maxEntries: 50_000 };

const digestOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('base64');

export class CredentialThrottle {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly failures = new Map<string, { n: number; until: number }>();
  private readonly refused = new Map<string, { tag: string; until: number }>();
  /** Counts since start (exported in /metrics). */
  readonly stats = { throttled: 0, negativeHits: 0 };

  constructor(o: CredentialThrottleOptions = {}) {
    this.maxFailures = o.maxFailures ?? DEFAULT_CREDENTIAL_THROTTLE.maxFailures;
    this.windowMs = o.windowMs ?? DEFAULT_CREDENTIAL_THROTTLE.windowMs;
    this.negativeTtlMs = o.negativeTtlMs ?? DEFAULT_CREDENTIAL_THROTTLE.negativeTtlMs;
    this.maxEntries = o.maxEntries ?? DEFAULT_CREDENTIAL_THROTTLE.maxEntries;
    this.now = o.now ?? Date.now;
  }

  /** Seconds `addr` must wait (it failed too often in this window); 0 when it may try. */
  retryAfter(addr: string): number {
    const f = this.failures.get(addr);
    if (!f) return 0;
    const left = f.until - this.now();
    if (left <= 0) { this.failures.delete(addr); return 0; }
    return f.n >= this.maxFailures ? Math.max(1, Math.ceil(left / 1000)) : 0;
  }

  /** One refused credential from `addr`. */
  failed(addr: string): void {
    const t = this.now();
    const f = this.failures.get(addr);
    if (f && f.until > t) { f.n++; return; }
    bound(this.failures, this.maxEntries);
    this.failures.set(addr, { n: 1, until: t + this.windowMs });
  }

  /** The tag a credential was refused with recently (answer the same without asking the database); else null. */
  bad(secret: string): string | null {
    const d = digestOf(secret);
    const r = this.refused.get(d);
    if (!r) return null;
    if (r.until <= this.now()) { this.refused.delete(d); return null; }
    this.stats.negativeHits++;
    return r.tag;
  }

  /** `secret` was refused (tag: why, e.g. the token failure reason). */
  remember(secret: string, tag = 'refused'): void {
    bound(this.refused, this.maxEntries);
    this.refused.set(digestOf(secret), { tag, until: this.now() + this.negativeTtlMs });
  }
}

function bound(m: Map<string, unknown>, max: number) {
  if (m.size < max) return;
  // Maps iterate in insertion order: drop the oldest tenth.
  let drop = Math.ceil(max / 10);
  for (const k of m.keys()) { if (drop-- <= 0) break; m.delete(k); }
}

/** The face's own 429 for a throttled address (set Retry-After is done here). */
export type TooMany = (req: FastifyRequest, reply: FastifyReply, retryAfterS: number) => unknown;

/**
 * On `scope` (a face, admin, /auth): a throttled address gets `tooMany` before anything else runs,
 * and every 401 the scope answers counts as a failure of the request's address. Call it before the
 * scope's own authentication hook.
 */
export function throttleFailures(scope: FastifyInstance, throttle: CredentialThrottle, tooMany: TooMany): void {
  scope.addHook('onRequest', (req, reply, done) => {
    const wait = throttle.retryAfter(req.ip);
    if (wait === 0) return done();
    throttle.stats.throttled++;
    reply.header('retry-after', String(wait));
    return tooMany(req, reply, wait);
  });
  scope.addHook('onResponse', (req, reply, done) => {
    if (reply.statusCode === 401) throttle.failed(req.ip);
    done();
  });
}

export const tooManyMessage = (s: number) => `Too many failed authentication attempts from this address; retry in ${s} seconds`;

/**
 * `tokens` whose exchange and refresh refuse a token that was refused recently with the same
 * reason, without a database transaction (each refresh guess was a `SELECT … FOR UPDATE`).
 */
export function negativeCachedTokens<T extends { exchange(t: string, base: string): Promise<unknown>; refresh(t: string, base: string): Promise<unknown> }>(
  tokens: T, throttle: CredentialThrottle, isRefusal: (e: unknown) => e is Error & { reason: string }, refusal: (reason: string) => Error,
): T {
  const wrap = (name: 'exchange' | 'refresh') => async (t: string, base: string) => {
    const seen = throttle.bad(`${name}:${t}`);
    if (seen !== null) throw refusal(seen);
    try {
      return await tokens[name](t, base);
    } catch (e) {
      if (isRefusal(e)) throttle.remember(`${name}:${t}`, e.reason);
      throw e;
    }
  };
  const out = Object.create(tokens) as T;
  Object.assign(out, { exchange: wrap('exchange'), refresh: wrap('refresh') });
  return out;
}
