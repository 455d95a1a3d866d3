// The basic API's error body (contract §4): flat `{code, message, details?, requestId}` with
// UPPER_SNAKE codes. Every error this face sends is built here.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FieldIssue } from '../../domain/errors.ts';
import { checkProfilePatch } from '../../domain/users/profile-rules.ts';
import { createErrorHandler, PASS } from '../shared/error-pipeline.ts';
import { WritePathError } from '../outside-errors.ts';
import { wireRequestId } from '../request-id.ts';
import type { OutsideError } from '../outside-errors.ts';
import { pathOf, type AjvError } from '../validation.ts';
import { BASIC_FIELDS, lengthsOf, toPatch, wireName } from './fields.ts';

export { toPatch };

export type Location = 'body' | 'query' | 'path';

/** One problem: what `details[]` shows, plus whether it is a missing field and the message it would give. */
export interface Issue {
  field: string;
  reason: string;
  location: Location;
  missing: boolean;
  message: string;
}

export const MESSAGES = {
  unauthorized: 'Authentication is required to access this resource',
  forbidden: 'You do not have permission to access this resource',
  notFound: 'The requested resource could not be found',
  serverError: 'An unexpected error occurred. Please try again later',
} as const;

/** `req-<uuid>`: the request id every error body carries and every response sends as X-Request-Id. */
export const requestIdOf = (req: FastifyRequest): string => {
  const id = wireRequestId(req);
  return id.startsWith('req-') ? id : `req-${id}`;
};

const TYPE = 'application/json; charset=utf-8';

export function errorBody(requestId: string, code: string, message: string, details?: Issue[]): Record<string, unknown> {
  const body: Record<string, unknown> = { code, message };
  if (details) body.details = details.map((d) => ({ field: d.field, reason: d.reason, location: d.location }));
  body.requestId = requestId;
  return body;
}

export function sendError(req: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string, details?: Issue[]) {
  return reply.code(status).type(TYPE).send(errorBody(requestIdOf(req), code, message, details));
}

const urlIssue = (message: string): Issue => ({ field: 'path', reason: 'Invalid format', location: 'path', missing: false, message });

/** Errors raised outside this face's handlers (src/http/faces.ts): code, message, details. */
const OUTSIDE: Record<OutsideError, [string, string, Issue[]?]> = {
  bad_url: ['INVALID_FIELD', 'The request URL is malformed', [urlIssue('The request URL is malformed')]],
  bad_request: ['INVALID_FIELD', 'The request could not be parsed', [urlIssue('The request could not be parsed')]],
  not_found: ['RESOURCE_NOT_FOUND', MESSAGES.notFound],
  uri_too_long: ['URI_TOO_LONG', 'The request URL is too long'],
  headers_too_large: ['REQUEST_HEADERS_TOO_LARGE', 'The request headers are too large'],
  commit_failed: ['SERVICE_UNAVAILABLE', 'The change could not be committed. Please retry with the same Idempotency-Key'],
};

export function outsideError(kind: OutsideError, requestId: string) {
  const [code, message, details] = OUTSIDE[kind];
  return { type: TYPE, body: errorBody(requestId, code, message, details) };
}

/** A 400: MISSING_REQUIRED_FIELD if any field is missing, else INVALID_FIELD; the message is the first such problem's. */
export function sendIssues(req: FastifyRequest, reply: FastifyReply, issues: Issue[]) {
  const missing = issues.find((i) => i.missing);
  const lead = missing ?? issues[0]!;
  return sendError(req, reply, 400, missing ? 'MISSING_REQUIRED_FIELD' : 'INVALID_FIELD', lead.message, issues);
}

const between = (field: string, min: number, max: number) => `The field \`${field}\` must be between ${min} and ${max} characters`;

