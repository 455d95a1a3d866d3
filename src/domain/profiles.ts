// Profile fields of a user: names, e-mail, language, units, gender, birthday, height, weight,
// training thresholds, location, coaching and UTC offset. Each lives once on the user and every
// face that carries a field reads and writes the same value (docs/faces.md). This module holds the
// rules (valid values, how a patch merges, which users the basic face can see); storage is the
// ProfilesRepo below, implemented in src/store/profiles.ts.
import { DomainError, validationFailed, type FieldIssue } from './errors.ts';
import { checkDate, utcDate } from './dates.ts';
import { hasForbiddenChars } from './text.ts';
import { newId } from './ids.ts';
import { MANUAL_SOURCE, checkClientUserId, type TeamContext, type User } from './users.ts';
import type { Connection } from './connections.ts';
import { NO_OUTBOX, type EventOutbox } from './webhooks/ports.ts'; // webhooks (i12)
import { userEvent } from './webhooks/events.ts'; // webhooks (i12)
import {
  SYNC_DATA_TYPES, SYNC_PROVIDERS, SYNC_STATUSES, SYNC_TYPES,
  deriveDataSyncs, providerSlugOf, type DataSync, type StoredSync,
} from './data-syncs.ts';

export const MEASUREMENT_UNITS = ['metric', 'imperial'] as const;
export const GENDERS = ['male', 'female', 'other'] as const;
/** What a face that always shows a unit shows when none was chosen. */
export const DEFAULT_MEASUREMENT_UNIT = 'metric';

export type MeasurementUnit = (typeof MEASUREMENT_UNITS)[number];
export type Gender = (typeof GENDERS)[number];

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

/** E-mail as the basic API's public spec writes it (the only face that carries e-mail). */
export const EMAIL_PATTERN = '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$';
const EMAIL_RE = new RegExp(EMAIL_PATTERN);
/**
 * The spec also says `format: email`: no empty dot-separated parts before the @, no domain label
 * that starts or ends with '-'. Together with the pattern this is what an address must satisfy.
 */
const EMAIL_FORMAT_RE = /^[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}$/;
/** A language tag such as en, de or en-GB. */
export const LANGUAGE_PATTERN = '^[A-Za-z0-9-]+$';
const LANGUAGE_RE = new RegExp(LANGUAGE_PATTERN);

export interface Thresholds { ftp: number | null; lthr: number | null; mhr: number | null }
export interface GeoLocation { lat: number | null; lon: number | null }

/** Every profile field; null = not set. Birthday is the user's fallbackBirthDate (shared with Junction). */
export interface Profile {
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  language: string | null;
  /** null = never chosen; faces that always show a unit show DEFAULT_MEASUREMENT_UNIT. */
  measurementUnit: MeasurementUnit | null;
  gender: Gender | null;
  heightCm: number | null;
  weightKg: number | null;
  thresholds: Thresholds;
  location: GeoLocation;
  coachEnabled: boolean | null;
  /** Offset from UTC in seconds (Onvy's tz_offset); independent of Junction's IANA fallback zone. */
  tzOffsetSeconds: number | null;
}

export const EMPTY_PROFILE: Profile = Object.freeze({
  firstName: null, lastName: null, email: null, language: null, measurementUnit: null, gender: null,
  heightCm: null, weightKg: null, thresholds: Object.freeze({ ftp: null, lthr: null, mhr: null }),
  location: Object.freeze({ lat: null, lon: null }), coachEnabled: null, tzOffsetSeconds: null,
}) as Profile;

/** A live user with its profile and its basic-face number. */
export interface ProfiledUser {
  user: User;
  profile: Profile;
  basicId: number;
}

export interface ProfileView extends ProfiledUser {
  dataSyncs: DataSync[];
}

/**
 * A change to the profile. `undefined` = not sent; `null` = clear. Values arrive from a face's
 * schema already typed, but every rule is checked again here (the domain trusts no caller).
 */
export interface ProfilePatch {
  firstName?: string | null;
  lastName?: string | null;
  email?: string | null;
  language?: string | null;
  measurementUnit?: string | null;
  gender?: string | null;
  birthday?: string | null;
  heightCm?: number | null;
  weightKg?: number | null;
  thresholds?: { ftp?: number | null; lthr?: number | null; mhr?: number | null } | null;
  location?: { lat?: number | null; lon?: number | null } | null;
  coachEnabled?: boolean | null;
  tzOffsetSeconds?: number | null;
}

/** merge: absent keeps, null clears, nested objects merge member by member. replace: absent clears. */
export type PatchMode = 'merge' | 'replace';

