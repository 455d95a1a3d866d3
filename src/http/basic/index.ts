// The basic Users API face (the documented firstName / lastName / contactEmail API), mounted under
// its prefix (default /basic). Contract: spec/contracts/basic-users.md
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import rateLimit from '@fastify/rate-limit';
import { validatorCompiler } from '../validation.ts';
import { parseJsonBody } from '../json-body.ts';
import type { Services } from '../services.ts';
import { BasicBodyError, MESSAGES, basicErrorHandler, outsideError, requestIdOf, sendError } from './errors.ts';
import { bearerOf, mayUse } from '../shared/auth.ts';
import { notFoundOr405, type AllowTable } from '../shared/method-not-allowed.ts';
import type { Face } from '../shared/face.ts';
import { throttleFailures, tooManyMessage } from '../credential-throttle.ts';
import { listUsers } from './routes/list-users.ts';
import { createUser } from './routes/create-user.ts';
import { getUser } from './routes/get-user.ts';
import { patchUser } from './routes/patch-user.ts';
import { deleteUser } from './routes/delete-user.ts';

export type { TypeBoxApp as BasicApp } from '../shared/typebox.ts';

/** Requests per window per API key. A team's own per-minute limit (teams.rate_limit_per_minute) wins. */
export interface BasicRateLimit { max: number; windowMs: number }

export interface BasicOptions { rateLimit: BasicRateLimit }

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Methods each known path answers, for 405 + Allow (paths relative to the prefix). */
const ALLOWED: AllowTable = [
  [/^\/users\/?$/, 'GET, HEAD, POST'],
  [/^\/users\/[^/]+\/?$/, 'GET, HEAD, PATCH, DELETE'],
];

async function register(app: FastifyInstance, services: Services, opts: BasicOptions) {
  const b = app.withTypeProvider<TypeBoxTypeProvider>();
  b.setValidatorCompiler(validatorCompiler);
  // Any content type reaches this parser so that a non-JSON one is the contract's 400, not a 415.
  b.removeAllContentTypeParsers();
  b.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) return done(new BasicBodyError());
    parseJsonBody(req, body, (err, value) => done(err ? new BasicBodyError() : null, value));
  });

  // This face's own limiter: one bucket per API key for the whole face (not per route), default
  // 100 per 60 s (contract §1). Requests without a valid key count against their client address.
  // Counters live in Redis when the app has one (services.redis), else in this process. The app-wide
  // per-key limiter (src/http/rate-limits.ts) is switched off on these routes (config.rateLimit).
  if (!b.hasDecorator('createRateLimit')) {
    await b.register(rateLimit, { global: false, ...(services.redis ? { redis: services.redis, nameSpace: 'roster:rl:basic:' } : {}) });
  }
  const limiter = b.createRateLimit({
    max: (req) => req.principal?.rateLimitPerMinute ?? opts.rateLimit.max,
    timeWindow: (req) => (req.principal?.rateLimitPerMinute != null ? 60_000 : opts.rateLimit.windowMs),
    keyGenerator: (req) => (req.principal ? `basic:key:${req.principal.keyId}` : `basic:ip:${req.ip}`),
    allowList: () => false,
    // The counter store away (Redis down): serve rather than refuse every request.
    skipOnError: true,
  });

  throttleFailures(b, services.throttle, (req, reply, s) => sendError(req, reply.header('x-request-id', requestIdOf(req)), 429, 'RATE_LIMIT_EXCEEDED', tooManyMessage(s)));
  // Order (contract §4.3): 401 → 403 → 429, before the path, the body or the user is looked at.
  // The X-RateLimit-* headers go on every response, errors included.
  b.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-request-id', requestIdOf(req));
    const token = bearerOf(req.headers.authorization);
    const p = token ? await services.keys.resolve(token) : null;
    if (p) req.principal = p;
    const rl = await limiter(req);
    let exceeded = false;
    if (!rl.isAllowed) {
      reply.header('x-ratelimit-limit', rl.max);
      reply.header('x-ratelimit-remaining', rl.remaining);
      reply.header('x-ratelimit-reset', Math.ceil((Date.now() + rl.ttl) / 1000)); // Unix epoch seconds
      exceeded = rl.isExceeded;
      if (exceeded) reply.header('retry-after', Math.max(1, rl.ttlInSeconds));
    }
    const tooMany = () => sendError(req, reply, 429, 'RATE_LIMIT_EXCEEDED', `Rate limit exceeded. Try again in ${String(reply.getHeader('retry-after') ?? 1)} seconds`);
    // Without a valid key the client's address is limited (guessing keys); then it gets 429, not 401.
    if (!p) return exceeded ? tooMany() : sendError(req, reply, 401, 'UNAUTHORIZED', MESSAGES.unauthorized);
    if (!mayUse(p, req.method)) return sendError(req, reply, 403, 'FORBIDDEN', MESSAGES.forbidden);
    if (exceeded) return tooMany();
  });

  b.setErrorHandler(basicErrorHandler);
  notFoundOr405(b, ALLOWED, {
    methodNotAllowed: (req, reply) => sendError(req, reply, 405, 'METHOD_NOT_ALLOWED', `The ${req.method} method is not allowed on this resource`),
    notFound: (req, reply) => sendError(req, reply, 404, 'RESOURCE_NOT_FOUND', MESSAGES.notFound),
  });

  for (const route of [listUsers, createUser, getUser, patchUser, deleteUser]) route(b, services);
}

/** The basic face, for the registry (src/http/faces.ts). */
export const basicFace = (opts: BasicOptions): Face => ({
  name: 'basic',
  register: (app, services) => register(app, services, opts),
  errors: {
    handler: basicErrorHandler,
    outside: (kind, _status, requestId) => outsideError(kind, requestId),
    requestId: requestIdOf,
    newRequestId: (id) => `req-${id}`,
    parserErrors: true,
  },
});
