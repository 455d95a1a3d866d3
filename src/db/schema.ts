// Kysely's view of the tables created by src/db/migrations. Keep in step with the SQL files.
import type { ColumnType, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date, Date>;

export interface TeamsTable {
  id: string;
  name: string;
  mode: 'sandbox' | 'production';
  created_at: Timestamp;
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

export interface Database {
  teams: TeamsTable;
  api_keys: ApiKeysTable;
  users: UsersTable;
  connections: ConnectionsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type ConnectionRow = Selectable<ConnectionsTable>;
export type TeamRow = Selectable<TeamsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
