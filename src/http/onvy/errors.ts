// Onvy's error body (contract §5): `{"error": {code, message, details?}}` with PascalCase codes.
// Every error this face sends is built here.
import type { FastifyReply } from 'fastify';
import type { DomainError, FieldIssue } from '../../domain/errors.ts';
import { createErrorHandler, PASS } from '../shared/error-pipeline.ts';
import { JsonBodyError } from '../json-body.ts';
import { WritePathError } from '../outside-errors.ts';
import { pathOf, type AjvError } from '../validation.ts';
import type { OutsideError } from '../outside-errors.ts';
import { wireField } from './mapping.ts';

export interface Detail { field: string; message: string }

const TYPE = 'application/json';

export const errorBody = (code: string, message: string, details?: Detail[]) => ({ error: { code, message, ...(details ? { details } : {}) } });

export function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: Detail[]) {
  return reply.code(status).type(TYPE).send(errorBody(code, message, details));
}

export const validationError = (reply: FastifyReply, details: Detail[]) => sendError(reply, 422, 'ValidationError', 'Request body failed validation.', details);

/** The body parsed, but is not a JSON object. */
export class NotAnObjectError extends Error {
  constructor() {
    super('Request body must be a JSON object.');
    this.name = 'NotAnObjectError';
  }
}

const TYPE_WORDS: Record<string, string> = { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean', object: 'an object', array: 'an array' };
const typeMessage = (t: string) => `must be ${TYPE_WORDS[t] ?? t}`;
const oneOf = (xs: readonly unknown[]) => `must be one of: ${xs.filter((x) => x !== null).join(', ')}`;

const PATTERN_TEXT: Record<string, string> = {
  id: 'must be 1 to 128 printable characters, without "/" and without leading or trailing whitespace',
  language: 'must be a language tag such as en, de or en-GB',
  birthday: 'must be a date written YYYY-MM-DD',
};

/** AJV errors → details, one per field (the first problem found for it), in the order AJV reports. */
export function ajvDetails(errors: AjvError[], base: (string | number)[] = []): Detail[] {
  const out: Detail[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    let path = [...base, ...pathOf(e)];
    let message: string;
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required': path = [...path, String(params.missingProperty)]; message = 'is required'; break;
      case 'additionalProperties': path = [...path, String(params.additionalProperty)]; message = 'is not a recognised field'; break;
      case 'type': {
        const t = params.type;
        message = typeMessage((Array.isArray(t) ? t : String(t).split(',')).find((x) => x !== 'null') ?? 'string');
        break;
      }
      case 'enum': message = oneOf(params.allowedValues as unknown[]); break;
      case 'minLength': message = `must be at least ${String(params.limit)} character${params.limit === 1 ? '' : 's'} long`; break;
      case 'maxLength': message = `must be at most ${String(params.limit)} characters long`; break;
      case 'minimum': message = `must be greater than or equal to ${String(params.limit)}`; break;
      case 'maximum': message = `must be less than or equal to ${String(params.limit)}`; break;
      case 'exclusiveMinimum': message = `must be greater than ${String(params.limit)}`; break;
      case 'exclusiveMaximum': message = `must be less than ${String(params.limit)}`; break;
      case 'pattern': message = PATTERN_TEXT[String(path[path.length - 1])] ?? 'has an invalid format'; break;
      case 'format': message = params.format === 'date' ? 'must be a valid calendar date' : 'must not contain NUL characters or unpaired surrogates'; break;
      default: message = e.message ?? 'is invalid';
    }
    const field = wireField(path) || 'body';
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, message });
  }
  return out;
}

function issueMessage(i: FieldIssue): string {
  switch (i.kind) {
    case 'missing': return 'is required';
    case 'type': return typeMessage(i.expected ?? 'string');
    case 'too_short': return `must be at least ${i.limit ?? 1} character${(i.limit ?? 1) === 1 ? '' : 's'} long`;
    case 'too_long': return `must be at most ${i.limit} characters long`;
    case 'invalid_chars': return 'must not contain NUL characters or unpaired surrogates';
    case 'invalid_date': return `must be a valid date (${i.reason})`;
    case 'invalid_enum': return oneOf(i.allowed ?? []);
    default: return i.reason ?? 'is invalid';
  }
}

