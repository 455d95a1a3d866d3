// Checking one row, by the domain: the Junction fields through buildUser (the user every create
// would insert), the profile fields through checkProfilePatch.
import { EMPTY_PROFILE, MANUAL_SOURCE, type ProfilePatch, type ProfiledUser } from '../../domain/users/model.ts';
import { checkTimeZone } from '../../domain/users/rules.ts';
import { applyProfilePatch, checkProfilePatch } from '../../domain/users/profile-rules.ts';
import { buildUser } from '../../domain/users/service.ts';
import { isDomainError, type FieldIssue } from '../../domain/errors.ts';
import { FIELDS, FIELD_BY_NAME, FIELD_BY_PATCH_PATH, IGNORED, type FieldDef, type Reason } from './fields.ts';

const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function describe(i: FieldIssue): string {
  switch (i.kind) {
    case 'missing': return 'is required';
    case 'type': return `must be ${i.expected === 'integer' ? 'an integer' : `a ${i.expected ?? 'value of another type'}`}`;
    case 'too_short': return i.limit === 1 ? 'must not be empty' : `must be at least ${i.limit} characters`;
    case 'too_long': return i.reason ?? `must be at most ${i.limit} bytes (UTF-8)`;
    case 'invalid_chars': return 'must not contain NUL (U+0000) or unpaired surrogate characters';
    case 'invalid_date': return `is not a valid date (YYYY-MM-DD): ${i.reason}`;
    case 'invalid_time_zone': return 'is not an IANA time zone id';
    case 'invalid_enum': return `must be one of ${(i.allowed ?? []).join(', ')}`;
    default: return i.reason ?? 'is not valid';
  }
}

function toReason(i: FieldIssue, field: string | null): Reason {
  return {
    field,
    kind: i.kind,
    message: describe(i),
    ...(i.limit !== undefined ? { limit: i.limit } : {}),
    ...(i.allowed ? { allowed: i.allowed } : {}),
  };
}

const typeIssue = (name: string, input: unknown, expected: string): FieldIssue => ({ path: [name], kind: 'type', input, expected });

/** A CSV cell as the JSON value it stands for; an empty cell is "not given". */
function fromCell(f: FieldDef, s: string): unknown {
  if (s === '') return undefined;
  switch (f.kind) {
    case 'string': return s;
    case 'number':
    case 'integer': return NUMBER_RE.test(s.trim()) ? Number(s) : s;
    case 'boolean': return /^true$/i.test(s.trim()) ? true : /^false$/i.test(s.trim()) ? false : s;
  }
}

/**
 * The domain's verdict on each zone id, remembered: isIanaTimeZone builds an Intl.DateTimeFormat
 * for every id outside Intl's canonical list (UTC, US/Eastern, ...), ~0.1 ms each, which would
 * otherwise be most of an import's CPU. Bounded, so a file of random junk cannot grow it.
 */
const zoneVerdicts = new Map<string, FieldIssue | null>();
function zoneIssue(v: string): FieldIssue | null {
  let i = zoneVerdicts.get(v);
  if (i === undefined) {
    i = checkTimeZone(v, ['fallback_time_zone']);
    if (zoneVerdicts.size < 10_000) zoneVerdicts.set(v, i);
  }
  return i;
}

/** The import's names of the user fields the domain reports issues on. */
const FIELD_OF_ISSUE: Readonly<Record<string, string>> = {
  clientUserId: 'client_user_id', fallbackTimeZone: 'fallback_time_zone', fallbackBirthDate: 'fallback_birth_date', ingestionStart: 'ingestion_start', ingestionEnd: 'ingestion_end',
};

export type Checked = { ok: true; user: ProfiledUser } | { ok: false; reasons: Reason[] };

/**
 * Checks one row with the API's rules and builds the user it would create. `csv`: values are
 * text cells (typed by the field table; empty = not given); otherwise JSON values (null = not given).
 */
export async function checkRow(values: Record<string, unknown>, teamId: string, now: Date, csv: boolean): Promise<Checked> {
  const reasons: Reason[] = [];
  const typed: Record<string, unknown> = {};
  for (const key of Object.keys(values)) {
    const f = FIELD_BY_NAME.get(key);
    if (!f) {
      if (!IGNORED.has(key)) reasons.push({ field: key, kind: 'unknown_field', message: 'is not an importable field' });
      continue;
    }
    const v = csv ? fromCell(f, values[key] as string) : values[key] === null ? undefined : values[key];
    if (v !== undefined) typed[key] = v;
  }

  // Junction fields: the same create as POST /v2/user.
  const str = (name: string): string | undefined => {
    const v = typed[name];
    if (v === undefined || typeof v === 'string') return v;
    reasons.push(toReason(typeIssue(name, v, 'string'), name));
    return undefined;
  };
  const cid = typed.client_user_id;
  if (cid === undefined) reasons.push(toReason({ path: ['client_user_id'], kind: 'missing', input: undefined }, 'client_user_id'));
  const clientUserId = str('client_user_id');
  const zone = str('fallback_time_zone');
  const badZone = zone === undefined ? null : zoneIssue(zone);
  if (badZone) reasons.push(toReason(badZone, 'fallback_time_zone'));
  const fields = {
    // The zone was checked above (remembered per id) and is set below as create sets it.
    fallbackTimeZone: undefined,
    fallbackBirthDate: str('fallback_birth_date'),
    ingestionStart: str('ingestion_start'),
    ingestionEnd: str('ingestion_end'),
  };
  let built: ProfiledUser | null = null;
  try {
    // Without a usable client id the other fields are still checked, under a stand-in id.
    built = buildUser(teamId, { clientUserId: clientUserId ?? 'row-without-client-id', fields, rawInput: values }, now);
  } catch (e) {
    if (!isDomainError(e) || e.code !== 'validation_failed') throw e;
    for (const i of e.issues) reasons.push(toReason(i, i.path.length ? FIELD_OF_ISSUE[String(i.path[0])] ?? String(i.path[0]) : null));
  }

  // Profile fields: the same checks as the Onvy and basic faces.
  const patch: ProfilePatch = {};
  for (const f of FIELDS) {
    if (!f.patch || typed[f.name] === undefined) continue;
    const v = typed[f.name];
    if (f.patch.length === 1) (patch as Record<string, unknown>)[f.patch[0]] = v;
    else {
      const [group, member] = f.patch;
      ((patch as Record<string, Record<string, unknown>>)[group] ??= {})[member] = v;
    }
  }
  for (const i of checkProfilePatch(patch, now)) reasons.push(toReason(i, FIELD_BY_PATCH_PATH.get(JSON.stringify(i.path)) ?? i.path.join('.')));

  if (reasons.length || !built) return { ok: false, reasons };
  const user = built.user;
  if (zone !== undefined) user.fallbackTimeZone = { value: zone, source: MANUAL_SOURCE, updatedAt: user.updatedAt };
  const base: ProfiledUser = { user, profile: EMPTY_PROFILE, number: 0 };
  return { ok: true, user: applyProfilePatch(base, patch, 'merge', now) ?? base };
}
