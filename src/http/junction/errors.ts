// Junction's error bodies (contract §1.2): FastAPI/Pydantic-v2 style 422 lists, `{"detail": ...}`
// for everything else. Every error this face sends is built here.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { JsonBodyError } from '../json-body.ts';
import { createErrorHandler, PASS } from '../shared/error-pipeline.ts';
import type { FieldIssue } from '../../domain/errors.ts';
import { DomainError } from '../../domain/errors.ts';
import { checkClientUserId } from '../../domain/users/rules.ts';
import { checkDate } from '../../domain/dates.ts';
import { emailProblem, PERSON_NAME_RULE } from '../../domain/users/person.ts';
import { pathOf, valueAt, type AjvError } from '../validation.ts';
import { isoTime } from './render.ts';

export interface PydanticEntry {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

export type Part = 'body' | 'query' | 'path';

const quoteList = (xs: readonly unknown[]): string => {
  const q = xs.map((x) => `'${String(x)}'`);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
};

/** Reason text in the style of Rust's uuid crate, which Pydantic uses. */
export function uuidReason(s: string): string {
  const hex = s.replace(/^urn:uuid:/i, '');
  const bad = hex.search(/[^0-9a-fA-F-]/);
  if (bad >= 0) return `invalid character: expected an optional prefix of \`urn:uuid:\` followed by [0-9a-fA-F-], found \`${hex[bad]}\` at ${bad + 1}`;
  const groups = hex.split('-');
  if (groups.length === 1) return `invalid length: expected length 32 for simple format, found ${hex.length}`;
  if (groups.length !== 5) return `invalid group count: expected 5, found ${groups.length}`;
  const want = [8, 4, 4, 4, 12];
  for (let i = 0; i < 5; i++) {
    if (groups[i]!.length !== want[i]) return `invalid group length in group ${i}: expected ${want[i]}, found ${groups[i]!.length}`;
  }
  return 'invalid format';
}

function typeEntry(expected: string, loc: (string | number)[], input: unknown, part: Part): PydanticEntry {
  if (part === 'query') {
    if (expected === 'integer') return { type: 'int_parsing', loc, msg: 'Input should be a valid integer, unable to parse string as an integer', input };
    if (expected === 'number') return { type: 'float_parsing', loc, msg: 'Input should be a valid number, unable to parse string as a number', input };
    if (expected === 'boolean') return { type: 'bool_parsing', loc, msg: 'Input should be a valid boolean, unable to interpret input', input };
  }
  switch (expected) {
    case 'string': return { type: 'string_type', loc, msg: 'Input should be a valid string', input };
    case 'integer': return { type: 'int_type', loc, msg: 'Input should be a valid integer', input };
    case 'number': return { type: 'float_type', loc, msg: 'Input should be a valid number', input };
    case 'boolean': return { type: 'bool_type', loc, msg: 'Input should be a valid boolean', input };
    case 'array': return { type: 'list_type', loc, msg: 'Input should be a valid list', input };
    default: return { type: 'model_attributes_type', loc, msg: 'Input should be a valid dictionary or object to extract fields from', input };
  }
}

/** A domain FieldIssue as a Pydantic entry; `loc` is prefixed with the request part. */
export function issueEntry(i: FieldIssue, part: Part = 'body'): PydanticEntry {
  const loc = [part, ...i.path];
  switch (i.kind) {
    case 'missing': return { type: 'missing', loc, msg: 'Field required', input: i.input };
    case 'type': return typeEntry(i.expected ?? 'string', loc, i.input, part);
    case 'too_short': return { type: 'string_too_short', loc, msg: `String should have at least ${i.limit ?? 1} character${(i.limit ?? 1) === 1 ? '' : 's'}`, input: i.input, ctx: { min_length: i.limit ?? 1 } };
    case 'too_long': return { type: 'string_too_long', loc, msg: `String should have at most ${i.limit} bytes in UTF-8`, input: i.input, ctx: { max_length: i.limit } };
    case 'invalid_chars': return { type: 'value_error', loc, msg: 'Value error, must not contain NUL characters or unpaired surrogates', input: i.input, ctx: { error: {} } };
    case 'invalid_date': return { type: 'date_from_datetime_parsing', loc, msg: `Input should be a valid date or datetime, ${i.reason}`, input: i.input, ctx: { error: i.reason } };
    case 'invalid_time_zone': return { type: 'value_error', loc, msg: `Value error, Invalid IANA time zone: ${String(i.input)}`, input: i.input, ctx: { error: {} } };
    case 'invalid_uuid': { const r = uuidReason(String(i.input)); return { type: 'uuid_parsing', loc, msg: `Input should be a valid UUID, ${r}`, input: i.input, ctx: { error: r } }; }
    case 'invalid_enum': { const e = quoteList(i.allowed ?? []); return { type: 'enum', loc, msg: `Input should be ${e}`, input: i.input, ctx: { expected: e } }; }
    case 'not_nullable': return { type: 'value_error', loc, msg: `Value error, ${i.reason}`, input: i.input, ctx: { error: {} } };
    case 'order': return { type: 'value_error', loc, msg: `Value error, ${i.reason}`, input: i.input, ctx: { error: {} } };
    default: return { type: 'value_error', loc, msg: `Value error, ${i.reason ?? 'invalid value'}`, input: i.input, ctx: { error: {} } };
  }
}

/** Maps AJV's errors for one request part to Pydantic entries, in field order, one per field. */
export function ajvToPydantic(errors: AjvError[], part: Part, data: unknown, raw?: Record<string, unknown>, schema?: unknown): PydanticEntry[] {
  const out: PydanticEntry[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const path = pathOf(e);
    let entry: PydanticEntry | null = null;
    const input = part === 'body' ? valueAt(data, path) : raw?.[String(path[0])] ?? valueAt(data, path);
    const loc: (string | number)[] = [part, ...path];
    switch (e.keyword) {
      case 'required': {
        const field = (e.params as { missingProperty: string }).missingProperty;
        entry = { type: 'missing', loc: [...loc, field], msg: 'Field required', input: valueAt(data, path) ?? null };
        break;
      }
      case 'type': {
        if (input === null && path[path.length - 1] === 'phone_number') {
          entry = { type: 'value_error', loc, msg: 'Value error, Phone number cannot be None', input, ctx: { error: {} } };
          break;
        }
        const t = (e.params as { type: string | string[] }).type;
        const expected = (Array.isArray(t) ? t : String(t).split(',')).find((x) => x !== 'null') ?? 'string';
        entry = typeEntry(expected, loc, input, part);
        break;
      }
      case 'format': {
        const f = (e.params as { format: string }).format;
        const s = String(input);
        if (f === 'uuid') entry = issueEntry({ path, kind: 'invalid_uuid', input }, part);
        else if (f === 'date') entry = issueEntry({ path, kind: 'invalid_date', input, reason: (checkDate(s) as { reason?: string }).reason ?? 'invalid date' }, part);
        else if (f === 'iana-time-zone') entry = issueEntry({ path, kind: 'invalid_time_zone', input }, part);
        else if (f === 'client-user-id') entry = issueEntry(checkClientUserId(s, path) ?? { path, kind: 'invalid', input }, part);
        else if (f === 'person-name') entry = { type: 'value_error', loc, msg: `Value error, ${String(path[path.length - 1])} ${PERSON_NAME_RULE}`, input, ctx: { error: {} } };
        else if (f === 'phone') entry = { type: 'value_error', loc, msg: `Value error, Invalid phone number: ${s}`, input, ctx: { error: {} } };
        else if (f === 'email') {
          const reason = emailProblem(s) ?? 'The email address contains invalid characters.';
          entry = { type: 'value_error', loc, msg: `value is not a valid email address: ${reason}`, input, ctx: { reason } };
        }
        else entry = issueEntry({ path, kind: 'invalid_chars', input }, part);
        break;
      }
      case 'enum': {
        entry = issueEntry({ path, kind: 'invalid_enum', input, allowed: (e.params as { allowedValues: unknown[] }).allowedValues.filter((v) => v !== null).map(String) }, part);
        break;
      }
      case 'maximum': {
        const le = (e.params as { limit: number }).limit;
        entry = { type: 'less_than_equal', loc, msg: `Input should be less than or equal to ${le}`, input, ctx: { le } };
        break;
      }
      case 'minimum': {
        const ge = (e.params as { limit: number }).limit;
        entry = { type: 'greater_than_equal', loc, msg: `Input should be greater than or equal to ${ge}`, input, ctx: { ge } };
        break;
      }
      case 'maxLength': {
        const n = (e.params as { limit: number }).limit;
        entry = { type: 'string_too_long', loc, msg: `String should have at most ${n} characters`, input, ctx: { max_length: n } };
        break;
      }
      case 'minLength': {
        const n = (e.params as { limit: number }).limit;
        entry = { type: 'string_too_short', loc, msg: `String should have at least ${n} character${n === 1 ? '' : 's'}`, input, ctx: { min_length: n } };
        break;
      }
      case 'additionalProperties': {
        // Pydantic's `extra="forbid"` (security review C7: insurance.insured stores only its fields).
        const field = (e.params as { additionalProperty: string }).additionalProperty;
        const obj = valueAt(data, path) as Record<string, unknown> | undefined;
        entry = { type: 'extra_forbidden', loc: [...loc, field], msg: 'Extra inputs are not permitted', input: obj && Object.hasOwn(obj, field) ? obj[field] : null };
        break;
      }
      default:
        entry = { type: 'value_error', loc, msg: `Value error, ${e.message ?? 'invalid value'}`, input, ctx: { error: {} } };
    }
    const key = JSON.stringify(entry.loc);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(entry);
  }
  // AJV reports every missing key of an object before its other keys' errors; Pydantic reports in
  // field order (contract U8). Stable sort by each loc segment's position in the schema.
  if (schema) {
    const keys = new Map(out.map((e) => [e, fieldOrderKey(schema, e.loc.slice(1))]));
    out.sort((a, b) => compareKeys(keys.get(a)!, keys.get(b)!));
  }
  return out;
}

/** Position of each segment of `path` among its parent schema's properties (array index for items). */
function fieldOrderKey(schema: unknown, path: (string | number)[]): number[] {
  const key: number[] = [];
  let s = schema as { properties?: Record<string, unknown>; items?: unknown } | undefined;
  for (const seg of path) {
    if (s?.properties) {
      const names = Object.keys(s.properties);
      const i = names.indexOf(String(seg));
      key.push(i < 0 ? names.length : i);
      s = s.properties[String(seg)] as typeof s;
    } else if (s?.items !== undefined && typeof seg === 'number') {
      key.push(seg);
      s = s.items as typeof s;
    } else {
      key.push(0);
      s = undefined;
    }
  }
  return key;
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export function send422(reply: FastifyReply, detail: PydanticEntry[] | string) {
  return reply.code(422).type('application/json').send({ detail });
}

export function sendDetail(reply: FastifyReply, status: number, detail: unknown) {
  return reply.code(status).type('application/json').send({ detail });
}

/** Go-style text Junction answers for a malformed user id on GET /v2/user/{id} and info/latest. */
export function goUuidDetail(value: string): string {
  const len = value.length;
  const why = [32, 36, 38, 41].includes(len) ? 'invalid UUID format' : `invalid UUID length: ${len}`;
  return `Invalid format for parameter user_id: error unmarshaling '${value}' text as *uuid.UUID: ${why}`;
}

/**
 * Per-route wording of the not-found family (contract §5: texts differ per operation).
 * `notFound` for unknown users, `pending` for users inside their undo window.
 */
export interface NotFoundTexts { notFound: string; pending: string }
export const USER_TEXTS: NotFoundTexts = { notFound: 'User not found', pending: 'User not found' };
export const GET_TEXTS: NotFoundTexts = { notFound: 'Not found', pending: 'You have scheduled this user for deletion.' };
export const MUTATE_TEXTS: NotFoundTexts = {
  notFound: 'The user does not or no longer exists in this team',
  pending: 'The user has been scheduled for deletion as per your previous request',
};

/** Renders a DomainError as this face's status and body. */
export function sendDomainError(reply: FastifyReply, err: DomainError, texts: NotFoundTexts = USER_TEXTS, rawBody?: unknown) {
  switch (err.code) {
    case 'validation_failed':
      return send422(reply, err.issues.map((i) => (i.kind === 'order' ? { ...issueEntry(i), input: rawBody ?? i.input } : issueEntry(i))));
    case 'user_not_found':
      return sendDetail(reply, 404, texts.notFound);
    case 'user_pending_deletion':
      return sendDetail(reply, 404, texts.pending);
    case 'client_user_id_taken':
      if (err.existing) {
        return sendDetail(reply, 400, {
          error_type: 'INVALID_REQUEST',
          error_message: 'Client user id already exists.',
          user_id: err.existing.userId,
          created_on: isoTime(err.existing.createdAt),
        });
      }
      return sendDetail(reply, 409, 'Client user id already exists');
    case 'sandbox_user_cap':
      return sendDetail(reply, 400, { error_type: 'INVALID_REQUEST', error_message: err.message });
    case 'nothing_to_patch':
      return sendDetail(reply, 400, 'Nothing to patch');
    case 'connection_not_found':
      return sendDetail(reply, 404, 'Connection not found');
    case 'device_not_found':
      return sendDetail(reply, 404, 'Device not found');
    case 'demographics_not_found':
      return sendDetail(reply, 404, 'User demographics data not found');
    case 'insurance_not_found':
      return sendDetail(reply, 404, 'Insurance not found');
    case 'demo_not_in_sandbox':
      return sendDetail(reply, 400, 'Demo connections are only available in sandbox');
    default:
      return sendDetail(reply, 404, err.message);
  }
}


/** Junction's renderer of the error pipeline (src/http/shared/error-pipeline.ts). */
export const junctionErrorHandler = createErrorHandler({
  validation(err, req, reply) {
    const cfg = req.routeOptions.config ?? {};
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
  },
  own(err, _req, reply) {
    if (err instanceof JsonBodyError) {
      return send422(reply, [{ type: 'json_invalid', loc: ['body', err.position], msg: 'JSON decode error', input: {}, ctx: { error: err.reason } }]);
    }
    return PASS;
  },
  domain: (err, req, reply) => sendDomainError(reply, err, req.routeOptions.config?.texts ?? USER_TEXTS, req.body),
  unavailable: (_req, reply) => sendDetail(reply, 503, 'Service temporarily unavailable: the database cannot be reached or is too busy. Retry shortly.'),
  status(err, _req, reply) {
    if (err.statusCode === 413) return sendDetail(reply, 413, 'Request body too large');
    if (err.statusCode === 415) return sendDetail(reply, 415, 'Unsupported media type: send application/json');
    return sendDetail(reply, err.statusCode!, err.message);
  },
  internal: (_req, reply) => sendDetail(reply, 500, 'Internal Server Error'),
});

/** Query values as sent (before AJV coerced them), for the `input` of 422 entries. */
function rawQuery(url: string): Record<string, unknown> {
  const i = url.indexOf('?');
  if (i < 0) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(url.slice(i + 1))) out[k] = v;
  return out;
}
