// Request limits per API key, for every face, with @fastify/rate-limit. Counters live in Redis when
// one is handed in (REDIS_URL), so the limit holds across instances; otherwise in this process.
// Routes may set their own limit in `config.rateLimit` (e.g. refresh: 8 per user per hour).
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';

export interface RateLimitOptions {
  /** Default per key per minute; a team's own `rate_limit_per_minute` wins. */
  perMinute: number;
  redis: Redis | null;
}

export async function installRateLimits(app: FastifyInstance, o: RateLimitOptions) {
  await app.register(rateLimit, {
    global: true,
    // After the faces' onRequest hooks, so the key (principal) is known.
    hook: 'preParsing',
    timeWindow: 60_000,
    max: (req) => req.principal?.rateLimitPerMinute ?? o.perMinute,
    keyGenerator: (req) => (req.principal ? `key:${req.principal.keyId}` : `ip:${req.ip}`),
    // Unauthenticated routes (health, portal pages, admin) are not per-key traffic.
    allowList: (req) => !req.principal,
    enableDraftSpec: true,
    addHeadersOnExceeding: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true },
    addHeaders: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true, 'retry-after': true },
    ...(o.redis ? { redis: o.redis, nameSpace: 'roster:rl:' } : {}),
    // Redis away: serve (fail open) rather than refuse every request.
    skipOnError: true,
    errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, message: `Rate limit exceeded (${ctx.max} requests per window); retry in ${ctx.after}` }),
  });
}
