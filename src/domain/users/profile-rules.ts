// The rules of a user's profile fields: valid values and how a patch merges. Pure; shared by every
// face that carries a profile field and by bulk import. Issue paths use the domain's names
// (firstName, heightCm, thresholds.ftp, ...); each face maps them to its own field names.
import type { FieldIssue } from '../errors.ts';
import { checkDate, utcDate } from '../dates.ts';
import { hasForbiddenChars } from '../text.ts';
import {
  EMPTY_PROFILE, GENDERS, MANUAL_SOURCE, MEASUREMENT_UNITS, PROFILE_FIELDS,
  type Gender, type MeasurementUnit, type PatchMode, type Profile, type ProfiledUser, type ProfileField, type ProfilePatch, type UserQuery,
} from './model.ts';
import { SYNC_DATA_TYPES, SYNC_PROVIDERS, SYNC_STATUSES, SYNC_TYPES } from './data-syncs.ts';

/** Bounds of every field (units: cm, kg, watts, beats per minute, degrees, seconds). */
export const PROFILE_LIMITS = {
  name: { minChars: 1, maxChars: 100 },
  email: { minChars: 3, maxChars: 255 },
  language: { minChars: 2, maxChars: 35 },
  tzOffsetSeconds: { min: -43_200, max: 50_400 },
  heightCm: { above: 0, max: 300 },
  weightKg: { above: 0, max: 650 },
  ftp: { above: 0, max: 2000 },
  lthr: { above: 0, max: 250 },
  mhr: { above: 0, max: 250 },
  lat: { min: -90, max: 90 },
  lon: { min: -180, max: 180 },
} as const;

/** The e-mail rule as a pattern a schema can carry (local part, @, dotted domain, 2+ letter TLD). */
export const EMAIL_PATTERN = '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$';
const EMAIL_RE = new RegExp(EMAIL_PATTERN);
/**
 * And what the pattern cannot say: no empty dot-separated parts before the @, no domain label that
 * starts or ends with '-'. An address must satisfy both.
 */
const EMAIL_FORMAT_RE = /^[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$/;
/** A language tag such as en, de or en-GB. */
export const LANGUAGE_PATTERN = '^[A-Za-z0-9-]+$';
const LANGUAGE_RE = new RegExp(LANGUAGE_PATTERN);

type Path = (string | number)[];

const codePoints = (s: string): number => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
};

function checkText(v: unknown, path: Path, min: number, max: number): FieldIssue | null {
  if (typeof v !== 'string') return { path, kind: 'type', input: v, expected: 'string' };
  if (hasForbiddenChars(v)) return { path, kind: 'invalid_chars', input: v };
  const n = codePoints(v);
  if (n < min) return { path, kind: 'too_short', input: v, limit: min };
  if (n > max) return { path, kind: 'too_long', input: v, limit: max, reason: `must be at most ${max} characters` };
  return null;
}

/** Names: 1–100 characters, not only whitespace. */
export function checkName(v: unknown, path: Path): FieldIssue | null {
  const t = checkText(v, path, PROFILE_LIMITS.name.minChars, PROFILE_LIMITS.name.maxChars);
  if (t) return t;
  if ((v as string).trim() === '') return { path, kind: 'invalid', input: v, reason: 'must not be blank' };
  return null;
}

export function checkEmail(v: unknown, path: Path = ['email']): FieldIssue | null {
  const t = checkText(v, path, PROFILE_LIMITS.email.minChars, PROFILE_LIMITS.email.maxChars);
  if (t) return t;
  if (!EMAIL_RE.test(v as string) || !EMAIL_FORMAT_RE.test(v as string)) return { path, kind: 'invalid', input: v, expected: 'email', reason: 'must be a valid email address' };
  return null;
}

function checkLanguage(v: unknown, path: Path): FieldIssue | null {
  const t = checkText(v, path, PROFILE_LIMITS.language.minChars, PROFILE_LIMITS.language.maxChars);
  if (t) return t;
  if (!LANGUAGE_RE.test(v as string)) return { path, kind: 'invalid', input: v, reason: 'must be a language tag such as en, de or en-GB' };
  return null;
}

function checkEnum(v: unknown, path: Path, allowed: readonly string[]): FieldIssue | null {
  if (typeof v !== 'string') return { path, kind: 'type', input: v, expected: 'string' };
  return allowed.includes(v) ? null : { path, kind: 'invalid_enum', input: v, allowed };
}

