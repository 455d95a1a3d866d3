-- Profile fields shared by the Onvy and basic faces (docs/faces.md): each lives once on the user
-- row, whichever face writes it. Onvy's `birthday` is Junction's fallback_birth_date (no second
-- birth date column); Onvy's `id` is client_user_id. Units are fixed: centimetres, kilograms,
-- seconds, degrees. Values are checked by src/domain/profiles.ts; the checks here are a backstop.

alter table users
  add column first_name        text,
  add column last_name         text,
  add column email             text,
  add column language          text,
  add column measurement_unit  text check (measurement_unit in ('metric', 'imperial')),
  add column gender            text check (gender in ('male', 'female', 'other')),
  add column height_cm         double precision,
  add column weight_kg         double precision,
  add column threshold_ftp     double precision,
  add column threshold_lthr    double precision,
  add column threshold_mhr     double precision,
  add column location_lat      double precision check (location_lat between -90 and 90),
  add column location_lon      double precision check (location_lon between -180 and 180),
  add column coach_enabled     boolean,
  add column tz_offset_seconds integer check (tz_offset_seconds between -43200 and 50400),
  -- The basic face's integer `userId`: per team, increasing, never reused (not even after a hard
  -- delete). Every user gets one whichever face created it, so a user that later gains the basic
  -- face's required fields already has its number.
  add column basic_id          bigint;

-- Per-team counters. No global sequence: a sequence is one hot object for every team and a
-- single point of contention when sharded by team_id. A row per (team, counter) is locked only by
-- concurrent creates of the same team, for the length of their transaction.
create table team_counters (
  team_id  uuid not null references teams (id),
  name     text not null,
  value    bigint not null,
  primary key (team_id, name)
);

create function roster_next_counter(p_team uuid, p_name text) returns bigint language sql as $$
  insert into team_counters (team_id, name, value) values (p_team, p_name, 1)
  on conflict (team_id, name) do update set value = team_counters.value + 1
  returning value
$$;

-- Users that exist already are numbered in creation order.
update users u set basic_id = n.rn
  from (select team_id, id, row_number() over (partition by team_id order by created_at, id) as rn from users) n
  where u.team_id = n.team_id and u.id = n.id;
insert into team_counters (team_id, name, value)
  select team_id, 'basic_user_id', max(basic_id) from users group by team_id;

-- Whatever inserts a user (any face, the CLI, an import) gets the next number in the same
-- transaction, unless it allocated one itself (the basic face does, to name the client id).
create function users_assign_basic_id() returns trigger language plpgsql as $$
begin
  if new.basic_id is null then
    new.basic_id := roster_next_counter(new.team_id, 'basic_user_id');
  end if;
  return new;
end $$;
create trigger users_basic_id before insert on users
  for each row execute function users_assign_basic_id();

alter table users alter column basic_id set not null;
create unique index users_basic_id on users (team_id, basic_id);

-- The basic face's contactEmail is unique per team, compared case-insensitively, among live users.
create unique index users_live_email on users (team_id, lower(email)) where deleted_at is null and email is not null;

-- Onvy's list order: created_at, then id (client_user_id) by code point; keyset pagination.
create index users_live_created_client on users (team_id, created_at, client_user_id collate "C") where deleted_at is null;

-- Onvy's data_syncs beyond what a connection row says: sync progress per (provider, data type,
-- sync type). Shown only while the provider's connection exists and only entries written since it
-- was made (docs/faces.md); removed with the user.
create table data_syncs (
  team_id     uuid not null,
  user_id     uuid not null,
  provider    text not null,     -- Junction provider slug, e.g. garmin (Onvy shows GARMIN)
  data_type   text not null,
  sync_type   text not null,
  status      text not null,
  updated_at  timestamptz not null,
  primary key (team_id, user_id, provider, data_type, sync_type),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);
