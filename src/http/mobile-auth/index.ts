// The mobile SDK auth face, mounted at `/auth`: exchange a sign-in token (U18) for a session and
// refresh it. No API key: the tokens are the credentials. Wire details and the iOS SDK behaviour
// they follow: docs/sign-in-tokens.md.
//
//   POST /auth/v1/token                          form-encoded; RFC 8693 token exchange or
//                                                grant_type=refresh_token (RFC 6749 §6)
//   POST /auth/v1/accounts:signInWithCustomToken JSON {token, tenantId?, returnSecureToken?}: the
//                                                exchange request the iOS SDK sends
//   GET  /auth/v1/jwks                           public keys that verify Roster's tokens
//
// Two protocols share /auth/v1/token, told apart by the request: the Google-shaped calls the iOS
// SDK makes (Secure Token's `v1/token?key=…`, Identity Toolkit's `accounts:signInWithCustomToken
// ?key=…`) carry the `key` query parameter and are answered as Google answers them (`expires_in`
// a string; errors carrying `error.message` / `error.status`, the codes the SDK decodes to decide
// between signing out (USER_NOT_FOUND) and asking for re-authentication). A request without `key`
// is plain OAuth and is answered as RFC 6749 §5.1/§5.2 and RFC 8693 §2.2 say: `expires_in` a
// JSON number, errors `{"error", "error_description"}` with status 400.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.ts';
import { throttleFailures, tooManyMessage } from '../credential-throttle.ts';
import { isAuthTokenError, type AuthFailure, type TokenSet } from '../../domain/auth-tokens/index.ts';
import { decodeJwt } from '../../domain/jwt.ts';
import { JsonBodyError, parseJsonBody } from '../json-body.ts';
import { createErrorHandler, PASS } from '../shared/error-pipeline.ts';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_REFRESH = 'refresh_token';
/** subject_token_type values accepted for the exchange (absent is accepted too). */
export const SUBJECT_TOKEN_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:junction:sign-in-token'];
export const ISSUED_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const FORM = 'application/x-www-form-urlencoded';

class FormBodyError extends Error {
  constructor(readonly param: string) {
    super(`parameter ${param} is given more than once`);
  }
}

type Form = Record<string, string>;

function parseForm(_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const out: Form = {};
  for (const [k, v] of new URLSearchParams(text)) {
    // RFC 6749 §3.2: request parameters must not be included more than once.
    if (Object.hasOwn(out, k)) return done(new FormBodyError(k));
    out[k] = v;
  }
  done(null, out);
}

export interface AuthErrorBody {
  detail: { error_type: string; error_message: string };
  error: { code: number; message: string; status: string };
}

