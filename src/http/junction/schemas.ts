// Wire schemas of Junction's v2 Users API (spec/contracts/junction-v2-users.md §3).
// They validate requests, serialize responses and feed the OpenAPI document.
import { Type } from 'typebox';
import { Nullable } from '../shared/typebox.ts';

export { Nullable };

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

// ---------- connections, devices (contract §3.2, §3.3) ----------

export const PROVIDER_SLUG_SCHEMA = (slugs: readonly string[]) => Type.Unsafe<string>({ type: 'string', enum: [...slugs] });

export const ResourceAvailability = Type.Object({
  status: Type.String(),
  scope_requirements: Nullable(Type.Object({
    user_granted: Type.Object({ required: Type.Array(Type.String()), optional: Type.Array(Type.String()) }),
    user_denied: Type.Object({ required: Type.Array(Type.String()), optional: Type.Array(Type.String()) }),
  })),
});

export const ClientFacingProviderWithStatus = Type.Object({
  name: Type.String(),
  slug: Type.String(),
  logo: Type.String(),
  created_on: DateTimeString,
  status: Type.String(),
  external_user_id: Nullable(Type.String()),
  error_details: Nullable(Type.Object({ error_type: Type.String(), error_message: Type.String(), errored_at: DateTimeString })),
  resource_availability: Type.Record(Type.String(), ResourceAvailability),
});
export const ProvidersResponse = Type.Object({ providers: Type.Array(ClientFacingProviderWithStatus) });

export const ClientFacingDevice = Type.Object({
  id: UuidString,
  user_id: UuidString,
  provider: Type.String(),
  source_type: Type.String(),
  app_id: Nullable(Type.String()),
  device_manufacturer: Nullable(Type.String()),
  device_model: Nullable(Type.String()),
  device_version: Nullable(Type.String()),
  device_id: Nullable(Type.String()),
});
export const DeviceParams = Type.Object({ user_id: UuidString, device_id: UuidString });

export const RefreshQuery = Type.Object({ timeout: Type.Number({ minimum: 5, maximum: 60, default: 10 }) });
export const RefreshSuccess = Type.Object({
  success: Type.Boolean(),
  user_id: UuidString,
  refreshed_sources: Type.Array(Type.String()),
  in_progress_sources: Type.Array(Type.String()),
  failed_sources: Type.Array(Type.String()),
});

export const RefreshError = Type.Object({
  success: Type.Boolean(),
  user_id: UuidString,
  error: Type.String(),
  failed_sources: Type.Array(Type.String()),
});

export const DemoBody = (providers: readonly string[]) => Type.Object({
  user_id: UuidString,
  provider: Type.Unsafe<string>({ type: 'string', enum: [...providers] }),
});
export const DemoResponse = Type.Object({ success: Type.Boolean(), detail: Type.String() });

// ---------- demographics and insurance (contract §3.4) ----------

const Text = (max = 200) => Type.String({ maxLength: max, format: 'safe-text' });
const PersonName = Type.String({ format: 'person-name' });
const Email = Type.String({ format: 'email' });
const Phone = Type.String({ format: 'phone' });

export const AddressIn = Type.Object({
  first_line: Text(),
  second_line: Type.Optional(Nullable(Text())),
  country: Text(),
  zip: Text(32),
  city: Text(),
  state: Text(),
  access_notes: Type.Optional(Nullable(Text(1000))),
});
export const AddressOut = Type.Object({
  first_line: Type.String(), second_line: Nullable(Type.String()), country: Type.String(), zip: Type.String(),
  city: Type.String(), state: Type.String(), access_notes: Nullable(Type.String()),
});

export const GuarantorIn = Type.Object({
  first_name: PersonName,
  last_name: PersonName,
  address: AddressIn,
  phone_number: Phone,
  household_income: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1e12 }))),
  household_size: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1000 }))),
  email: Type.Optional(Nullable(Email)),
});
export const GuarantorOut = Type.Object({
  first_name: Type.String(), last_name: Type.String(), address: AddressOut, phone_number: Type.String(),
  household_income: Nullable(Type.Integer()), household_size: Nullable(Type.Integer()), email: Nullable(Type.String()),
});

const NullableEnum = (values: readonly string[]) => Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], enum: [...values, null] }));

export const UserInfoBody = (enums: { races: readonly string[]; ethnicities: readonly string[]; orientations: readonly string[]; identities: readonly string[] }) => Type.Object({
  first_name: PersonName,
  last_name: PersonName,
  email: Email,
  phone_number: Phone,
  gender: Text(100),
  dob: DateString,
  address: AddressIn,
  medical_proxy: Type.Optional(Nullable(GuarantorIn)),
  race: NullableEnum(enums.races),
  ethnicity: NullableEnum(enums.ethnicities),
  sexual_orientation: NullableEnum(enums.orientations),
  gender_identity: NullableEnum(enums.identities),
});
export const UserInfo = Type.Object({
  first_name: Type.String(), last_name: Type.String(), email: Type.String(), phone_number: Type.String(), gender: Type.String(),
  dob: Type.String(), address: AddressOut, medical_proxy: Nullable(GuarantorOut), race: Nullable(Type.String()),
  ethnicity: Nullable(Type.String()), sexual_orientation: Nullable(Type.String()), gender_identity: Nullable(Type.String()),
});

export const InsuranceBody = (enums: { relationships: readonly string[]; genders: readonly string[] }) => Type.Object({
  payor_code: Text(64),
  member_id: Text(128),
  group_id: Type.Optional(Nullable(Text(128))),
  relationship: Type.Unsafe<string>({ type: 'string', enum: [...enums.relationships] }),
  insured: Type.Object({
    first_name: PersonName,
    last_name: PersonName,
    gender: Type.Unsafe<string>({ type: 'string', enum: [...enums.genders] }),
    address: AddressIn,
    dob: DateString,
    email: Email,
    phone_number: Phone,
  }, { additionalProperties: false }),
  guarantor: Type.Optional(Nullable(GuarantorIn)),
  is_primary: Type.Optional(Type.Boolean()),
});
export const InsuranceOut = Type.Object({
  payor_code: Type.String(), member_id: Type.String(), group_id: Nullable(Type.String()), relationship: Type.String(),
  insured: Type.Object({ first_name: Type.String(), last_name: Type.String(), gender: Type.String(), address: AddressOut, dob: Type.String(), email: Type.String(), phone_number: Type.String() }),
  guarantor: Nullable(GuarantorOut), is_primary: Type.Boolean(),
  company: Type.Object({ name: Type.String(), address: AddressOut }),
});
export const InsuranceLatestQuery = Type.Object({ is_primary: Type.Boolean({ default: true }) });
export const AnyUserParams = Type.Object({ user_id: Type.String() });