export type ProfileField = keyof ProfilePatch;
export const PROFILE_FIELDS: readonly ProfileField[] = [
  'firstName', 'lastName', 'email', 'language', 'measurementUnit', 'gender', 'birthday',
  'heightCm', 'weightKg', 'thresholds', 'location', 'coachEnabled', 'tzOffsetSeconds',
];

/** How a user is addressed: Roster's id, the client's id (Onvy), or the basic face's number. */
export type ProfileSelector = { id: string } | { clientUserId: string } | { basicId: number };

/** Position in the created_at order: `createdAt` is the exact stored timestamp (microseconds) as text. */
export interface ListCursor { createdAt: string; clientUserId: string }

export const BASIC_SORT_FIELDS = ['basicId', 'firstName', 'lastName', 'email'] as const;
export interface BasicOrder { field: (typeof BASIC_SORT_FIELDS)[number]; descending: boolean }

export type InsertProfiledResult =
  | { ok: true; basicId: number; clientUserId: string }
  | { ok: false; reason: 'taken'; existing: { userId: string; createdAt: Date } }
  | { ok: false; reason: 'cap' }
  | { ok: false; reason: 'email_taken' };

/** Storage as profiles need it. Every method is scoped by team and sees live users only. */
export interface ProfilesRepo {
  /**
   * Inserts the user with its profile in one transaction. `clientIdFromBasicId`: the user has no
   * client id of its own; name it `basic:<basic_id>` (or, if a live user holds that, with a random
   * suffix). `liveCap`: fail with 'cap' when the team already has that many live users.
   */
  insert(u: ProfiledUser, opts: { liveCap?: number; clientIdFromBasicId?: boolean }): Promise<InsertProfiledResult>;
  find(teamId: string, sel: ProfileSelector): Promise<ProfiledUser | null>;
  /** Live users in (created_at, client_user_id by code point) order after `after`; `total` counts all live users. */
  listByCreated(teamId: string, after: ListCursor | null, limit: number): Promise<{ users: ProfiledUser[]; total: number; next: ListCursor | null }>;
  /** Users `isBasicVisible` accepts, in `order` (text by code point, ties by basic id ascending). */
  listBasicVisible(teamId: string, order: BasicOrder, offset: number, limit: number): Promise<ProfiledUser[]>;
  /**
   * Runs `apply` on the live user under a row lock and writes the profile, birthday and updated_at
   * it returns (nothing when it returns null). Null when there is no such live user.
   */
  update(teamId: string, sel: ProfileSelector, apply: (cur: ProfiledUser) => ProfiledUser | null): Promise<ProfiledUser | null | 'email_taken'>;
  /** Deletes the live user for good (its connections and sync entries go with it) if `guard` agrees; its id, or null. */
  remove(teamId: string, sel: ProfileSelector, guard: (cur: ProfiledUser) => boolean): Promise<string | null>;
  syncInputs(teamId: string, userIds: string[]): Promise<Map<string, { connections: Connection[]; stored: StoredSync[] }>>;
  /** `find` by client id and `syncInputs` of that user together (one round trip for Onvy's reads). */
  findWithSyncInputs(teamId: string, clientUserId: string): Promise<{ user: ProfiledUser; connections: Connection[]; stored: StoredSync[] } | null>;
  /**
   * Records a sync entry for a live user: connects the provider if it is not (a new connection with
   * `connection`'s id and status), sets the connection's status when `connection.setStatus`, upserts
   * the entry and bumps the user's updated_at. False when there is no such live user.
   */
  recordSync(teamId: string, userId: string, entry: StoredSync, connection: { id: string; status: 'connected' | 'error'; error: { type: string; message: string } | null; setStatus: boolean }): Promise<boolean>;
  /** Removes the provider's connection and its sync entries; false when it was not connected. */
  disconnect(teamId: string, userId: string, providerSlug: string, now: Date): Promise<boolean>;
}

// ---------- rules (pure) ----------

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

/** Names: 1–100 characters, not only whitespace (shared by Onvy's firstname and basic's firstName). */
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
  // A replacement clears only the fields the caller carries (Onvy's PUT leaves basic's e-mail alone).
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

/** The basic face's schema requires these three fields: it can see only users that have them. */
export const isBasicVisible = (p: Profile): boolean => p.firstName !== null && p.lastName !== null && p.email !== null;

function checkSyncEntry(e: { provider: unknown; dataType: unknown; syncType: unknown; status: unknown }): FieldIssue[] {
  return [
    checkEnum(e.provider, ['provider'], SYNC_PROVIDERS),
    checkEnum(e.dataType, ['dataType'], SYNC_DATA_TYPES),
    checkEnum(e.syncType, ['syncType'], SYNC_TYPES),
    checkEnum(e.status, ['status'], SYNC_STATUSES),
  ].filter((i): i is FieldIssue => i !== null);
}

