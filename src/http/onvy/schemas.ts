// Wire schemas of the Onvy-compatible Users API (spec/contracts/onvy-users.md §2–4). They
// validate requests, serialize responses and document the face. Bounds come from the domain
// (src/domain/users/profile-rules.ts), so the schema and the rule that guards a field cannot drift apart.
import { Type, type Static } from 'typebox';
import { Nullable } from '../shared/typebox.ts';
import { GENDERS, MEASUREMENT_UNITS } from '../../domain/users/model.ts';
import { LANGUAGE_PATTERN, PROFILE_LIMITS as L } from '../../domain/users/profile-rules.ts';
import { SYNC_DATA_TYPES, SYNC_PROVIDERS, SYNC_STATUSES, SYNC_TYPES } from '../../domain/users/data-syncs.ts';

// `null` allowed as well (Onvy: null for an optional field means "not set"): Nullable, shared.
export { Nullable };

const StrEnum = <T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
const Text = (min: number, max: number, extra: Record<string, unknown> = {}) => Type.String({ minLength: min, maxLength: max, format: 'safe-text', ...extra });

/** 1–128 printable characters, no '/', no leading or trailing whitespace (contract §4.1). */
export const ONVY_ID_PATTERN = '^(?!\\s)[^/\\u0000-\\u001f\\u007f-\\u009f]*(?<!\\s)$';
export const OnvyId = Type.String({ minLength: 1, maxLength: 128, pattern: ONVY_ID_PATTERN, format: 'safe-text', description: 'Customer-supplied user id, unique within the project' });
export const BIRTHDAY_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$';

export const Thresholds = Type.Object({
  ftp: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: L.ftp.above, maximum: L.ftp.max, description: 'Functional threshold power, watts' }))),
  lthr: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: L.lthr.above, maximum: L.lthr.max, description: 'Lactate threshold heart rate, bpm' }))),
  mhr: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: L.mhr.above, maximum: L.mhr.max, description: 'Maximum heart rate, bpm' }))),
}, { additionalProperties: false });

export const Location = Type.Object({
  lat: Type.Optional(Nullable(Type.Number({ minimum: L.lat.min, maximum: L.lat.max }))),
  lon: Type.Optional(Nullable(Type.Number({ minimum: L.lon.min, maximum: L.lon.max }))),
}, { additionalProperties: false });

export const CoachConfig = Type.Object({ enabled: Type.Optional(Nullable(Type.Boolean())) }, { additionalProperties: false });

/** The writable profile fields, plus the read-only ones a client may echo back (ignored). */
const profileFields = {
  language: Type.Optional(Nullable(Text(L.language.minChars, L.language.maxChars, { pattern: LANGUAGE_PATTERN, description: 'Language tag, e.g. en' }))),
  tz_offset: Type.Optional(Nullable(Type.Integer({ minimum: L.tzOffsetSeconds.min, maximum: L.tzOffsetSeconds.max, description: 'Offset from UTC in seconds' }))),
  firstname: Type.Optional(Nullable(Text(L.name.minChars, L.name.maxChars))),
  lastname: Type.Optional(Nullable(Text(L.name.minChars, L.name.maxChars))),
  measurement_unit: Type.Optional(Nullable(StrEnum(MEASUREMENT_UNITS))),
  gender: Type.Optional(Nullable(StrEnum(GENDERS))),
  birthday: Type.Optional(Nullable(Type.String({ pattern: BIRTHDAY_PATTERN, format: 'date', description: 'YYYY-MM-DD, not in the future' }))),
  height: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: L.heightCm.above, maximum: L.heightCm.max, description: 'Centimetres' }))),
  weight: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: L.weightKg.above, maximum: L.weightKg.max, description: 'Kilograms' }))),
  thresholds: Type.Optional(Nullable(Thresholds)),
  location: Type.Optional(Nullable(Location)),
  coach_config: Type.Optional(Nullable(CoachConfig)),
  created_at: Type.Optional(Type.Unknown({ description: 'Read-only: ignored' })),
  updated_at: Type.Optional(Type.Unknown({ description: 'Read-only: ignored' })),
  data_syncs: Type.Optional(Type.Unknown({ description: 'Read-only: ignored' })),
};

// ---------- requests ----------

export const CreateUserBody = Type.Object({ id: OnvyId, ...profileFields }, { additionalProperties: false });
/** PUT and PATCH: `id` may be sent only with the path's value (the id is immutable). */
export const UpdateUserBody = Type.Object({ id: Type.Optional(Type.Unknown()), ...profileFields }, { additionalProperties: false });
export type OnvyProfileBody = Static<typeof UpdateUserBody>;

export const UserIdParams = Type.Object({ user_id: Type.String() });
export const ProviderParams = Type.Object({ user_id: Type.String(), provider: Type.String() });

export const ListUsersQuery = Type.Object({
  page: Type.Optional(Type.String({ description: 'Opaque token from pagination.next_page' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
});

export const DataSyncBody = Type.Object({
  provider: StrEnum(SYNC_PROVIDERS),
  data_type: StrEnum(SYNC_DATA_TYPES),
  sync_type: StrEnum(SYNC_TYPES),
  status: StrEnum(SYNC_STATUSES),
}, { additionalProperties: false });

// ---------- responses ----------

const DateTime = Type.String({ format: 'date-time' });

export const DataSync = Type.Object({
  data_type: Type.String(),
  sync_type: Type.String(),
  provider: Type.String(),
  status: Type.String(),
  updated_at: DateTime,
});

export const User = Type.Object({
  id: Type.String(),
  created_at: DateTime,
  updated_at: DateTime,
  language: Type.Optional(Type.String()),
  tz_offset: Type.Optional(Type.Integer()),
  firstname: Type.Optional(Type.String()),
  lastname: Type.Optional(Type.String()),
  // Always sent (default metric); optional here only so the serializer keeps the contract's key order.
  measurement_unit: Type.Optional(StrEnum(MEASUREMENT_UNITS)),
  gender: Type.Optional(StrEnum(GENDERS)),
  birthday: Type.Optional(Type.String()),
  height: Type.Optional(Type.Number()),
  weight: Type.Optional(Type.Number()),
  thresholds: Type.Optional(Type.Object({ ftp: Type.Optional(Type.Number()), lthr: Type.Optional(Type.Number()), mhr: Type.Optional(Type.Number()) })),
  location: Type.Optional(Type.Object({ lat: Type.Optional(Type.Number()), lon: Type.Optional(Type.Number()) })),
  coach_config: Type.Optional(Type.Object({ enabled: Type.Optional(Type.Boolean()) })),
  data_syncs: Type.Optional(Type.Array(DataSync, { description: 'Always sent, possibly empty' })),
});

export const UserList = Type.Object({
  users: Type.Array(User),
  pagination: Type.Object({
    limit: Type.Integer(),
    total: Type.Integer(),
    page: Type.Union([Type.String(), Type.Null()]),
    next_page: Type.Union([Type.String(), Type.Null()]),
  }),
});

export const DataSyncList = Type.Object({ data_syncs: Type.Array(DataSync) });

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  }),
});