export function sendAuthError(reply: FastifyReply, status: number, errorType: string, errorMessage: string, code: string) {
  const body: AuthErrorBody = {
    detail: { error_type: errorType, error_message: errorMessage },
    error: { code: status, message: code, status: status === 401 ? 'UNAUTHENTICATED' : status === 503 ? 'UNAVAILABLE' : status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT' },
  };
  return reply.code(status).type('application/json').header('cache-control', 'no-store').header('pragma', 'no-cache').send(body);
}

const badRequest = (reply: FastifyReply, code: string, message: string, errorType = 'invalid_request') => sendAuthError(reply, 400, errorType, message, code);

const SIGN_IN_TEXT: Record<AuthFailure, string> = {
  malformed: 'The sign-in token is not a valid token',
  bad_signature: 'The sign-in token signature is not valid',
  bad_audience: 'The sign-in token was not issued for this server',
  expired: 'The sign-in token has expired',
  already_used: 'The sign-in token has already been used',
  unknown: 'The sign-in token is not known',
  reused: 'The sign-in token is not valid',
  revoked: 'The sign-in token has been revoked',
  user_not_found: 'The user does not or no longer exists',
};

const REFRESH_TEXT: Record<AuthFailure, string> = {
  malformed: 'The refresh token is not a valid token',
  bad_signature: 'The refresh token is not valid',
  bad_audience: 'The refresh token is not valid',
  expired: 'The refresh token has expired',
  already_used: 'The refresh token has already been used',
  unknown: 'The refresh token is not known',
  reused: 'The refresh token had already been used: the session has been ended',
  revoked: 'The session has been ended',
  user_not_found: 'The user does not or no longer exists',
};

/** Sign-in failures: 401 (the iOS SDK maps 401 to `invalidSignInToken`). */
function signInFailure(reply: FastifyReply, reason: AuthFailure) {
  const code = reason === 'user_not_found' ? 'USER_NOT_FOUND' : reason === 'expired' ? 'TOKEN_EXPIRED' : 'INVALID_CUSTOM_TOKEN';
  return sendAuthError(reply, 401, 'invalid_token', SIGN_IN_TEXT[reason], code);
}

/** Refresh failures: 401 with the code the iOS SDK reads (USER_NOT_FOUND → it signs out). */
function refreshFailure(reply: FastifyReply, reason: AuthFailure) {
  const code = reason === 'user_not_found' ? 'USER_NOT_FOUND' : reason === 'expired' ? 'TOKEN_EXPIRED' : 'INVALID_REFRESH_TOKEN';
  return sendAuthError(reply, 401, 'invalid_token', REFRESH_TEXT[reason], code);
}

/** RFC 6749 §5.2 error response (the plain OAuth protocol: no `key` query parameter). */
export function sendOAuthError(reply: FastifyReply, status: number, error: string, description: string) {
  return reply.code(status).type('application/json').header('cache-control', 'no-store').header('pragma', 'no-cache')
    .send({ error, error_description: description });
}

/** The Google-shaped calls carry the `key` query parameter (the SDK's `public_key`). */
const isGoogleShaped = (req: FastifyRequest): boolean => typeof (req.query as Record<string, unknown> | undefined)?.key === 'string';

function noStore(reply: FastifyReply) {
  return reply.type('application/json').header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/**
 * Secure Token's answer (the Google-shaped call): OAuth names plus `id_token` (the name the iOS SDK
 * reads). `expires_in` is a string of seconds because that SDK decodes it as a String.
 */
function secureTokenResponse(t: TokenSet, exchange: boolean) {
  return {
    access_token: t.accessToken,
    id_token: t.accessToken,
    refresh_token: t.refreshToken,
    expires_in: String(t.expiresIn),
    token_type: 'Bearer',
    ...(exchange ? { issued_token_type: ISSUED_TOKEN_TYPE } : {}),
    user_id: t.userId,
  };
}

/** RFC 6749 §5.1 / RFC 8693 §2.2.1: `expires_in` is a JSON number. */
function oauthTokenResponse(t: TokenSet, exchange: boolean) {
  return {
    access_token: t.accessToken,
    token_type: 'Bearer',
    expires_in: t.expiresIn,
    refresh_token: t.refreshToken,
    ...(exchange ? { issued_token_type: ISSUED_TOKEN_TYPE } : {}),
  };
}

const isForm = (req: FastifyRequest) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === FORM;
const isJson = (req: FastifyRequest) => /^application\/([\w.+-]*\+)?json$/.test((req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase());

export async function mobileAuthFace(app: FastifyInstance, services: Services) {
  const { authTokens } = services;
  const baseUrl = services.linkBase;

  throttleFailures(app, services.throttle, (_req, reply, s) => sendAuthError(reply, 429, 'rate_limited', tooManyMessage(s), 'TOO_MANY_ATTEMPTS_TRY_LATER'));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(FORM, { parseAs: 'string' }, parseForm);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  // Anything else is read as text so the route can answer in this face's error shape.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, { __unsupported: true, length: body.length }));

  // One pipeline (shared/error-pipeline.ts); a plain-OAuth request to /auth/v1/token (no `key`) is
  // answered in RFC 6749 §5.2's shape, every other request in this face's own.
  const oauth = (req: FastifyRequest) => req.routeOptions.url === '/auth/v1/token' && !isGoogleShaped(req);
  app.setErrorHandler(createErrorHandler({
    own(err, req, reply) {
      if (oauth(req)) {
        if (err instanceof FormBodyError || err instanceof JsonBodyError) return sendOAuthError(reply, 400, 'invalid_request', err instanceof FormBodyError ? err.message : 'The request body is not valid');
        return PASS;
      }
      if (err instanceof FormBodyError) return badRequest(reply, 'DUPLICATE_PARAMETER', err.message);
      if (err instanceof JsonBodyError) return badRequest(reply, 'INVALID_JSON', 'The request body is not valid JSON');
      if (isAuthTokenError(err)) return sendAuthError(reply, 401, 'invalid_token', err.message, 'INVALID_TOKEN');
      return PASS;
    },
    unavailable: (req, reply) => oauth(req)
      ? sendOAuthError(reply, 503, 'temporarily_unavailable', 'The database cannot be reached or is too busy. Retry shortly.')
      : sendAuthError(reply, 503, 'unavailable', 'Service temporarily unavailable: the database cannot be reached or is too busy. Retry shortly.', 'UNAVAILABLE'),
    status(err, req, reply) {
      if (oauth(req)) return sendOAuthError(reply, err.statusCode === 413 ? 413 : 400, 'invalid_request', err.statusCode === 413 ? 'Request body too large' : err.message);
      if (err.statusCode === 413) return sendAuthError(reply, 413, 'invalid_request', 'Request body too large', 'REQUEST_TOO_LARGE');
      return badRequest(reply, 'INVALID_REQUEST', err.message);
    },
    internal: (req, reply) => oauth(req)
      ? sendOAuthError(reply, 500, 'server_error', 'Internal Server Error')
      : sendAuthError(reply, 500, 'server_error', 'Internal Server Error', 'INTERNAL'),
  }));

  app.setNotFoundHandler((_req, reply) => sendAuthError(reply, 404, 'not_found', 'Not Found', 'NOT_FOUND'));

  // RFC 8693 exchange and the refresh grant, in two dialects (see the top of this file).
  app.post('/v1/token', async (req, reply) => {
    const google = isGoogleShaped(req);
    const fail = google
      ? { bad: (code: string, message: string, type = 'invalid_request') => badRequest(reply, code, message, type) }
      : { bad: (_code: string, message: string, type = 'invalid_request') => sendOAuthError(reply, 400, type, message) };
    if (req.body !== undefined && !isForm(req)) {
      return fail.bad('INVALID_CONTENT_TYPE', `Send the token request as ${FORM}`);
    }
    const form = (req.body ?? {}) as Form;
    const grant = form.grant_type;
    if (!grant) return fail.bad('MISSING_GRANT_TYPE', 'grant_type is required');

    if (grant === GRANT_REFRESH) {
      const token = form.refresh_token;
      if (!token) return fail.bad('MISSING_REFRESH_TOKEN', 'refresh_token is required');
      try {
        const t = await authTokens.refresh(token, baseUrl(req));
        return noStore(reply).send(google ? secureTokenResponse(t, false) : oauthTokenResponse(t, false));
      } catch (e) {
        if (!isAuthTokenError(e)) throw e;
        // RFC 6749 §5.2: an invalid, expired or revoked refresh token is `invalid_grant`.
        return google ? refreshFailure(reply, e.reason) : sendOAuthError(reply, 400, 'invalid_grant', REFRESH_TEXT[e.reason]);
      }
    }

    if (grant === GRANT_TOKEN_EXCHANGE) {
      const subject = form.subject_token;
      if (!subject) return fail.bad('MISSING_SUBJECT_TOKEN', 'subject_token is required');
      const type = form.subject_token_type;
      // RFC 8693 §2.1 makes subject_token_type required; the Google-shaped dialect never sends it.
      if (type === undefined && !google) return fail.bad('MISSING_SUBJECT_TOKEN_TYPE', 'subject_token_type is required');
      if (type !== undefined && !SUBJECT_TOKEN_TYPES.includes(type)) {
        return fail.bad('INVALID_SUBJECT_TOKEN_TYPE', `subject_token_type must be one of ${SUBJECT_TOKEN_TYPES.join(', ')}`);
      }
      if (form.requested_token_type !== undefined && form.requested_token_type !== ISSUED_TOKEN_TYPE) {
        return fail.bad('INVALID_REQUESTED_TOKEN_TYPE', `requested_token_type must be ${ISSUED_TOKEN_TYPE}`);
      }
      try {
        const t = await authTokens.exchange(subject, baseUrl(req));
        return noStore(reply).send(google ? secureTokenResponse(t, true) : oauthTokenResponse(t, true));
      } catch (e) {
        if (!isAuthTokenError(e)) throw e;
        // RFC 8693 §2.2.2: an unacceptable subject_token is `invalid_request`.
        return google ? signInFailure(reply, e.reason) : sendOAuthError(reply, 400, 'invalid_request', SIGN_IN_TEXT[e.reason]);
      }
    }

    return fail.bad('INVALID_GRANT_TYPE', `grant_type must be ${GRANT_TOKEN_EXCHANGE} or ${GRANT_REFRESH}`, 'unsupported_grant_type');
  });

  // The exchange exactly as the iOS SDK sends it (Google Identity Platform's signInWithCustomToken).
  // `::` is Fastify's escape for a literal colon in a path.
  app.post('/v1/accounts::signInWithCustomToken', async (req, reply) => {
    if (req.body === undefined || !isJson(req)) return badRequest(reply, 'INVALID_CONTENT_TYPE', 'Send {"token": "<user_token>"} as application/json');
    const body = req.body as { token?: unknown; tenantId?: unknown } | null;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return badRequest(reply, 'INVALID_REQUEST', 'The body must be a JSON object');
    if (typeof body.token !== 'string' || body.token === '') return badRequest(reply, 'MISSING_CUSTOM_TOKEN', 'token is required');
    if (body.tenantId !== undefined && body.tenantId !== null) {
      const claims = decodeJwt(body.token)?.claims;
      if (typeof body.tenantId !== 'string' || (claims && claims.tenant_id !== body.tenantId)) {
        return badRequest(reply, 'TENANT_ID_MISMATCH', 'tenantId does not match the token');
      }
    }
    try {
      const t = await authTokens.exchange(body.token, baseUrl(req));
      return noStore(reply).send({
        kind: 'identitytoolkit#VerifyCustomTokenResponse',
        idToken: t.accessToken,
        refreshToken: t.refreshToken,
        expiresIn: String(t.expiresIn),
        isNewUser: false,
      });
    } catch (e) {
      if (isAuthTokenError(e)) return signInFailure(reply, e.reason);
      throw e;
    }
  });

  // Cached for less than the time a new key waits before it signs (60 s), so a client holding a
  // cached copy has always seen a key before meeting a token signed with it.
  app.get('/v1/jwks', async (_req, reply) => reply.type('application/json').header('cache-control', 'public, max-age=30').send(await authTokens.jwks()));
}

/** Errors of the plain OAuth dialect raised before the route runs (body parsing, database). */
