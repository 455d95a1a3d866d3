// Kysely's view of the tables created by src/db/migrations. Keep in step with the SQL files.
import type { ColumnType, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;

export interface TeamsTable {
  id: string;
  name: string;
  mode: 'sandbox' | 'production';
  created_at: Timestamp;
  rate_limit_per_minute: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface ApiKeysTable {
  id: string;
  team_id: string;
  hash: Buffer;
  prefix: string;
  role: 'full' | 'read_only';
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface UsersTable {
  team_id: string;
  id: string;
  client_user_id: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  fallback_time_zone: string | null;
  fallback_time_zone_source: string | null;
  fallback_time_zone_updated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** `date` columns are read as 'YYYY-MM-DD' strings (see pool.ts type parsers). */
  fallback_birth_date: string | null;
  fallback_birth_date_source: string | null;
  fallback_birth_date_updated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  ingestion_start: string | null;
  ingestion_end: string | null;
  // Profile fields (0003_profile.sql, docs/faces.md). Birthday is fallback_birth_date above.
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  language: string | null;
  measurement_unit: 'metric' | 'imperial' | null;
  gender: 'male' | 'female' | 'other' | null;
  height_cm: number | null;
  weight_kg: number | null;
  threshold_ftp: number | null;
  threshold_lthr: number | null;
  threshold_mhr: number | null;
  location_lat: number | null;
  location_lon: number | null;
  coach_enabled: boolean | null;
  tz_offset_seconds: number | null;
  /** The basic face's integer userId; assigned by a trigger when an insert leaves it out. */
  basic_id: ColumnType<number, number | undefined, number>;
  /** How many connections the user holds: kept by a trigger on connections (0017), never written by the application. */
  connection_count: ColumnType<number, never, never>;
}

export interface ConnectionsTable {
  team_id: string;
  user_id: string;
  provider: string;
  id: string;
  status: 'connected' | 'error';
  external_user_id: string | null;
  error_type: string | null;
  error_message: string | null;
  errored_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  resources: ColumnType<Record<string, unknown>, string, string>;
  demo: boolean;
  created_at: Timestamp;
}

export interface DevicesTable {
  team_id: string;
  user_id: string;
  id: string;
  provider: string;
  source_type: string;
  app_id: string | null;
  manufacturer: string | null;
  model: string | null;
  version: string | null;
  device_id: string | null;
  created_at: Timestamp;
}

export interface DemographicsTable {
  team_id: string;
  user_id: string;
  id: string;
  data: ColumnType<Record<string, unknown>, string, string>;
  key_id: string | null;
  created_at: Timestamp;
}

export interface InsurancesTable {
  team_id: string;
  user_id: string;
  id: string;
  is_primary: boolean;
  data: ColumnType<Record<string, unknown>, string, string>;
  key_id: string | null;
  created_at: Timestamp;
}

// Mobile SDK sign-in (0004_auth_tokens.sql, docs/sign-in-tokens.md).
export interface AuthSigningKeysTable {
  kid: string;
  algorithm: 'RS256';
  public_key: string;
  private_key: string;
  created_at: Timestamp;
  retired_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface AuthSignInTokensTable {
  team_id: string;
  jti: string;
  user_id: string;
  kid: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface AuthSessionsTable {
  team_id: string;
  id: string;
  user_id: string;
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_reason: 'user_deleted' | 'refresh_token_reuse' | 'revoked' | null;
}

export interface AuthRefreshTokensTable {
  team_id: string;
  token_hash: Buffer;
  session_id: string;
  user_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  rotated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface ServerSecretsTable {
  name: string;
  value: Buffer;
  created_at: Timestamp;
  retired_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface PortalLinksTable {
  code: string;
  team_id: string;
  user_id: string;
  context: string;
  order_id: string | null;
  expires_at: Timestamp;
  created_at: Timestamp;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface PortalRevocationsTable {
  team_id: string;
  user_id: string;
  not_before: Timestamp;
}

// Per-team counters and Onvy sync state (0003_profile.sql).
export interface DataSyncsTable {
  team_id: string;
  user_id: string;
  provider: string;
  data_type: string;
  sync_type: string;
  status: string;
  updated_at: Timestamp;
}

export interface IdempotencyKeysTable {
  team_id: string;
  key: string;
  fingerprint: Buffer;
  response_status: number | null;
  response_headers: ColumnType<Record<string, string> | null, string | null, string | null>;
  response_body: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface AuditEventsTable {
  team_id: string;
  id: string;
  key_id: string | null;
  action: string;
  user_id: string | null;
  request_id: string;
  /** The client's own x-request-id, bounded (0014); request_id is always the server's. */
  client_request_id: string | null;
  status: number;
  at: Timestamp;
}

export interface Database {
  idempotency_keys: IdempotencyKeysTable;
  audit_events: AuditEventsTable;
  data_syncs: DataSyncsTable;
  server_secrets: ServerSecretsTable;
  portal_links: PortalLinksTable;
  portal_revocations: PortalRevocationsTable;
  devices: DevicesTable;
  demographics: DemographicsTable;
  insurances: InsurancesTable;
  teams: TeamsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  connections: ConnectionsTable;
  auth_signing_keys: AuthSigningKeysTable;
  auth_sign_in_tokens: AuthSignInTokensTable;
  auth_sessions: AuthSessionsTable;
  auth_refresh_tokens: AuthRefreshTokensTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type ConnectionRow = Selectable<ConnectionsTable>;
export type TeamRow = Selectable<TeamsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