/** A calendar date written exactly YYYY-MM-DD, not after today anywhere on Earth (UTC+14). */
export function checkBirthday(v: unknown, now: Date, path: Path = ['birthday']): FieldIssue | null {
  if (typeof v !== 'string') return { path, kind: 'type', input: v, expected: 'string' };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return { path, kind: 'invalid_date', input: v, reason: 'must be a date written YYYY-MM-DD' };
  const d = checkDate(v);
  if (!d.ok) return { path, kind: 'invalid_date', input: v, reason: d.reason };
  if (v > utcDate(new Date(now.getTime() + 14 * 3_600_000))) return { path, kind: 'invalid', input: v, reason: 'must not be in the future' };
  return null;
}

type Bounds = { above?: number; min?: number; max: number };

function checkNumber(v: unknown, path: Path, b: Bounds, integer = false): FieldIssue | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return { path, kind: 'type', input: v, expected: integer ? 'integer' : 'number' };
  if (integer && !Number.isInteger(v)) return { path, kind: 'type', input: v, expected: 'integer' };
  if (b.above !== undefined && !(v > b.above)) return { path, kind: 'invalid', input: v, limit: b.above, reason: `must be greater than ${b.above}` };
  if (b.min !== undefined && v < b.min) return { path, kind: 'invalid', input: v, limit: b.min, reason: `must be greater than or equal to ${b.min}` };
  if (v > b.max) return { path, kind: 'invalid', input: v, limit: b.max, reason: `must be less than or equal to ${b.max}` };
  return null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type Checker = (v: unknown, now: Date) => (FieldIssue | null)[];
const one = (f: (v: unknown) => FieldIssue | null): Checker => (v) => [f(v)];

function nestedChecker(key: string, members: Record<string, Bounds>): Checker {
  return (v) => {
    if (!isObject(v)) return [{ path: [key], kind: 'type', input: v, expected: 'object' }];
    return Object.keys(v).map((m) => {
      const b = members[m];
      if (!b) return { path: [key, m], kind: 'invalid', input: v[m], reason: 'is not a known field' };
      return v[m] === null || v[m] === undefined ? null : checkNumber(v[m], [key, m], b);
    });
  };
}

const CHECKS: Record<keyof ProfilePatch, Checker> = {
  firstName: one((v) => checkName(v, ['firstName'])),
  lastName: one((v) => checkName(v, ['lastName'])),
  email: one((v) => checkEmail(v, ['email'])),
  language: one((v) => checkLanguage(v, ['language'])),
  measurementUnit: one((v) => checkEnum(v, ['measurementUnit'], MEASUREMENT_UNITS)),
  gender: one((v) => checkEnum(v, ['gender'], GENDERS)),
  birthday: (v, now) => [checkBirthday(v, now)],
  heightCm: one((v) => checkNumber(v, ['heightCm'], PROFILE_LIMITS.heightCm)),
  weightKg: one((v) => checkNumber(v, ['weightKg'], PROFILE_LIMITS.weightKg)),
  thresholds: nestedChecker('thresholds', { ftp: PROFILE_LIMITS.ftp, lthr: PROFILE_LIMITS.lthr, mhr: PROFILE_LIMITS.mhr }),
  location: nestedChecker('location', { lat: PROFILE_LIMITS.lat, lon: PROFILE_LIMITS.lon }),
  coachEnabled: one((v) => (typeof v === 'boolean' ? null : { path: ['coachEnabled'], kind: 'type', input: v, expected: 'boolean' })),
  tzOffsetSeconds: one((v) => checkNumber(v, ['tzOffsetSeconds'], PROFILE_LIMITS.tzOffsetSeconds, true)),
};

/**
 * Every broken rule of a patch, in the patch's key order. Paths use the domain's names
 * (firstName, heightCm, thresholds.ftp, ...); each face maps them to its own field names.
 */
export function checkProfilePatch(p: ProfilePatch, now: Date): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const k of Object.keys(p) as (keyof ProfilePatch)[]) {
    const v = p[k];
    if (v === undefined || v === null) continue;
    const check = CHECKS[k];
    if (!check) {
      out.push({ path: [k], kind: 'invalid', input: v, reason: 'is not a known field' });
      continue;
    }
    for (const i of check(v, now)) if (i) out.push(i);
  }
  return out;
}

