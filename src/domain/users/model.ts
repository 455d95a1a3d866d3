// The users aggregate: one user, one row of `users`, whichever face created it. A user carries the
// fields Junction names (client id, fallbacks, ingestion bounds) and the profile fields the other
// faces carry (docs/faces.md); every face reads and writes the same values. Types and constants
// only: the rules are in rules.ts and profile-rules.ts, storage is the port in repo.ts.
import type { Connection } from '../connections.ts';
import type { DataSync } from './data-syncs.ts';

export type TeamMode = 'sandbox' | 'production';

export interface TeamContext {
  teamId: string;
  mode: TeamMode;
}

/** Client ids are indexed; a btree entry cannot exceed ~2.7 kB, so the cap counts UTF-8 bytes. */
export const CLIENT_USER_ID_MAX_BYTES = 1024;
/** Soft-deleted users can be restored for this long, then they are purged. */
export const UNDO_GRACE_DAYS = 7;
export const UNDO_GRACE_MS = UNDO_GRACE_DAYS * 86_400_000;
/** Connections of a user whose ingestion_end is more than this many days past show as paused. */
export const INGESTION_LATE_WINDOW_DAYS = 7;
/** Source slug recorded for values set through the API. */
export const MANUAL_SOURCE = 'manual';

export interface Sourced<T> {
  value: T;
  source: string;
  updatedAt: Date;
}

export interface User {
  teamId: string;
  id: string;
  clientUserId: string;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  fallbackTimeZone: Sourced<string> | null;
  fallbackBirthDate: Sourced<string> | null;
  ingestionStart: string | null;
  ingestionEnd: string | null;
}

/** A user with what the faces render next to it. */
export interface UserView {
  user: User;
  connections: Connection[];
}

export const MEASUREMENT_UNITS = ['metric', 'imperial'] as const;
export const GENDERS = ['male', 'female', 'other'] as const;
/** What a face that always shows a unit shows when none was chosen. */
export const DEFAULT_MEASUREMENT_UNIT = 'metric';

export type MeasurementUnit = (typeof MEASUREMENT_UNITS)[number];
export type Gender = (typeof GENDERS)[number];

export interface Thresholds { ftp: number | null; lthr: number | null; mhr: number | null }
export interface GeoLocation { lat: number | null; lon: number | null }

/** Every profile field; null = not set. Birthday is the user's fallbackBirthDate. */
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
  /** Offset from UTC in seconds; independent of the IANA fallback zone. */
  tzOffsetSeconds: number | null;
}

export const EMPTY_PROFILE: Profile = Object.freeze({
  firstName: null, lastName: null, email: null, language: null, measurementUnit: null, gender: null,
  heightCm: null, weightKg: null, thresholds: Object.freeze({ ftp: null, lthr: null, mhr: null }),
  location: Object.freeze({ lat: null, lon: null }), coachEnabled: null, tzOffsetSeconds: null,
}) as Profile;

/**
 * A user with its profile and its number. The number is a positive integer given to every user at
 * creation, unique and increasing within the team, never reused (faces that address users by an
 * integer use it).
 */
export interface ProfiledUser {
  user: User;
  profile: Profile;
  number: number;
}

export interface ProfileView extends ProfiledUser {
  dataSyncs: DataSync[];
}

/** The user fields set at creation; `undefined` or null = not given. */
export interface UserFields {
  fallbackTimeZone?: string | null;
  fallbackBirthDate?: string | null;
  ingestionStart?: string | null;
  ingestionEnd?: string | null;
}

export interface CreateUserInput extends UserFields {
  clientUserId: string;
}

/** `undefined` = not given (keep); `null` = clear. */
export interface PatchUserInput extends UserFields {
  clientUserId?: string;
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

/** How a user is addressed: Roster's id, the client's id, or its number. */
export type UserSelector = { id: string } | { clientUserId: string } | { number: number };

/**
 * Which live users a query sees and in which order. `require`: profile fields that must be set
 * (a face whose schema requires fields can only show users that have them). Text sorts by code
 * point; ties by number ascending.
 */
export interface UserQuery {
  require?: readonly ('firstName' | 'lastName' | 'email')[];
  order?: UserOrder;
}
export const USER_SORT_FIELDS = ['number', 'firstName', 'lastName', 'email'] as const;
export interface UserOrder { field: (typeof USER_SORT_FIELDS)[number]; descending: boolean }

/** Position in the created_at order: `createdAt` is the exact stored timestamp (microseconds) as text. */
export interface ListCursor { createdAt: string; clientUserId: string }

export type UndoTarget = { userId: string } | { clientUserId: string };

export interface TeamMetrics {
  users: number;
  connectedSources: number;
  erroredConnectedSources: number;
  /** One point per ISO week, Monday 00:00 UTC, from the team's first connection to now. */
  weekly: { week: Date; value: number; all: number }[];
}
