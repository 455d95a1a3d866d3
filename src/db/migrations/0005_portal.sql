-- Secrets shared by every instance (e.g. the key that signs portal links), made once on first use.
create table server_secrets (
  name        text primary key,
  value       bytea not null,
  created_at  timestamptz not null
);

-- Short portal links (the `communications` context: a URL short enough for an e-mail or SMS).
create table portal_links (
  code        text primary key,
  team_id     uuid not null,
  user_id     uuid not null,
  context     text not null,
  order_id    uuid,
  expires_at  timestamptz not null,
  created_at  timestamptz not null,
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
create index portal_links_user on portal_links (team_id, user_id);