export const missingIssue = (field: string): Issue => ({ field, reason: 'Is required', location: 'body', missing: true, message: `The \`${field}\` field is required.` });
export const malformedIssue = (): Issue => ({ field: 'body', reason: 'Malformed JSON', location: 'body', missing: false, message: 'The request body must be a valid JSON object' });
export const readOnlyIssue = (field: string): Issue => ({ field, reason: 'Read-only', location: 'body', missing: false, message: `The field \`${field}\` is read-only` });
export const emptyUpdateIssue = (): Issue => ({ field: 'body', reason: 'Empty update', location: 'body', missing: false, message: `The request body must contain at least one of ${BASIC_FIELDS.map((f) => `\`${f}\``).join(', ')}` });
export const emailTakenIssue = (): Issue => ({ field: 'contactEmail', reason: 'Already exists', location: 'body', missing: false, message: 'The field `contactEmail` must be unique: another user has this address' });
export const pathIssue = (): Issue => ({ field: 'userId', reason: 'Invalid format', location: 'path', missing: false, message: 'The path parameter `userId` must be a positive integer' });

function invalid(field: string, reason: string, message: string): Issue {
  return { field, reason, location: 'body', missing: false, message };
}

/** AJV's body errors as issues. `nullIsMissing`: on create a required field sent as null counts as missing. */
export function ajvBodyIssues(errors: AjvError[], body: Record<string, unknown>, nullIsMissing: boolean): Issue[] {
  const out: Issue[] = [];
  for (const e of errors) {
    const params = e.params as Record<string, unknown>;
    const field = e.keyword === 'required' ? String(params.missingProperty) : String(pathOf(e)[0] ?? 'body');
    const [min, max] = lengthsOf(field) ?? [1, 100];
    switch (e.keyword) {
      case 'required': out.push(missingIssue(field)); break;
      case 'type':
        if (body[field] === null) out.push(nullIsMissing ? missingIssue(field) : invalid(field, 'Invalid value', `The field \`${field}\` cannot be null`));
        else if (field === 'body') out.push(malformedIssue());
        else out.push(invalid(field, 'Invalid type', `The field \`${field}\` must be a string`));
        break;
      case 'minLength': out.push(invalid(field, 'String too short', between(field, min, max))); break;
      case 'maxLength': out.push(invalid(field, 'String too long', between(field, min, max))); break;
      case 'pattern': out.push(invalid(field, 'Invalid format', `The field \`${field}\` must be a valid email address`)); break;
      case 'format': out.push(invalid(field, 'Invalid value', `The field \`${field}\` contains characters that are not allowed`)); break;
      default: out.push(invalid(field, 'Invalid value', `The field \`${field}\` is not valid`));
    }
  }
  return out;
}

/** The domain's rules (e.g. a blank name, the full e-mail format) as issues. */
export function domainIssues(issues: FieldIssue[]): Issue[] {
  return issues.map((i) => {
    const field = wireName(String(i.path[0])) ?? String(i.path[0] ?? 'body');
    const [min, max] = lengthsOf(field) ?? [1, 100];
    switch (i.kind) {
      case 'type': return invalid(field, 'Invalid type', `The field \`${field}\` must be a string`);
      case 'too_short': return invalid(field, 'String too short', between(field, min, max));
      case 'too_long': return invalid(field, 'String too long', between(field, min, max));
      case 'invalid_chars': return invalid(field, 'Invalid value', `The field \`${field}\` contains characters that are not allowed`);
      default:
        return i.expected === 'email'
          ? invalid(field, 'Invalid format', `The field \`${field}\` must be a valid email address`)
          : invalid(field, 'Invalid value', `The field \`${field}\` ${i.reason ?? 'is not valid'}`);
    }
  });
}

/**
 * Every problem of a create or patch body, one per field, in body order (fields the body lacks
 * come last, in schema order). Null when the body is fine.
 */
export function bodyIssues(body: unknown, ve: (Error & { validation?: AjvError[] }) | undefined, mode: 'create' | 'patch', now: Date): Issue[] | null {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return [malformedIssue()];
  const b = body as Record<string, unknown>;
  const issues: Issue[] = [];
  if (ve?.validation) issues.push(...ajvBodyIssues(ve.validation, b, mode === 'create'));
  if ('userId' in b) issues.push(readOnlyIssue('userId'));
  // Fields the schema accepted still meet the domain's own rules (blank names, the e-mail format).
  const typed: Record<string, unknown> = {};
  for (const f of BASIC_FIELDS) if (typeof b[f] === 'string' && !issues.some((i) => i.field === f)) typed[f] = b[f];
  issues.push(...domainIssues(checkProfilePatch(toPatch(typed), now)));
  if (mode === 'patch' && !BASIC_FIELDS.some((f) => f in b)) issues.push(emptyUpdateIssue());
  if (issues.length === 0) return null;
  const seen = new Set<string>();
  const unique = issues.filter((i) => (seen.has(i.field) ? false : (seen.add(i.field), true)));
  const keys = Object.keys(b);
  const rank = (f: string) => {
    const k = keys.indexOf(f);
    if (k >= 0) return k;
    const s = (BASIC_FIELDS as readonly string[]).indexOf(f);
    return keys.length + (s >= 0 ? s : BASIC_FIELDS.length);
  };
  return unique.sort((x, y) => rank(x.field) - rank(y.field));
}