function mergeNested<T extends object>(cur: T, patch: Partial<Record<keyof T, unknown>> | null | undefined, mode: PatchMode): T {
  const out = { ...cur } as Record<string, unknown>;
  for (const k of Object.keys(cur)) {
    const v = patch == null ? undefined : (patch as Record<string, unknown>)[k];
    if (patch === null) out[k] = null;
    else if (v !== undefined) out[k] = v;
    else if (mode === 'replace') out[k] = null;
  }
  return out as T;
}

const pick = <T>(patched: T | undefined, cur: T, mode: PatchMode): T | null =>
  patched !== undefined ? patched : mode === 'replace' ? null : cur;

function sameProfile(a: Profile, b: Profile): boolean {
  for (const k of Object.keys(EMPTY_PROFILE) as (keyof Profile)[]) {
    const x = a[k];
    const y = b[k];
    if (typeof x === 'object' && x !== null && typeof y === 'object' && y !== null) {
      const xs = x as unknown as Record<string, unknown>;
      const ys = y as unknown as Record<string, unknown>;
      for (const m of Object.keys(xs)) if (xs[m] !== ys[m]) return false;
    } else if (x !== y) {
      return false;
    }
  }
  return true;
}

/**
 * The user after `p` (already checked). Null in merge mode when nothing changes (so nothing is
 * written and updated_at stays). The birthday keeps its source and date when its value is kept.
 */
export function applyProfilePatch(u: ProfiledUser, p: ProfilePatch, mode: PatchMode, now: Date, replaces: readonly ProfileField[] = PROFILE_FIELDS): ProfiledUser | null {
  const c = u.profile;
  // A replacement clears only the fields the caller carries (a face without e-mail leaves it alone).
  const m = (f: ProfileField): PatchMode => (mode === 'replace' && replaces.includes(f) ? 'replace' : 'merge');
  const profile: Profile = {
    firstName: pick(p.firstName, c.firstName, m('firstName')),
    lastName: pick(p.lastName, c.lastName, m('lastName')),
    email: pick(p.email, c.email, m('email')),
    language: pick(p.language, c.language, m('language')),
    measurementUnit: pick(p.measurementUnit as MeasurementUnit | null | undefined, c.measurementUnit, m('measurementUnit')),
    gender: pick(p.gender as Gender | null | undefined, c.gender, m('gender')),
    heightCm: pick(p.heightCm, c.heightCm, m('heightCm')),
    weightKg: pick(p.weightKg, c.weightKg, m('weightKg')),
    thresholds: mergeNested(c.thresholds, p.thresholds, m('thresholds')),
    location: mergeNested(c.location, p.location, m('location')),
    coachEnabled: pick(p.coachEnabled, c.coachEnabled, m('coachEnabled')),
    tzOffsetSeconds: pick(p.tzOffsetSeconds, c.tzOffsetSeconds, m('tzOffsetSeconds')),
  };
  const curBirth = u.user.fallbackBirthDate;
  const birth = pick(p.birthday, curBirth?.value ?? null, m('birthday'));
  const birthChanged = birth !== (curBirth?.value ?? null);
  if (mode === 'merge' && !birthChanged && sameProfile(profile, c)) return null;
  return {
    ...u,
    profile,
    user: {
      ...u.user,
      updatedAt: now,
      fallbackBirthDate: !birthChanged ? curBirth : birth === null ? null : { value: birth, source: MANUAL_SOURCE, updatedAt: now },
    },
  };
}

/** Whether a profile has every field a query requires. */
export const hasRequired = (p: Profile, q: UserQuery): boolean => (q.require ?? []).every((f) => p[f] !== null);

export function checkSyncEntry(e: { provider: unknown; dataType: unknown; syncType: unknown; status: unknown }): FieldIssue[] {
  return [
    checkEnum(e.provider, ['provider'], SYNC_PROVIDERS),
    checkEnum(e.dataType, ['dataType'], SYNC_DATA_TYPES),
    checkEnum(e.syncType, ['syncType'], SYNC_TYPES),
    checkEnum(e.status, ['status'], SYNC_STATUSES),
  ].filter((i): i is FieldIssue => i !== null);
}
