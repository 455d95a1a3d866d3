-- The operators' console (docs/console.md, issue 13).
--
-- Sessions: the cookie holds 32 random bytes; only their SHA-256 is stored, so a copy of this table
-- signs nobody in. scope is 'admin' (the console's only scope today). Idle and absolute expiry are
-- checked on every request; sign-out deletes the row.
create table console_sessions (
  id_hash       bytea primary key,
  csrf_token    text not null,
  scope         text not null default 'admin',
  created_at    timestamptz not null,
  last_seen_at  timestamptz not null,
  expires_at    timestamptz not null
);
create index console_sessions_expires on console_sessions (expires_at);

-- One-time sign-in links printed in the start banner when no ROSTER_ADMIN_TOKEN is set and Roster
-- listens on loopback: single use, short-lived, stored hashed.
create table console_sign_in_links (
  hash        bytea primary key,
  created_at  timestamptz not null,
  expires_at  timestamptz not null,
  used_at     timestamptz
);

-- The users page: prefix search on client_user_id (byte order, so `>= p and < p || U+10FFFF` is a
-- prefix range) across live and deleted users, without scanning the team.
create index users_client_prefix on users (team_id, (client_user_id collate "C"));
-- Deleted users awaiting undo, newest deletion first (keyset on (deleted_at, id)).
create index users_deleted_at on users (team_id, deleted_at desc, id desc) where deleted_at is not null;
-- A user's page lists its audit entries: without this, a team-wide scan of audit_events.
create index audit_events_team_user on audit_events (team_id, user_id, at desc) where user_id is not null;
