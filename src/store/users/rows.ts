// The one correspondence between the users aggregate (src/domain/users/model.ts) and the rows of
// `users` and `connections`: the repository, its precompiled queries and bulk import all go
// through it, so a new column is mapped here once.
import type { Selectable } from 'kysely';
import type { ConnectionRow, NewUserRow, UsersTable } from '../../db/schema.ts';
import type { Profile, ProfiledUser, User } from '../../domain/users/model.ts';
import type { StoredSync } from '../../domain/users/data-syncs.ts';
import type { Connection } from '../../domain/connections.ts';
import { parseIsoTimestamptz } from '../../db/timestamptz.ts';

export type UserRow = Selectable<UsersTable>;

/** The user's own fields as columns (the key, lifecycle, fallbacks and ingestion bounds). */
export function userColumns(u: User) {
  return {
    team_id: u.teamId,
    id: u.id,
    client_user_id: u.clientUserId,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    deleted_at: u.deletedAt,
    fallback_time_zone: u.fallbackTimeZone?.value ?? null,
    fallback_time_zone_source: u.fallbackTimeZone?.source ?? null,
    fallback_time_zone_updated_at: u.fallbackTimeZone?.updatedAt ?? null,
    fallback_birth_date: u.fallbackBirthDate?.value ?? null,
    fallback_birth_date_source: u.fallbackBirthDate?.source ?? null,
    fallback_birth_date_updated_at: u.fallbackBirthDate?.updatedAt ?? null,
    ingestion_start: u.ingestionStart,
    ingestion_end: u.ingestionEnd,
  };
}

/** The profile as columns (0003_profile.sql). The birthday is the user's fallback_birth_date. */
export function profileColumns(p: Profile) {
  return {
    first_name: p.firstName,
    last_name: p.lastName,
    email: p.email,
    language: p.language,
    measurement_unit: p.measurementUnit,
    gender: p.gender,
    height_cm: p.heightCm,
    weight_kg: p.weightKg,
    threshold_ftp: p.thresholds.ftp,
    threshold_lthr: p.thresholds.lthr,
    threshold_mhr: p.thresholds.mhr,
    location_lat: p.location.lat,
    location_lon: p.location.lon,
    coach_enabled: p.coachEnabled,
    tz_offset_seconds: p.tzOffsetSeconds,
  };
}

/** A new user as its row, every column but basic_id (storage numbers it). */
export function userRow(u: ProfiledUser): NewUserRow {
  // Object.assign, not `{ ...a, ...b }`: V8 (Node 20) took ~70 µs per call for that spread of 29
  // columns against under 1 µs for this, a third of a create's own CPU (docs/benchmark.md, 2026-12-07).
  return Object.assign(userColumns(u.user), profileColumns(u.profile));
}

export type UserColumn = keyof ReturnType<typeof userColumns>;
export type RowColumn = UserColumn | keyof ReturnType<typeof profileColumns>;

/** Any user: only its shape is used, to list the columns once. */
const SAMPLE: ProfiledUser = {
  user: {
    teamId: '', id: '', clientUserId: '', createdAt: new Date(0), updatedAt: new Date(0), deletedAt: null,
    fallbackTimeZone: null, fallbackBirthDate: null, ingestionStart: null, ingestionEnd: null,
  },
  profile: {
    firstName: null, lastName: null, email: null, language: null, measurementUnit: null, gender: null, heightCm: null, weightKg: null,
    thresholds: { ftp: null, lthr: null, mhr: null }, location: { lat: null, lon: null }, coachEnabled: null, tzOffsetSeconds: null,
  },
  number: 0,
};
/** The columns a User is made of (users also holds the profile columns). */
export const USER_COLUMNS = Object.keys(userColumns(SAMPLE.user)) as UserColumn[];
/** Every column a new user is written with. */
export const ROW_COLUMNS = Object.keys(userRow(SAMPLE)) as RowColumn[];
/** The columns a profile write touches: the profile, the shared birthday, updated_at. */
export const PROFILE_WRITE_COLUMNS = [
  ...Object.keys(profileColumns(SAMPLE.profile)),
  'fallback_birth_date', 'fallback_birth_date_source', 'fallback_birth_date_updated_at', 'updated_at',
] as RowColumn[];

export const pickColumns = (row: NewUserRow, cols: readonly RowColumn[]): unknown[] => cols.map((c) => row[c]);

