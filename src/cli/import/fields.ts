// The row format of `roster import` (shared with `roster export`): every importable field, the
// import's error type and the reason a row is rejected with.
import type { ProfilePatch } from '../../domain/users/model.ts';

export type Kind = 'string' | 'number' | 'integer' | 'boolean';

export interface FieldDef {
  /** Column name in CSV, key in JSON Lines; the same names `roster export` writes. */
  name: string;
  kind: Kind;
  /** Where a profile field goes in the domain's ProfilePatch; absent for the Junction fields. */
  patch?: readonly [keyof ProfilePatch] | readonly ['thresholds', 'ftp' | 'lthr' | 'mhr'] | readonly ['location', 'lat' | 'lon'];
}

/**
 * Every importable field: Junction's U2 body, then the profile fields of the Onvy and basic faces
 * (stored once on the user, 0003_profile.sql; named here after their columns, which carry the unit).
 * Onvy's birthday is fallback_birth_date; the basic face's userId is assigned, never imported.
 */
export const FIELDS: readonly FieldDef[] = [
  { name: 'client_user_id', kind: 'string' },
  { name: 'fallback_time_zone', kind: 'string' },
  { name: 'fallback_birth_date', kind: 'string' },
  { name: 'ingestion_start', kind: 'string' },
  { name: 'ingestion_end', kind: 'string' },
  { name: 'first_name', kind: 'string', patch: ['firstName'] },
  { name: 'last_name', kind: 'string', patch: ['lastName'] },
  { name: 'email', kind: 'string', patch: ['email'] },
  { name: 'language', kind: 'string', patch: ['language'] },
  { name: 'measurement_unit', kind: 'string', patch: ['measurementUnit'] },
  { name: 'gender', kind: 'string', patch: ['gender'] },
  { name: 'height_cm', kind: 'number', patch: ['heightCm'] },
  { name: 'weight_kg', kind: 'number', patch: ['weightKg'] },
  { name: 'threshold_ftp', kind: 'number', patch: ['thresholds', 'ftp'] },
  { name: 'threshold_lthr', kind: 'number', patch: ['thresholds', 'lthr'] },
  { name: 'threshold_mhr', kind: 'number', patch: ['thresholds', 'mhr'] },
  { name: 'location_lat', kind: 'number', patch: ['location', 'lat'] },
  { name: 'location_lon', kind: 'number', patch: ['location', 'lon'] },
  { name: 'coach_enabled', kind: 'boolean', patch: ['coachEnabled'] },
  { name: 'tz_offset_seconds', kind: 'integer', patch: ['tzOffsetSeconds'] },
];

/** Written by `roster export` for the team moving out; read-only, so import accepts and ignores them. */
export const EXPORT_ONLY_FIELDS = ['user_id', 'created_at'] as const;

export const FIELD_BY_NAME = new Map(FIELDS.map((f) => [f.name, f]));
export const IGNORED = new Set<string>(EXPORT_ONLY_FIELDS);
/** Domain issue path (JSON) → our field name, for the profile fields. */
export const FIELD_BY_PATCH_PATH = new Map(FIELDS.filter((f) => f.patch).map((f) => [JSON.stringify(f.patch), f.name]));

export type Format = 'jsonl' | 'csv';

export interface Reason {
  /** The row's field the reason is about; null for the row as a whole. */
  field: string | null;
  kind: string;
  message: string;
  limit?: number;
  allowed?: readonly string[];
}

export const rowReason = (kind: string, message: string): Reason => ({ field: null, kind, message });

export class ImportError extends Error {}
