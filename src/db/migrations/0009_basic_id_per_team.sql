-- Users are numbered per team (the basic face's `userId`), each team from its own sequence.
--
-- Why: 0008's one sequence for every team let a tenant learn how many users all other tenants
-- created between two of its own creates (security review C12). A per-team counter row would put
-- that right but serialise each team's creates on the row's lock until commit (0008 says why).
-- A sequence per team takes no row lock and is never held to commit: nextval() is not
-- transactional. What holds: numbers are positive, unique within the team, increasing in
-- allocation order and never reused, even after a delete or a rolled-back create (those leave
-- gaps). A new team's first user is number 1.
--
-- The sequence of a team is `users_basic_id_<team id as 32 hex digits>`, created with the team
-- (teams_basic_id_seq below) or, for a team without one (a restore loads rows with triggers off),
-- on first use, starting after the team's highest number. It is derived state: backups leave it
-- out and a restore's truncate of `users` drops them all, so a restored database numbers on from
-- the restored rows.

-- The team's sequence, created if missing. Creation is serialised per team by an advisory lock,
-- and the catalog is read again under it (a plain query: a fresh snapshot sees a concurrent
-- creator's commit).
create function roster_basic_id_seq(team uuid) returns regclass language plpgsql as $$
declare
  name text := 'users_basic_id_' || replace(team::text, '-', '');
  seq regclass := to_regclass(name);
begin
  if seq is null then
    perform pg_advisory_xact_lock(hashtextextended('users_basic_id_seq:' || team::text, 0));
    select c.oid::regclass into seq from pg_class c
     where c.relname = name and c.relkind = 'S' and c.relnamespace = (select n.oid from pg_namespace n where n.nspname = current_schema());
    if seq is null then
      execute format('create sequence %I as bigint minvalue 1 start with %s', name,
        (select coalesce(max(basic_id), 0) + 1 from users where team_id = team));
      seq := to_regclass(name);
    end if;
  end if;
  return seq;
end $$;

-- The team's next number.
create function roster_next_basic_id(team uuid) returns bigint language sql volatile as $$
  select nextval(roster_basic_id_seq(team))
$$;

-- Every insert that leaves basic_id out is numbered from its team's sequence.
create function users_assign_basic_id() returns trigger language plpgsql as $$
begin
  if new.basic_id is null then
    new.basic_id := nextval(coalesce(to_regclass('users_basic_id_' || replace(new.team_id::text, '-', '')), roster_basic_id_seq(new.team_id)));
  end if;
  return new;
end $$;

alter table users alter column basic_id drop default;
create trigger users_basic_id before insert on users for each row execute function users_assign_basic_id();

-- A new team gets its sequence with it (no first-create race).
create function teams_create_basic_id_seq() returns trigger language plpgsql as $$
begin
  perform roster_basic_id_seq(new.id);
  return null;
end $$;
create trigger teams_basic_id_seq after insert on teams for each row execute function teams_create_basic_id_seq();

-- Emptying `users` (a restore does, before loading) drops the sequences: they follow the rows.
create function users_drop_basic_id_seqs() returns trigger language plpgsql as $$
declare
  s record;
begin
  for s in select c.relname from pg_class c
            where c.relkind = 'S' and c.relnamespace = (select n.oid from pg_namespace n where n.nspname = tg_table_schema) and c.relname ~ '^users_basic_id_[0-9a-f]{32}$'
  loop
    execute format('drop sequence %I.%I', tg_table_schema, s.relname);
  end loop;
  return null;
end $$;
create trigger users_truncate_basic_id_seqs after truncate on users for each statement execute function users_drop_basic_id_seqs();

-- Existing teams go on after every number 0008's shared sequence gave out, so no number a team
-- ever showed (its deleted users' included) comes back.
do $$
declare
  t record;
  start bigint := (select case when is_called then last_value + 1 else last_value end from users_basic_id_seq);
begin
  for t in select id from teams loop
    execute format('create sequence %I as bigint minvalue 1 start with %s', 'users_basic_id_' || replace(t.id::text, '-', ''), start);
  end loop;
end $$;

drop sequence users_basic_id_seq;