export function toUser(r: Pick<UserRow, UserColumn>): User {
  return {
    teamId: r.team_id,
    id: r.id,
    clientUserId: r.client_user_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
    fallbackTimeZone: r.fallback_time_zone !== null ? { value: r.fallback_time_zone, source: r.fallback_time_zone_source ?? 'manual', updatedAt: r.fallback_time_zone_updated_at ?? r.updated_at } : null,
    fallbackBirthDate: r.fallback_birth_date !== null ? { value: r.fallback_birth_date, source: r.fallback_birth_date_source ?? 'manual', updatedAt: r.fallback_birth_date_updated_at ?? r.updated_at } : null,
    ingestionStart: r.ingestion_start,
    ingestionEnd: r.ingestion_end,
  };
}

export function toProfile(r: UserRow): Profile {
  return {
    firstName: r.first_name,
    lastName: r.last_name,
    email: r.email,
    language: r.language,
    measurementUnit: r.measurement_unit,
    gender: r.gender,
    heightCm: r.height_cm,
    weightKg: r.weight_kg,
    thresholds: { ftp: r.threshold_ftp, lthr: r.threshold_lthr, mhr: r.threshold_mhr },
    location: { lat: r.location_lat, lon: r.location_lon },
    coachEnabled: r.coach_enabled,
    tzOffsetSeconds: r.tz_offset_seconds,
  };
}

export const toProfiled = (r: UserRow): ProfiledUser => ({ user: toUser(r), profile: toProfile(r), number: Number(r.basic_id) });

export function toConnection(r: ConnectionRow): Connection {
  return {
    provider: r.provider,
    status: r.status,
    createdAt: r.created_at,
    externalUserId: r.external_user_id,
    error: r.error_type ? { type: r.error_type, message: r.error_message ?? '', at: r.errored_at ?? r.created_at } : null,
    resources: resourcesFromJson(r.resources),
    demo: r.demo,
  };
}

type StoredResource = { status: 'available' | 'unavailable'; scope_requirements?: { user_granted: { required: string[]; optional: string[] }; user_denied: { required: string[]; optional: string[] } } | null };

function resourcesFromJson(j: Record<string, unknown>): Connection['resources'] {
  const out: Connection['resources'] = {};
  for (const [k, v] of Object.entries(j as Record<string, StoredResource>)) {
    const s = v.scope_requirements;
    out[k] = { status: v.status, scopeRequirements: s ? { userGranted: s.user_granted, userDenied: s.user_denied } : null };
  }
  return out;
}

/** A connection row as the JSON sub-select returns it (timestamps as text). */
export type JsonConnection = Omit<ConnectionRow, 'created_at' | 'errored_at'> & { created_at: string; errored_at: string | null };
export type JsonSync = { provider: string; data_type: string; sync_type: string; status: string; updated_at: string };

export const fromJsonConnection = (c: JsonConnection): Connection =>
  toConnection({ ...c, created_at: new Date(c.created_at), errored_at: c.errored_at ? new Date(c.errored_at) : null });

export const fromJsonSync = (x: JsonSync): StoredSync =>
  ({ provider: x.provider, dataType: x.data_type, syncType: x.sync_type, status: x.status, updatedAt: new Date(x.updated_at) });

/**
 * The columns of a list entry, in the order the page's JSON arrays hold them (queries.ts
 * livePage), then the connections (null when none). The team is the page's, deleted_at is null.
 */
export const PAGE_COLUMNS = [
  'id', 'client_user_id', 'created_at', 'updated_at', 'fallback_time_zone', 'fallback_time_zone_source', 'fallback_time_zone_updated_at',
  'fallback_birth_date', 'fallback_birth_date_source', 'fallback_birth_date_updated_at', 'ingestion_start', 'ingestion_end',
] as const satisfies readonly UserColumn[];
type Text = string | null;
export type PageEntry = [string, string, string, string, Text, Text, Text, Text, Text, Text, Text, Text, JsonConnection[] | null];

/** A timestamptz as JSON writes it (`2026-01-01T00:00:10.5+00:00`). */
const jsonTime = (s: string): Date => parseIsoTimestamptz(s) ?? new Date(s);
const jsonTimeOrNull = (s: string | null): Date | null => (s === null ? null : jsonTime(s));

/** A live user of `teamId` and its connections from its list entry, mapped as a row is (toUser). */
export function fromPageEntry(teamId: string, e: PageEntry): { user: User; connections: Connection[] } {
  return {
    user: toUser({
      team_id: teamId, id: e[0], client_user_id: e[1], created_at: jsonTime(e[2]), updated_at: jsonTime(e[3]), deleted_at: null,
      fallback_time_zone: e[4], fallback_time_zone_source: e[5], fallback_time_zone_updated_at: jsonTimeOrNull(e[6]),
      fallback_birth_date: e[7], fallback_birth_date_source: e[8], fallback_birth_date_updated_at: jsonTimeOrNull(e[9]),
      ingestion_start: e[10], ingestion_end: e[11],
    }),
    connections: e[12] ? e[12].map(fromJsonConnection) : [],
  };
}
