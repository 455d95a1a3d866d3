// The Junction (ex-Vital) v2 Users API face, mounted at `/`. Wire details live in this folder;
// rules live in src/domain. Contract: ../shared/contracts/junction-v2-users.md
import type { FastifyInstance, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { validatorCompiler, nonDecimalIntegers } from '../validation.ts';
import { isDomainError } from '../../domain/errors.ts';
import { isUnavailable } from '../../store/errors.ts';
import { ajvToPydantic, goUuidDetail, send422, sendDetail, sendDomainError, USER_TEXTS, type NotFoundTexts, type Part } from './errors.ts';
import { JsonBodyError, parseJsonBody } from '../json-body.ts';
import type { Services } from '../services.ts';
import { throttleFailures, tooManyMessage } from '../credential-throttle.ts';
import { parseUuid } from '../../domain/ids.ts';
import type { Principal } from '../../domain/teams.ts';
import { listUsers } from './routes/list-users.ts';
import { createUser } from './routes/create-user.ts';
import { getUser } from './routes/get-user.ts';
import { patchUser } from './routes/patch-user.ts';
import { deleteUser } from './routes/delete-user.ts';
import { undoDelete } from './routes/undo-delete.ts';
import { resolveUser } from './routes/resolve-user.ts';
import { teamMetrics } from './routes/team-metrics.ts';
import { getProviders } from './routes/get-providers.ts';
import { deregisterProvider } from './routes/deregister-provider.ts';
import { devices } from './routes/devices.ts';
import { refreshUser } from './routes/refresh.ts';
import { demoConnect } from './routes/demo-connect.ts';
import { demographics } from './routes/demographics.ts';
import { insurance } from './routes/insurance.ts';
import { portalUrl } from './routes/portal-url.ts';
import { signInToken } from './routes/sign-in-token.ts';

export type JunctionApp = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Junction: wording of the 404 family on this route. */
    texts?: NotFoundTexts;
    /** Junction: this route answers a malformed user id with Go-style text (contract §5). */
    goUuid?: boolean;
  }
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export async function junctionFace(app: FastifyInstance, services: Services) {
  const j = app.withTypeProvider<TypeBoxTypeProvider>();
  j.setValidatorCompiler(validatorCompiler);
  // JSON parse failures are the face's 422 `json_invalid`, not Fastify's 400.
  j.removeAllContentTypeParsers();
  j.addContentTypeParser('*', { parseAs: 'string' }, parseJsonBody);

  throttleFailures(j, services.throttle, (_req, reply, s) => sendDetail(reply, 429, tooManyMessage(s)));
  // Authentication runs before anything else is looked at (body, params, existence).
  // Callback style: a cached key (the common case) authenticates without a promise.
  j.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    // A user id is canonical from here on (hyphenated, lower case): every per-user key (limits,
    // idempotency, audit) sees one spelling per user (security review C6).
    const params = req.params as Record<string, unknown> | undefined;
    if (typeof params?.user_id === 'string') params.user_id = parseUuid(params.user_id) ?? params.user_id;
    const header = req.headers['x-vital-api-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (!key) return sendDetail(reply, 401, 'Missing API key: send it in the x-vital-api-key header');
    const admit = (p: Principal | null) => {
      if (!p) return sendDetail(reply, 401, 'Invalid API key');
      req.principal = p;
      // Read-only keys (api_keys.role) may read on every face, never write.
      if (p.role === 'read_only' && WRITES.has(req.method)) return sendDetail(reply, 403, 'This API key is read-only');
      done();
    };
    const hit = services.keys.cached(key);
    if (hit !== undefined) return admit(hit);
    services.keys.resolve(key).then(admit, done);
  });

  // Before AJV coerces query strings: `limit=0x10` is not an integer to Pydantic, nor to us. Such
  // values are swapped for text AJV cannot coerce, so they fail with every other problem at once
  // (the 422 reports the value as sent, read from the URL).
  j.addHook('preValidation', (req, _reply, done) => {
    const schema = (req.routeOptions.schema as { querystring?: unknown } | undefined)?.querystring;
    if (schema) {
      const q = req.query as Record<string, unknown>;
      for (const name of nonDecimalIntegers(schema, q)) q[name] = 'not-an-integer';
    }
    done();
  });

  j.setErrorHandler((err: FastifyError, req, reply) => junctionErrorHandler(err, req, reply));

  for (const route of [
    teamMetrics, undoDelete, resolveUser, listUsers, createUser, getUser, patchUser, deleteUser,
    getProviders, deregisterProvider, devices, refreshUser, demoConnect, demographics, insurance, portalUrl,
    signInToken,
  ]) {
    route(j, services);
  }
}

export function junctionErrorHandler(err: FastifyError & { validationContext?: string }, req: FastifyRequest, reply: FastifyReply) {
  const cfg = req.routeOptions.config ?? {};
  if (err.validation) {
    const part: Part = err.validationContext === 'body' ? 'body' : err.validationContext === 'params' ? 'path' : 'query';
    if (part === 'path' && cfg.goUuid) {
      return send422(reply, goUuidDetail(String((req.params as Record<string, unknown>).user_id ?? '')));
    }
    if (part === 'body' && (req.body === undefined || req.body === null)) {
      return send422(reply, [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
    }
    const data = part === 'body' ? req.body : part === 'path' ? req.params : req.query;
    const raw = part === 'query' ? rawQuery(req.url) : undefined;
    const schemas = req.routeOptions.schema as Record<string, unknown> | undefined;
    const schema = schemas?.[part === 'body' ? 'body' : part === 'path' ? 'params' : 'querystring'];
    return send422(reply, ajvToPydantic(err.validation as never, part, data, raw, schema));
  }
  if (err instanceof JsonBodyError) {
    return send422(reply, [{ type: 'json_invalid', loc: ['body', err.position], msg: 'JSON decode error', input: {}, ctx: { error: err.reason } }]);
  }
  if (isDomainError(err)) return sendDomainError(reply, err, cfg.texts ?? USER_TEXTS, req.body);
  if (isUnavailable(err)) {
    req.log.warn({ err: { message: err.message, code: err.code } }, 'database unavailable');
    reply.header('retry-after', '1');
    return sendDetail(reply, 503, 'Service temporarily unavailable: the database cannot be reached or is too busy. Retry shortly.');
  }
  if (err.statusCode === 413) return sendDetail(reply, 413, 'Request body too large');
  if (err.statusCode === 415) return sendDetail(reply, 415, 'Unsupported media type: send application/json');
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendDetail(reply, err.statusCode, err.message);
  req.log.error({ err }, 'unhandled error');
  return sendDetail(reply, 500, 'Internal Server Error');
}

/** Query values as sent (before AJV coerced them), for the `input` of 422 entries. */
function rawQuery(url: string): Record<string, unknown> {
  const i = url.indexOf('?');
  if (i < 0) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(url.slice(i + 1))) out[k] = v;
  return out;
}
