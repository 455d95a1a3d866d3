-- Webhooks, the rest of issue 12 (docs/webhooks.md):
-- * rate_limit is enforced across instances with a fixed one-second window per endpoint: the
--   window (unix seconds) and the requests already granted in it, updated under the endpoint's row
--   lock by the dispatcher that claims.
alter table webhook_endpoints add column rate_window bigint, add column rate_used integer not null default 0;

-- * A delivery that made the operator's operational webhook send message.attempt.failing or
--   message.attempt.exhausted, so that its later success sends message.attempt.recovered.
alter table webhook_deliveries add column alerted boolean not null default false;

-- * The operational webhooks (ROSTER_OPERATIONAL_WEBHOOK_URL): written in the same transaction as
--   the attempt that caused them, sent by any instance's dispatcher (at least once), retried on the
--   webhook schedule.
create table webhook_operational (
  id text primary key,                                -- msg_<ULID>: the webhook-id
  type text not null,
  payload text not null,
  status text not null check (status in ('pending', 'sending', 'success', 'failed')),
  attempts smallint not null default 0,
  next_attempt_at timestamptz,
  locked_until timestamptz,
  last_status_code smallint,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create index webhook_operational_due on webhook_operational (next_attempt_at) where status in ('pending', 'sending');
create index webhook_operational_created on webhook_operational (created_at);
