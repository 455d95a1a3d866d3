// Access tokens from the mobile exchange (/auth/v1/token) as `Authorization: Bearer` on the routes
// Junction's mobile SDKs call for the signed-in user (the list and where each is called from:
// docs/sign-in-tokens.md §6). Only for that user: another user's id answers the route's 404. At most
// BEARER_LIMIT requests per hour per user (Junction's published sign-in-token limit), counted in
// Redis when there is one (shared by every instance, like the other limits). Refused once the user
// is deleted or its sessions are ended (verifyAccessToken looks at the session on every call).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { AuthTokensService } from '../domain/auth-tokens/index.ts';
import { isAuthTokenError } from '../domain/auth-tokens/index.ts';
import { parseUuid } from '../domain/ids.ts';
import type { Principal } from '../domain/teams.ts';

/** `METHOD route pattern` of every route an access token may call. */
export const BEARER_ROUTES: ReadonlySet<string> = new Set([
  'GET /v2/user/providers/:user_id',
  'DELETE /v2/user/:user_id/:provider',
  'GET /v2/user/:user_id',
  'POST /v2/user/refresh/:user_id',
]);

export const BEARER_LIMIT = { max: 250, windowMs: 3_600_000 };

/** The token of an `Authorization: Bearer <token>` header, or null when there is none. */
export function bearerToken(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer +(\S{1,16384})\s*$/i.exec(h);
  return m ? m[1]! : null;
}

/** A fixed one-hour window per user; in Redis when given, else in this process. */
export class UserHourlyLimit {
  private readonly local = new Map<string, { n: number; resetAt: number }>();

  constructor(private readonly redis: Redis | null, private readonly max = BEARER_LIMIT.max, private readonly windowMs = BEARER_LIMIT.windowMs) {}

  /** Counts one request: whether it is over the limit, what is left, and seconds until the window resets. */
  async hit(teamId: string, userId: string, nowMs = Date.now()): Promise<{ over: boolean; remaining: number; resetS: number }> {
    const window = Math.floor(nowMs / this.windowMs);
    const resetS = Math.max(1, Math.ceil(((window + 1) * this.windowMs - nowMs) / 1000));
    const key = `roster:rl:bearer:${teamId}:${userId}:${window}`;
    let n: number;
    if (this.redis) {
      try {
        const r = await this.redis.multi().incr(key).pexpire(key, this.windowMs).exec();
        n = Number(r?.[0]?.[1] ?? 0);
      } catch {
        // Redis away: serve (fail open), as every other limit does.
        return { over: false, remaining: this.max, resetS };
      }
    } else {
      const cur = this.local.get(key);
      if (!cur || cur.resetAt <= nowMs) {
        if (this.local.size > 100_000) this.local.clear();
        this.local.set(key, { n: 1, resetAt: (window + 1) * this.windowMs });
        n = 1;
      } else {
        n = ++cur.n;
      }
    }
    return { over: n > this.max, remaining: Math.max(0, this.max - n), resetS };
  }
}

const limits = new WeakMap<object, UserHourlyLimit>();

function send(reply: FastifyReply, status: number, detail: string) {
  return reply.code(status).type('application/json').send({ detail });
}

export interface BearerDeps {
  authTokens: AuthTokensService;
  redis: Redis | null;
}

/**
 * The Junction face's auth hook calls this when a request carries no API key but a Bearer token.
 * Sets `req.principal` (the session stands in for the key: `keyId` is the session id) and calls
 * `done`, or answers 401 / 403 / 404 / 429 itself.
 */
export function admitBearer(req: FastifyRequest, reply: FastifyReply, deps: BearerDeps, token: string, done: (err?: Error) => void): void {
  const route = `${req.method} ${req.routeOptions.url ?? ''}`;
  if (!BEARER_ROUTES.has(route)) {
    send(reply, 403, 'An access token is accepted only on the signed-in user\'s own routes; use an API key (x-vital-api-key)');
    return;
  }
  let limit = limits.get(deps);
  if (!limit) limits.set(deps, (limit = new UserHourlyLimit(deps.redis)));
  const lim = limit;
  deps.authTokens.verifyAccessToken(token).then(async (p) => {
    const asked = parseUuid(String((req.params as Record<string, unknown>).user_id ?? ''));
    if (asked !== p.userId) {
      const texts = (req.routeOptions.config as { texts?: { notFound: string } } | undefined)?.texts;
      return send(reply, 404, texts?.notFound ?? 'User not found');
    }
    const r = await lim.hit(p.teamId, p.userId);
    if (r.over) {
      reply.header('retry-after', String(r.resetS)).header('x-ratelimit-limit', String(BEARER_LIMIT.max)).header('x-ratelimit-remaining', '0').header('x-ratelimit-reset', String(r.resetS));
      return send(reply, 429, `Rate limit exceeded (${BEARER_LIMIT.max} requests per hour per user); retry in ${r.resetS} seconds`);
    }
    const principal: Principal = { teamId: p.teamId, keyId: p.sessionId, role: 'full', mode: p.mode, rateLimitPerMinute: null };
    req.principal = principal;
    done();
  }, (e: unknown) => {
    if (isAuthTokenError(e)) return send(reply, 401, 'Invalid or expired access token');
    done(e as Error);
  }).catch((e: unknown) => done(e as Error));
}
