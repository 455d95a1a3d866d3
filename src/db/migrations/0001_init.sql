-- Roster schema, version 1.
-- Scale-out rules (docs/scaling.md): every tenant table leads its keys with team_id (the future
-- distribution column); ids are UUIDs made in the application; no sequences; timestamps are written
-- by the application, never defaulted by the database, so every instance agrees on one clock source
-- per request.

create table teams (
  id          uuid primary key,
  name        text not null,
  mode        text not null check (mode in ('sandbox', 'production')),
  created_at  timestamptz not null
);

-- Small and read by hash on every request (through a cache): a reference table when sharded.
create table api_keys (
  id          uuid primary key,
  team_id     uuid not null references teams (id),
  hash        bytea not null,
  prefix      text not null,
  role        text not null check (role in ('full', 'read_only')),
  created_at  timestamptz not null,
  revoked_at  timestamptz
);
create unique index api_keys_hash on api_keys (hash);
create index api_keys_team on api_keys (team_id);

create table users (
  team_id                        uuid not null references teams (id),
  id                             uuid not null,
  client_user_id                 text not null,
  created_at                     timestamptz not null,
  updated_at                     timestamptz not null,
  deleted_at                     timestamptz,
  fallback_time_zone             text,
  fallback_time_zone_source      text,
  fallback_time_zone_updated_at  timestamptz,
  fallback_birth_date            date,
  fallback_birth_date_source     text,
  fallback_birth_date_updated_at timestamptz,
  ingestion_start                date,
  ingestion_end                  date,
  primary key (team_id, id)
);
-- The database, not a read-then-insert, keeps client_user_id unique among a team's live users.
create unique index users_live_client_user_id on users (team_id, client_user_id) where deleted_at is null;
-- Listing order of GET /v2/user: newest first, ties by id.
create index users_live_created on users (team_id, created_at desc, id desc) where deleted_at is null;
-- Undo by client_user_id and the purge sweep look at soft-deleted users only.
create index users_deleted on users (team_id, client_user_id, deleted_at desc) where deleted_at is not null;

create table connections (
  team_id         uuid not null,
  user_id         uuid not null,
  provider        text not null,
  id              uuid not null,
  status          text not null check (status in ('connected', 'error')),
  external_user_id text,
  error_type      text,
  error_message   text,
  errored_at      timestamptz,
  resources       jsonb not null default '{}'::jsonb,
  demo            boolean not null default false,
  created_at      timestamptz not null,
  primary key (team_id, user_id, provider),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
create index connections_team_created on connections (team_id, created_at);