// ---------- service ----------

export interface ProfilesDeps {
  repo: ProfilesRepo;
  /** Webhooks (i12): where user.* and connection.* events are recorded. */
  events?: EventOutbox;
  now?: () => Date;
  /** 0 = no cap. Applies to sandbox teams only (the same cap as UsersService). */
  sandboxUserCap?: number;
}

const notFound = () => new DomainError('user_not_found', 'User not found');

export class ProfilesService {
  private readonly repo: ProfilesRepo;
  private readonly now: () => Date;
  private readonly cap: number;
  private readonly events: EventOutbox; // webhooks (i12)

  constructor(deps: ProfilesDeps) {
    this.events = deps.events ?? NO_OUTBOX; // webhooks (i12)
    this.repo = deps.repo;
    this.now = deps.now ?? (() => new Date());
    this.cap = deps.sandboxUserCap ?? 0;
  }

  /**
   * Creates a user with a profile. `clientUserId` null: the caller has no id of its own (the basic
   * face); Roster names it `basic:<basic_id>`.
   */
  async create(team: TeamContext, input: { clientUserId: string | null; patch: ProfilePatch }): Promise<ProfileView> {
    const now = this.now();
    const issues: FieldIssue[] = [];
    if (input.clientUserId !== null) {
      const i = checkClientUserId(input.clientUserId, ['clientUserId']);
      if (i) issues.push(i);
    }
    issues.push(...checkProfilePatch(input.patch, now));
    if (issues.length) throw validationFailed(issues);

    const blank: ProfiledUser = {
      user: {
        teamId: team.teamId, id: newId(now.getTime()), clientUserId: input.clientUserId ?? '', createdAt: now, updatedAt: now,
        deletedAt: null, fallbackTimeZone: null, fallbackBirthDate: null, ingestionStart: null, ingestionEnd: null,
      },
      profile: EMPTY_PROFILE,
      basicId: 0,
    };
    const made = applyProfilePatch(blank, input.patch, 'replace', now)!;
    const liveCap = team.mode === 'sandbox' && this.cap > 0 ? this.cap : undefined;
    const r = await this.events.emit(team.teamId, () => this.repo.insert(made, { ...(liveCap ? { liveCap } : {}), clientIdFromBasicId: input.clientUserId === null }), (x) => (x.ok ? [userEvent('user.created', team.teamId, made.user.id, now, { client_user_id: x.clientUserId, basic_id: x.basicId })] : [])); // webhooks (i12)
    if (!r.ok) {
      if (r.reason === 'cap') throw new DomainError('sandbox_user_cap', `You have reached the maximum of ${this.cap} Sandbox users`, { cap: this.cap });
      if (r.reason === 'email_taken') throw new DomainError('email_taken', 'Another user of the team has this e-mail address');
      throw new DomainError('client_user_id_taken', 'Client user id already exists.', { existing: r.existing });
    }
    return { ...made, basicId: r.basicId, user: { ...made.user, clientUserId: r.clientUserId }, dataSyncs: [] };
  }

  /** The live user with that client id (Onvy's `id`), with its data syncs. */
  async getByClientId(teamId: string, clientUserId: string): Promise<ProfileView> {
    const r = checkClientUserId(clientUserId) ? null : await this.repo.findWithSyncInputs(teamId, clientUserId);
    if (!r) throw notFound();
    return { ...r.user, dataSyncs: deriveDataSyncs(r.connections, r.stored) };
  }

  async listByCreated(teamId: string, after: ListCursor | null, limit: number): Promise<{ users: ProfileView[]; total: number; next: ListCursor | null }> {
    const page = await this.repo.listByCreated(teamId, after, limit);
    return { users: await this.withSyncs(page.users), total: page.total, next: page.next };
  }

  /** The user with that basic number, if the basic face can see it. */
  async getBasic(teamId: string, basicId: number): Promise<ProfiledUser> {
    const u = await this.repo.find(teamId, { basicId });
    if (!u || !isBasicVisible(u.profile)) throw notFound();
    return u;
  }

  listBasic(teamId: string, order: BasicOrder, page: number, perPage: number): Promise<ProfiledUser[]> {
    return this.repo.listBasicVisible(teamId, order, page * perPage, perPage);
  }