/** basic's renderer of the error pipeline (src/http/shared/error-pipeline.ts). */
export const basicErrorHandler = createErrorHandler({
  validation(err, req, reply) {
    const v = err.validation as AjvError[];
    if (err.validationContext === 'params') return sendIssues(req, reply, [pathIssue()]);
    if (err.validationContext === 'querystring') return sendIssues(req, reply, queryIssues(v));
    return sendIssues(req, reply, bodyIssues(req.body, err as never, req.method === 'POST' ? 'create' : 'patch', new Date()) ?? [malformedIssue()]);
  },
  own(err, req, reply) {
    if (err instanceof BasicPathError) return sendIssues(req, reply, [pathIssue()]);
    if (err instanceof BasicBodyError || err.statusCode === 415 || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return sendIssues(req, reply, [malformedIssue()]);
    return PASS;
  },
  domain(err, req, reply) {
    switch (err.code) {
      case 'user_not_found':
      case 'user_pending_deletion': return sendError(req, reply, 404, 'RESOURCE_NOT_FOUND', MESSAGES.notFound);
      case 'email_taken': return sendIssues(req, reply, [emailTakenIssue()]);
      case 'validation_failed': return sendIssues(req, reply, domainIssues(err.issues));
      case 'sandbox_user_cap': return sendError(req, reply, 403, 'FORBIDDEN', err.message);
      default: return sendError(req, reply, 400, 'INVALID_FIELD', err.message);
    }
  },
  unavailable: (req, reply) => sendError(req, reply, 503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable. Please try again shortly'),
  status(err, req, reply) {
    if (err.statusCode === 413) return sendError(req, reply, 413, 'PAYLOAD_TOO_LARGE', 'The request body is too large');
    if (err instanceof WritePathError) return sendError(req, reply, err.statusCode, err.statusCode === 409 ? 'CONFLICT' : 'INVALID_FIELD', err.message);
    return sendError(req, reply, err.statusCode!, 'INVALID_FIELD', 'The request is not valid');
  },
  internal: (req, reply) => sendError(req, reply, 500, 'SERVER_ERROR', MESSAGES.serverError),
});

const QUERY_TEXT: Record<string, string> = {
  _page: 'The query parameter `_page` must be an integer of 0 or more',
  _perPage: 'The query parameter `_perPage` must be an integer from 1 to 100',
  _sort: 'The query parameter `_sort` must be one of userId, firstName, lastName, contactEmail, optionally prefixed with -',
};

export function queryIssues(errors: AjvError[]): Issue[] {
  const out: Issue[] = [];
  for (const e of errors) {
    const field = String(pathOf(e)[0] ?? 'query');
    if (out.some((i) => i.field === field)) continue;
    const reason = e.keyword === 'maximum' ? 'Value too large' : e.keyword === 'type' ? 'Invalid format' : 'Invalid value';
    out.push({ field, reason, location: 'query', missing: false, message: QUERY_TEXT[field] ?? `The query parameter \`${field}\` is not valid` });
  }
  return out;
}

/** The path's userId is not a positive integer. */
export class BasicPathError extends Error {
  constructor() {
    super('The path parameter `userId` must be a positive integer');
    this.name = 'BasicPathError';
  }
}

/** The body is not JSON, or was sent with a content type other than JSON. */
export class BasicBodyError extends Error {
  constructor() {
    super('The request body must be a valid JSON object');
    this.name = 'BasicBodyError';
  }
}
