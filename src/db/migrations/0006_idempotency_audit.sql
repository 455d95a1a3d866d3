-- Idempotency keys: one row per (team, key), written in the same transaction as the change it
-- protects, holding the first response for replays. Kept 24 hours.
create table idempotency_keys (
  team_id          uuid not null,
  key              text not null,
  fingerprint      bytea not null,
  response_status  integer,
  response_headers jsonb,
  response_body    text,
  created_at       timestamptz not null,
  expires_at       timestamptz not null,
  primary key (team_id, key)
);
create index idempotency_keys_expiry on idempotency_keys (expires_at);

-- Audit trail of every mutation on every face: who (key), what (action), which user, which
-- request, when. Never health values.
create table audit_events (
  team_id     uuid not null,
  id          uuid not null,
  key_id      uuid,
  action      text not null,
  user_id     text,
  request_id  text not null,
  status      integer not null,
  at          timestamptz not null,
  primary key (team_id, id)
);
create index audit_events_team_at on audit_events (team_id, at desc, id desc);