export const issueDetails = (issues: FieldIssue[]): Detail[] => issues.map((i) => ({ field: wireField(i.path) || 'body', message: issueMessage(i) }));

export function sendDomainError(reply: FastifyReply, err: DomainError) {
  switch (err.code) {
    case 'validation_failed': return validationError(reply, issueDetails(err.issues));
    case 'user_not_found':
    case 'user_pending_deletion': return sendError(reply, 404, 'NotFound', 'User not found.');
    case 'connection_not_found': return sendError(reply, 404, 'NotFound', 'The user has no data sync entry for this provider.');
    case 'client_user_id_taken': return sendError(reply, 409, 'Conflict', 'A user with this id already exists in the project.');
    case 'email_taken': return sendError(reply, 409, 'Conflict', 'Another user of the project has this e-mail address.');
    case 'sandbox_user_cap': return sendError(reply, 403, 'Forbidden', err.message);
    default: return sendError(reply, 400, 'BadRequest', err.message);
  }
}

const STATUS_CODES: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 413: 'PayloadTooLarge', 414: 'UriTooLong', 415: 'UnsupportedMediaType', 422: 'ValidationError',
  429: 'RateLimited', 431: 'RequestHeaderFieldsTooLarge', 503: 'ServiceUnavailable',
};

const OUTSIDE_MESSAGES: Record<OutsideError, string> = {
  bad_url: 'Malformed request URL.',
  bad_request: 'Malformed HTTP request.',
  not_found: 'No such route.',
  uri_too_long: 'The request URL is too long.',
  headers_too_large: 'The request headers are too large.',
  commit_failed: 'The change could not be committed; retry with the same Idempotency-Key.',
};

/** An error raised outside this face's handlers (src/http/faces.ts): content type and body. */
export const outsideError = (kind: OutsideError, status: number) => ({ type: TYPE, body: errorBody(STATUS_CODES[status] ?? 'BadRequest', OUTSIDE_MESSAGES[kind]) });

/** Onvy's renderer of the error pipeline (src/http/shared/error-pipeline.ts). */
export const onvyErrorHandler = createErrorHandler({
  validation(err, req, reply) {
    if (err.validationContext === 'querystring') {
      return sendError(reply, 400, 'BadRequest', 'Invalid query parameters.', ajvDetails(err.validation as AjvError[]));
    }
    if (err.validationContext === 'params') return sendError(reply, 404, 'NotFound', 'User not found.');
    const b = req.body;
    if (b === undefined || b === null || typeof b !== 'object' || Array.isArray(b)) return sendError(reply, 400, 'BadRequest', 'Request body must be a JSON object.');
    return validationError(reply, ajvDetails(err.validation as AjvError[]));
  },
  own(err, _req, reply) {
    if (err instanceof JsonBodyError) return sendError(reply, 400, 'BadRequest', 'Request body is not valid JSON.');
    if (err instanceof NotAnObjectError) return sendError(reply, 400, 'BadRequest', err.message);
    return PASS;
  },
  domain: (err, _req, reply) => sendDomainError(reply, err),
  unavailable: (_req, reply) => sendError(reply, 503, 'ServiceUnavailable', 'The database cannot be reached or is too busy. Retry shortly.'),
  status(err, _req, reply) {
    if (err.statusCode === 413) return sendError(reply, 413, 'PayloadTooLarge', 'Request body too large.');
    if (err.statusCode === 415) return sendError(reply, 415, 'UnsupportedMediaType', 'Send request bodies as application/json.');
    if (err.statusCode === 429) return sendError(reply, 429, 'RateLimited', 'Too many requests; retry after the number of seconds in Retry-After.');
    // Shared machinery (e.g. Idempotency-Key checks) speaks in status + message.
    const message = err instanceof WritePathError ? err.message : 'Bad request.';
    return sendError(reply, err.statusCode!, STATUS_CODES[err.statusCode!] ?? 'BadRequest', message);
  },
  internal: (_req, reply) => sendError(reply, 500, 'InternalError', 'Internal server error.'),
});
