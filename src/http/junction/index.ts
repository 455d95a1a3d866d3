// The Junction (ex-Vital) v2 Users API face, mounted at `/`. Wire details live in this folder;
// rules live in src/domain. Contract: spec/contracts/junction-v2-users.md
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { validatorCompiler, nonDecimalIntegers } from '../validation.ts';
import { junctionErrorHandler, sendDetail, type NotFoundTexts } from './errors.ts';
import { headerValue, mayUse } from '../shared/auth.ts';
import type { Face } from '../shared/face.ts';
import { parseJsonBody } from '../json-body.ts';
import type { Services } from '../services.ts';
import { admitBearer, bearerToken } from '../bearer.ts';
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

export type { TypeBoxApp as JunctionApp } from '../shared/typebox.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Junction: wording of the 404 family on this route. */
    texts?: NotFoundTexts;
    /** Junction: this route answers a malformed user id with Go-style text (contract §5). */
    goUuid?: boolean;
  }
}

async function register(app: FastifyInstance, services: Services) {
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
    const key = headerValue(req.headers['x-vital-api-key']);
    const bearer = key ? null : bearerToken(req);
    if (bearer !== null) return admitBearer(req, reply, services, bearer, done);
    if (!key) return sendDetail(reply, 401, 'Missing API key: send it in the x-vital-api-key header');
    const admit = (p: Principal | null) => {
      if (!p) return sendDetail(reply, 401, 'Invalid API key');
      req.principal = p;
      if (!mayUse(p, req.method)) return sendDetail(reply, 403, 'This API key is read-only');
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

  j.setErrorHandler(junctionErrorHandler);

  for (const route of [
    teamMetrics, undoDelete, resolveUser, listUsers, createUser, getUser, patchUser, deleteUser,
    getProviders, deregisterProvider, devices, refreshUser, demoConnect, demographics, insurance, portalUrl,
    signInToken,
  ]) {
    route(j, services);
  }
}

/** The Junction face, for the registry (src/http/faces.ts): its routes carry /v2 themselves. */
export const junctionFace: Face = {
  name: 'junction',
  register,
  errors: {
    handler: junctionErrorHandler,
    outside: (_kind, _status, _requestId, detail) => ({ type: 'application/json', body: { detail } }),
  },
};
