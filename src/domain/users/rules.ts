// The rules of a user's own fields (client id, fallbacks, ingestion bounds): pure functions shared
// by every face and by bulk import, so each enforces the same rules. Issue paths use the domain's
// names (clientUserId, fallbackTimeZone, ...); each face maps them to its own field names.
import { validationFailed, type FieldIssue } from '../errors.ts';
import { checkDate, isIanaTimeZone, addDays, utcDate } from '../dates.ts';
import { hasForbiddenChars, utf8Bytes } from '../text.ts';
import {
  CLIENT_USER_ID_MAX_BYTES, INGESTION_LATE_WINDOW_DAYS, MANUAL_SOURCE,
  type PatchUserInput, type User, type UserFields,
} from './model.ts';
import type { Connection } from '../connections.ts';

type Path = (string | number)[];

export function checkClientUserId(v: string, path: Path = ['clientUserId']): FieldIssue | null {
  if (v.length === 0) return { path, kind: 'too_short', input: v, limit: 1 };
  if (hasForbiddenChars(v)) return { path, kind: 'invalid_chars', input: v };
  if (utf8Bytes(v) > CLIENT_USER_ID_MAX_BYTES) return { path, kind: 'too_long', input: v, limit: CLIENT_USER_ID_MAX_BYTES };
  return null;
}

export function checkTimeZone(v: string, path: Path = ['fallbackTimeZone']): FieldIssue | null {
  return isIanaTimeZone(v) ? null : { path, kind: 'invalid_time_zone', input: v };
}

export function checkDateField(v: string, path: Path): FieldIssue | null {
  const r = checkDate(v);
  return r.ok ? null : { path, kind: 'invalid_date', input: v, reason: r.reason };
}

/** Every broken rule of the user fields given (client id when given, then the fields in order). */
export function userFieldIssues(input: PatchUserInput): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const push = (i: FieldIssue | null) => { if (i) issues.push(i); };
  if (input.clientUserId !== undefined) push(checkClientUserId(input.clientUserId));
  if (input.fallbackTimeZone != null) push(checkTimeZone(input.fallbackTimeZone));
  if (input.fallbackBirthDate != null) push(checkDateField(input.fallbackBirthDate, ['fallbackBirthDate']));
  if (input.ingestionStart != null) push(checkDateField(input.ingestionStart, ['ingestionStart']));
  if (input.ingestionEnd != null) push(checkDateField(input.ingestionEnd, ['ingestionEnd']));
  return issues;
}

/** A checked date or datetime as its date. */
export const normDate = <T extends string | null | undefined>(v: T): T => (v == null ? v : (checkDate(v) as { ok: true; value: string }).value as T);

export function boundsIssue(start: string | null, end: string | null, input: unknown): FieldIssue | null {
  if (start && end && end < start) {
    return { path: [], kind: 'order', input, reason: 'ingestion_end must be on or after ingestion_start' };
  }
  return null;
}

const manual = (value: string, now: Date) => ({ value, source: MANUAL_SOURCE, updatedAt: now });

/**
 * `u` with the user fields of `input` applied (undefined keeps, null clears), stamped `now`. Throws
 * validation_failed when the bounds end up out of order (`rawInput` is what the issue echoes).
 * The fields must have been checked with userFieldIssues.
 */
export function applyUserFields(u: User, input: PatchUserInput, now: Date, rawInput: unknown): User {
  const next: User = { ...u, updatedAt: now };
  if (input.clientUserId !== undefined) next.clientUserId = input.clientUserId;
  if (input.fallbackTimeZone !== undefined) next.fallbackTimeZone = input.fallbackTimeZone === null ? null : manual(input.fallbackTimeZone, now);
  if (input.fallbackBirthDate !== undefined) next.fallbackBirthDate = input.fallbackBirthDate === null ? null : manual(normDate(input.fallbackBirthDate), now);
  if (input.ingestionStart !== undefined) next.ingestionStart = normDate(input.ingestionStart) ?? null;
  if (input.ingestionEnd !== undefined) next.ingestionEnd = normDate(input.ingestionEnd) ?? null;
  const order = boundsIssue(next.ingestionStart, next.ingestionEnd, rawInput);
  if (order) throw validationFailed([order]);
  return next;
}

/** The fields given at creation, with null meaning "not given" (as absent). */
export const creationFields = (f: UserFields): UserFields => ({
  ...(f.fallbackTimeZone != null ? { fallbackTimeZone: f.fallbackTimeZone } : {}),
  ...(f.fallbackBirthDate != null ? { fallbackBirthDate: f.fallbackBirthDate } : {}),
  ...(f.ingestionStart != null ? { ingestionStart: f.ingestionStart } : {}),
  ...(f.ingestionEnd != null ? { ingestionEnd: f.ingestionEnd } : {}),
});

/** Connections show `paused` once ingestion_end is more than the late window in the past. */
export function connectionsPaused(user: User, now: Date): boolean {
  return user.ingestionEnd !== null && utcDate(now) > addDays(user.ingestionEnd, INGESTION_LATE_WINDOW_DAYS);
}

/** Applies read-time rules to stored connections (paused after the ingestion window). */
export function presentConnections(user: User, conns: Connection[], now: Date): Connection[] {
  if (!connectionsPaused(user, now)) return conns;
  return conns.map((c) => ({ ...c, status: 'paused' as const }));
}