  /**
   * Applies a patch (merge) or a full replacement of the fields in `replaces` (the fields the
   * calling face carries). A basic-number selector sees only users the basic face can see.
   */
  async update(teamId: string, sel: ProfileSelector, patch: ProfilePatch, mode: PatchMode, replaces: readonly ProfileField[] = PROFILE_FIELDS): Promise<ProfiledUser> {
    if ('clientUserId' in sel && checkClientUserId(sel.clientUserId)) throw notFound();
    const issues = checkProfilePatch(patch, this.now());
    if (issues.length) throw validationFailed(issues);
    const r = await this.events.emit(teamId, () => this.repo.update(teamId, sel, (cur) => {
      if ('basicId' in sel && !isBasicVisible(cur.profile)) throw notFound();
      return applyProfilePatch(cur, patch, mode, this.now(), replaces);
    }), (x) => (x && x !== 'email_taken' ? [userEvent('user.updated', teamId, x.user.id, this.now())] : [])); // webhooks (i12)
    if (r === 'email_taken') throw new DomainError('email_taken', 'Another user of the team has this e-mail address');
    if (r === null) throw notFound();
    return r;
  }

  /** Deletes for good (Onvy and basic deletes; Junction's soft delete is UsersService.delete). Returns Roster's id of the user. */
  async delete(teamId: string, sel: ProfileSelector): Promise<string> {
    if ('clientUserId' in sel && checkClientUserId(sel.clientUserId)) throw notFound();
    const id = await this.events.emit(teamId, () => this.repo.remove(teamId, sel, (cur) => !('basicId' in sel) || isBasicVisible(cur.profile)), (x) => (x ? [userEvent('user.deleted', teamId, x, this.now(), 'clientUserId' in sel ? { client_user_id: sel.clientUserId } : 'basicId' in sel ? { basic_id: sel.basicId } : {})] : [])); // webhooks (i12)
    if (!id) throw notFound();
    return id;
  }

  async withSyncs(users: ProfiledUser[]): Promise<ProfileView[]> {
    if (users.length === 0) return [];
    const inputs = await this.repo.syncInputs(users[0]!.user.teamId, users.map((u) => u.user.id));
    return users.map((u) => {
      const i = inputs.get(u.user.id);
      return { ...u, dataSyncs: i ? deriveDataSyncs(i.connections, i.stored) : [] };
    });
  }

  async dataSyncs(teamId: string, clientUserId: string): Promise<DataSync[]> {
    return (await this.getByClientId(teamId, clientUserId)).dataSyncs;
  }

  /**
   * Records one sync entry (Onvy's PUT data_syncs). Connecting a provider = recording its `auth`
   * entry; an `auth` entry that failed marks the connection errored, any other status connected.
   */
  async recordSync(teamId: string, clientUserId: string, e: { provider: string; dataType: string; syncType: string; status: string }): Promise<DataSync & { userId: string }> {
    const u = await this.requireByClientId(teamId, clientUserId);
    const issues = checkSyncEntry(e);
    if (issues.length) throw validationFailed(issues);
    const now = this.now();
    const slug = providerSlugOf(e.provider)!;
    const isAuth = e.dataType === 'auth';
    const failed = isAuth && e.status === 'failed';
    const ok = await this.events.emit(teamId, () => this.repo.recordSync(teamId, u.user.id, { provider: slug, dataType: e.dataType, syncType: e.syncType, status: e.status, updatedAt: now }, {
      id: newId(now.getTime()),
      status: failed ? 'error' : 'connected',
      error: failed ? { type: 'auth_failed', message: 'The provider connection failed' } : null,
      setStatus: isAuth,
    }), (x) => (x && isAuth ? [userEvent(failed ? 'connection.error' : 'connection.created', teamId, u.user.id, now, { provider: slug, ...(failed ? { error: { type: 'provider_credential_error', message: 'The provider connection failed', details: 'auth sync entry failed' } } : {}) })] : [])); // webhooks (i12)
    if (!ok) throw notFound();
    return { provider: e.provider, dataType: e.dataType, syncType: e.syncType, status: e.status, updatedAt: now, userId: u.user.id };
  }

  /** Disconnects a provider (by its CAPITALCASE name): its connection and every entry go. */
  async disconnectProvider(teamId: string, clientUserId: string, providerName: string): Promise<string> {
    const u = await this.requireByClientId(teamId, clientUserId);
    const slug = providerSlugOf(providerName);
    if (!slug || !(await this.events.emit(teamId, () => this.repo.disconnect(teamId, u.user.id, slug, this.now()), (x) => (x ? [userEvent('connection.deleted', teamId, u.user.id, this.now(), { provider: slug })] : [])))) { // webhooks (i12)
      throw new DomainError('connection_not_found', 'The user has no entry for this provider');
    }
    return u.user.id;
  }

  private async requireByClientId(teamId: string, clientUserId: string): Promise<ProfiledUser> {
    const u = checkClientUserId(clientUserId) ? null : await this.repo.find(teamId, { clientUserId });
    if (!u) throw notFound();
    return u;
  }
}
