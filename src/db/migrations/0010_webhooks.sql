-- Outgoing webhooks (docs/webhooks.md): endpoints, the transactional outbox of events, one delivery
-- per (event, endpoint) with its rendered payload, and every HTTP attempt. All keyed by team first.
create table webhook_endpoints (
  team_id uuid not null references teams(id) on delete cascade,
  id uuid not null,
  format text not null check (format in ('junction', 'onvy', 'standard')),
  url text not null,
  description text not null default '',
  filter_types text[],
  headers jsonb not null default '{}',
  secret text not null,
  old_secrets jsonb not null default '[]',
  rate_limit integer check (rate_limit is null or rate_limit > 0),
  disabled boolean not null default false,
  disabled_reason text,
  first_failure_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (team_id, id)
);
-- Which teams have a live endpoint: each instance caches this set and reloads it on NOTIFY.
create index webhook_endpoints_live on webhook_endpoints (team_id) where not disabled;

-- The outbox: written in the change's own transaction, fanned out to deliveries by a dispatcher.
create table webhook_events (
  team_id uuid not null,
  id text not null,
  type text not null,
  user_id uuid,
  facts jsonb not null,
  occurred_at timestamptz not null,
  fanned_out_at timestamptz,
  primary key (team_id, id)
);
create index webhook_events_pending on webhook_events (occurred_at) where fanned_out_at is null;
create index webhook_events_occurred on webhook_events (team_id, occurred_at);

create table webhook_deliveries (
  team_id uuid not null,
  id uuid not null,
  event_id text not null,
  event_type text not null,
  user_id uuid,
  endpoint_id uuid not null,
  format text not null,
  batch_id text,
  payload text not null,
  status text not null check (status in ('pending', 'sending', 'success', 'failed', 'cancelled')),
  attempts smallint not null default 0,
  manual boolean not null default false,
  next_attempt_at timestamptz,
  locked_until timestamptz,
  last_status_code smallint,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  primary key (team_id, id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_sending on webhook_deliveries (locked_until) where status = 'sending';
create index webhook_deliveries_endpoint on webhook_deliveries (team_id, endpoint_id, created_at);
create index webhook_deliveries_batch on webhook_deliveries (team_id, batch_id) where batch_id is not null;
create index webhook_deliveries_created on webhook_deliveries (created_at);

create table webhook_attempts (
  team_id uuid not null,
  id uuid not null,
  delivery_id uuid not null,
  endpoint_id uuid not null,
  attempt smallint not null,
  trigger text not null check (trigger in ('scheduled', 'manual')),
  started_at timestamptz not null,
  duration_ms integer not null,
  status_code smallint not null,
  error text,
  response_excerpt text,
  primary key (team_id, id)
);
create index webhook_attempts_delivery on webhook_attempts (team_id, delivery_id);
create index webhook_attempts_endpoint on webhook_attempts (team_id, endpoint_id, started_at);
create index webhook_attempts_started on webhook_attempts (started_at);
