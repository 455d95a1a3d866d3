// The Onvy-compatible Users API face, mounted under its prefix (default /onvy). Wire details live
// in this folder; rules live in src/domain. Contract: spec/contracts/onvy-users.md
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { validatorCompiler } from '../validation.ts';
import { parseJsonBody } from '../json-body.ts';
import type { Principal } from '../../domain/teams.ts';
import type { Services } from '../services.ts';
import { NotAnObjectError, onvyErrorHandler, outsideError, sendError } from './errors.ts';
import { authenticate, bearerOf, headerValue } from '../shared/auth.ts';
import { notFoundOr405, type AllowTable } from '../shared/method-not-allowed.ts';
import type { Face } from '../shared/face.ts';
import { throttleFailures, tooManyMessage } from '../credential-throttle.ts';
import { createUser } from './routes/create-user.ts';
import { listUsers } from './routes/list-users.ts';
import { getUser } from './routes/get-user.ts';
import { putUser } from './routes/put-user.ts';
import { patchUser } from './routes/patch-user.ts';
import { deleteUser } from './routes/delete-user.ts';
import { getDataSyncs } from './routes/get-data-syncs.ts';
import { putDataSync } from './routes/put-data-sync.ts';
import { deleteDataSync } from './routes/delete-data-sync.ts';

export type { TypeBoxApp as OnvyApp } from '../shared/typebox.ts';

export type OnvyScope = 'users:read' | 'users:create' | 'users:update' | 'users:delete';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Onvy: the scope a credential needs for this route (contract §1, Authentication). */
    onvyScope?: OnvyScope;
  }
}

/** API keys carry every scope; a read-only key only users:read. */
export const scopesOf = (p: Principal): readonly OnvyScope[] =>
  p.role === 'read_only' ? ['users:read'] : ['users:read', 'users:create', 'users:update', 'users:delete'];

/** Methods each known path answers, for 405 + Allow (paths relative to the prefix). */
const ALLOWED: AllowTable = [
  [/^\/users\/?$/, 'GET, HEAD, POST'],
  [/^\/users\/[^/]+\/?$/, 'GET, HEAD, PUT, PATCH, DELETE'],
  [/^\/users\/[^/]+\/data_syncs\/?$/, 'GET, HEAD, PUT'],
  [/^\/users\/[^/]+\/data_syncs\/[^/]+\/?$/, 'DELETE'],
];

const AUTH_FAILURE = {
  missing: 'Missing credentials: send X-API-Key or Authorization: Bearer <token>.',
  invalid: 'Invalid API key or token.',
  mixed: 'The credentials sent belong to different projects.',
} as const;

async function register(app: FastifyInstance, services: Services) {
  const o = app.withTypeProvider<TypeBoxTypeProvider>();
  o.setValidatorCompiler(validatorCompiler);
  // JSON only (application/json or application/merge-patch+json); anything else is a 415. A body
  // that parses but is not an object is a 400 before any lookup (contract §5.3).
  o.removeAllContentTypeParsers();
  o.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, (req, body, done) => {
    parseJsonBody(req, body, (err, value) => {
      if (err) return done(err);
      if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) return done(new NotAnObjectError());
      done(null, value);
    });
  });

  throttleFailures(o, services.throttle, (_req, reply, s) => sendError(reply, 429, 'RateLimited', tooManyMessage(s)));
  // Credentials first (401), then the route's scope (403): before the body or the user is looked at.
  o.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const apiKey = headerValue(req.headers['x-api-key']);
    const bearer = bearerOf(req.headers.authorization);
    if (bearer === null) return sendError(reply, 401, 'Unauthorized', 'The Authorization header must be "Bearer <token>".');
    const a = await authenticate(services.keys, [apiKey, bearer].filter((c): c is string => typeof c === 'string'));
    if ('failure' in a) return sendError(reply, 401, 'Unauthorized', AUTH_FAILURE[a.failure]);
    const p = a.principal;
    req.principal = p;
    const scope = req.routeOptions.config?.onvyScope;
    if (scope && !scopesOf(p).includes(scope)) return sendError(reply, 403, 'Forbidden', `This credential lacks the ${scope} scope (read-only API key).`);
  });

  o.setErrorHandler(onvyErrorHandler);
  notFoundOr405(o, ALLOWED, {
    methodNotAllowed: (req, reply, allow) => sendError(reply, 405, 'MethodNotAllowed', `${req.method} is not allowed here; allowed: ${allow}.`),
    notFound: (_req, reply) => sendError(reply, 404, 'NotFound', 'No such route.'),
  });

  for (const route of [createUser, listUsers, getUser, putUser, patchUser, deleteUser, getDataSyncs, putDataSync, deleteDataSync]) {
    route(o, services);
  }
}

/** The Onvy face, for the registry (src/http/faces.ts). */
export const onvyFace: Face = {
  name: 'onvy',
  register,
  errors: { handler: onvyErrorHandler, outside: (kind, status) => outsideError(kind, status), parserErrors: true },
};
