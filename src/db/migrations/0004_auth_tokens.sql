-- Mobile SDK sign-in (docs/sign-in-tokens.md): signing keys, single-use sign-in tokens, sessions
-- and their rotating refresh tokens. Tenant tables lead with team_id; timestamps come from the
-- application (the trigger below copies the one the application wrote into users.deleted_at).

-- RS256 keys Roster generates itself on first need. The newest key that is not retired signs;
-- every key that is not retired verifies (rotation: add a key, retire the old one later).
-- Small and read through a per-instance cache: a reference table when sharded.
create table auth_signing_keys (
  kid          text primary key,
  algorithm    text not null check (algorithm = 'RS256'),
  public_key   text not null,          -- SPKI, PEM
  private_key  text not null,          -- PKCS#8, PEM
  created_at   timestamptz not null,
  retired_at   timestamptz
);
create index auth_signing_keys_active on auth_signing_keys (created_at desc) where retired_at is null;

-- One row per issued sign-in token (the JWT's jti): single use, short-lived.
create table auth_sign_in_tokens (
  team_id     uuid not null,
  jti         uuid not null,
  user_id     uuid not null,
  kid         text not null,
  created_at  timestamptz not null,
  expires_at  timestamptz not null,
  used_at     timestamptz,
  revoked_at  timestamptz,
  primary key (team_id, jti),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
create index auth_sign_in_tokens_user on auth_sign_in_tokens (team_id, user_id);
create index auth_sign_in_tokens_expires on auth_sign_in_tokens (expires_at);

-- One row per successful exchange: the family of refresh tokens that descend from it.
create table auth_sessions (
  team_id         uuid not null,
  id              uuid not null,
  user_id         uuid not null,
  created_at      timestamptz not null,
  revoked_at      timestamptz,
  revoked_reason  text check (revoked_reason in ('user_deleted', 'refresh_token_reuse', 'revoked')),
  primary key (team_id, id),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
create index auth_sessions_user on auth_sessions (team_id, user_id);

-- Refresh tokens, stored as SHA-256 of the token. Rotated on every use: the used one gets
-- rotated_at and stops working; presenting it again revokes the whole session (reuse detection).
create table auth_refresh_tokens (
  team_id     uuid not null,
  token_hash  bytea not null,
  session_id  uuid not null,
  user_id     uuid not null,
  created_at  timestamptz not null,
  expires_at  timestamptz not null,
  rotated_at  timestamptz,
  primary key (team_id, token_hash),
  foreign key (team_id, session_id) references auth_sessions (team_id, id) on delete cascade
);
create index auth_refresh_tokens_session on auth_refresh_tokens (team_id, session_id);
create index auth_refresh_tokens_expires on auth_refresh_tokens (expires_at);

-- Deleting a user (users.deleted_at going from null to a time, whoever does it) ends every token
-- of that user in the same transaction, so an undo does not bring them back (like connections).
create function auth_tokens_on_user_deleted() returns trigger language plpgsql as $$
begin
  update auth_sessions set revoked_at = new.deleted_at, revoked_reason = 'user_deleted'
    where team_id = new.team_id and user_id = new.id and revoked_at is null;
  update auth_sign_in_tokens set revoked_at = new.deleted_at
    where team_id = new.team_id and user_id = new.id and revoked_at is null and used_at is null;
  return null;
end $$;

create trigger auth_tokens_user_deleted
  after update of deleted_at on users
  for each row when (old.deleted_at is null and new.deleted_at is not null)
  execute function auth_tokens_on_user_deleted();
