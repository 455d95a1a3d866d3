-- Devices, demographics and insurance: the per-user records of Junction's user surface.
-- Demographics and insurance are append-only (health records are audited): every write is a new
-- version with who (key id) and when; "latest" reads the newest.

create table devices (
  team_id       uuid not null,
  user_id       uuid not null,
  id            uuid not null,
  provider      text not null,
  source_type   text not null,
  app_id        text,
  manufacturer  text,
  model         text,
  version       text,
  device_id     text,
  created_at    timestamptz not null,
  primary key (team_id, user_id, id),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
-- One demo device per (user, provider): repeated demo connections add nothing.
create unique index devices_provider_device on devices (team_id, user_id, provider, device_id);

create table demographics (
  team_id     uuid not null,
  user_id     uuid not null,
  id          uuid not null,
  data        jsonb not null,
  key_id      uuid,
  created_at  timestamptz not null,
  primary key (team_id, user_id, id),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
create index demographics_latest on demographics (team_id, user_id, created_at desc, id desc);

create table insurances (
  team_id     uuid not null,
  user_id     uuid not null,
  id          uuid not null,
  is_primary  boolean not null,
  data        jsonb not null,
  key_id      uuid,
  created_at  timestamptz not null,
  primary key (team_id, user_id, id),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
create index insurances_latest on insurances (team_id, user_id, is_primary, created_at desc, id desc);
