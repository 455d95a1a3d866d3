// Request validation for every face: AJV compiles the TypeBox schemas; the string formats call the
// domain's own rules, so the schema that documents a field and the rule that guards it are one.
import { Ajv, type ErrorObject } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { parseUuid } from '../domain/ids.ts';
import { checkDate, isIanaTimeZone } from '../domain/dates.ts';
import { checkClientUserId } from '../domain/users/rules.ts';
import { hasForbiddenChars } from '../domain/text.ts';
import { emailProblem, isValidPersonName, isValidPhone } from '../domain/users/person.ts';

export const FORMATS = {
  uuid: (s: string) => parseUuid(s) !== null,
  date: (s: string) => checkDate(s).ok,
  'iana-time-zone': (s: string) => isIanaTimeZone(s),
  'client-user-id': (s: string) => checkClientUserId(s) === null,
  /** Any text PostgreSQL can store exactly (no U+0000, no unpaired surrogate). */
  'safe-text': (s: string) => !hasForbiddenChars(s),
  /** RFC 3339 date-time with an explicit offset (e.g. 2026-01-02T03:04:05Z). */
  'date-time': (s: string) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)),
  'person-name': (s: string) => isValidPersonName(s),
  phone: (s: string) => isValidPhone(s),
  email: (s: string) => emailProblem(s) === null && !hasForbiddenChars(s),
} as const;

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,          // report every failed field at once, as the contracts ask
    coerceTypes: coerce,      // query strings arrive as text; bodies must have the right JSON types
    useDefaults: true,
    removeAdditional: false,
    strict: false,
    validateFormats: true,
  });
  for (const [name, fn] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: fn });
  return ajv;
}

const bodyAjv = makeAjv(false);
const queryAjv = makeAjv(true);

/** Fastify validator compiler: no coercion for bodies, coercion for query strings and params. */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : queryAjv;
  return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
};

export type AjvError = ErrorObject;

/** Splits an AJV instancePath ('/address/zip') into segments. */
export function pathOf(e: ErrorObject): (string | number)[] {
  if (!e.instancePath) return [];
  return e.instancePath.slice(1).split('/').map((s) => {
    const u = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(u) ? Number(u) : u;
  });
}

export function valueAt(root: unknown, path: (string | number)[]): unknown {
  let cur: unknown = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/**
 * Query integers must be plain decimal text: AJV's coercion uses Number(), which would read
 * `0x10` as 16 and `1e2` as 100. Returns the names of integer query parameters whose raw text is
 * not a decimal integer, for the face to report in its own shape.
 */
export function nonDecimalIntegers(schema: unknown, rawQuery: Record<string, unknown>): string[] {
  const props = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
  if (!props) return [];
  const bad: string[] = [];
  for (const [name, def] of Object.entries(props)) {
    if (def?.type !== 'integer') continue;
    const v = rawQuery[name];
    if (typeof v === 'string' && !/^[+-]?\d+$/.test(v.trim())) bad.push(name);
  }
  return bad;
}
