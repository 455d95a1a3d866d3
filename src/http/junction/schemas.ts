// Wire schemas of Junction's v2 Users API (../shared/contracts/junction-v2-users.md §3).
// They validate requests, serialize responses and feed the OpenAPI document.
import { Type, type TSchema, type Static } from 'typebox';

/** A JSON-Schema type array keeps AJV errors and OpenAPI 3.1 simple (no anyOf branches). */
export function Nullable<T extends TSchema>(schema: T) {
  const s = schema as unknown as { type?: string };
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [s.type ?? 'string', 'null'] });
}

export const UuidString = Type.String({ format: 'uuid' });
export const DateString = Type.String({ format: 'date' });
export const DateTimeString = Type.String({ format: 'date-time' });

// ---------- requests ----------

export const UserIdParams = Type.Object({ user_id: UuidString });

export const CreateUserBody = Type.Object({
  client_user_id: Type.String({ format: 'client-user-id', description: '1 to 1024 UTF-8 bytes; unique among the team\'s live users' }),
  fallback_time_zone: Type.Optional(Nullable(Type.String({ format: 'iana-time-zone', description: 'IANA time zone id, e.g. Europe/London' }))),
  fallback_birth_date: Type.Optional(Nullable(DateString)),
  ingestion_start: Type.Optional(Nullable(DateString)),
  ingestion_end: Type.Optional(Nullable(DateString)),
});

export const PatchUserBody = Type.Object({
  client_user_id: Type.Optional(Type.String({ format: 'client-user-id' })),
  fallback_time_zone: Type.Optional(Nullable(Type.String({ format: 'iana-time-zone' }))),
  fallback_birth_date: Type.Optional(Nullable(DateString)),
  ingestion_start: Type.Optional(Nullable(DateString)),
  ingestion_end: Type.Optional(Nullable(DateString)),
});

/** Largest offset accepted: beyond it JavaScript numbers lose integer precision. */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;
export const ListUsersQuery = Type.Object({
  offset: Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 }),
  limit: Type.Integer({ minimum: 0, maximum: 500, default: 100 }),
});

export const UndoDeleteQuery = Type.Object({
  user_id: Type.Optional(UuidString),
  client_user_id: Type.Optional(Type.String()),
});

// ---------- responses ----------

export const ClientFacingProvider = Type.Object({ name: Type.String(), slug: Type.String(), logo: Type.String() });

export const ConnectedSource = Type.Object({
  provider: ClientFacingProvider,
  source: ClientFacingProvider,
  created_on: DateTimeString,
});

export const FallbackTimeZone = Type.Object({ id: Type.String(), source_slug: Type.String(), updated_at: DateTimeString });
export const FallbackBirthDate = Type.Object({ value: Type.String(), source_slug: Type.String(), updated_at: DateTimeString });

export const ClientFacingUser = Type.Object({
  user_id: UuidString,
  team_id: UuidString,
  client_user_id: Type.String(),
  created_on: DateTimeString,
  connected_sources: Type.Array(ConnectedSource),
  fallback_time_zone: Nullable(FallbackTimeZone),
  fallback_birth_date: Nullable(FallbackBirthDate),
  ingestion_start: Nullable(Type.String()),
  ingestion_end: Nullable(Type.String()),
});

export const PaginatedUsersResponse = Type.Object({
  users: Type.Array(ClientFacingUser),
  total: Type.Integer(),
  offset: Type.Integer(),
  limit: Type.Integer(),
});

export const SuccessResponse = Type.Object({ success: Type.Boolean() });

export const TimeseriesMetricPoint = Type.Object({ date: DateTimeString, value: Type.Number(), all: Type.Number() });
export const MetricsResult = Type.Object({
  team_id: Type.String(),
  number_of_connected_sources: Type.Integer(),
  number_of_users: Type.Integer(),
  number_of_errored_connected_sources: Type.Integer(),
  number_of_ordered_tests: Type.Integer(),
  number_of_connected_sources_by_week: Type.Array(TimeseriesMetricPoint),
});

export const DetailString = Type.Object({ detail: Type.String() });
export const ValidationErrorBody = Type.Object({
  detail: Type.Array(Type.Object({
    type: Type.String(),
    loc: Type.Array(Type.Union([Type.String(), Type.Integer()])),
    msg: Type.String(),
    input: Type.Unknown(),
    ctx: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  })),
});
export const ConflictBody = Type.Object({
  detail: Type.Object({
    error_type: Type.String(),
    error_message: Type.String(),
    user_id: Type.Optional(UuidString),
    created_on: Type.Optional(DateTimeString),
  }),
});
