-- The team's live-user count, kept beside the users (issue 16, lists): every Junction list returns
-- `total`, exactly, and counting it was the larger part of a list's SQL (an index-only scan of the
-- team's entries in users_live_team: ~400 µs of PostgreSQL CPU at 10,000 users, growing with the
-- team, against ~300 µs for the page itself; docs/benchmark.md, 2026-12-08 session 2).
--
-- Exactness: triggers on `users` change the count in the same statement as the rows (insert,
-- delete, a change of deleted_at or team), so a snapshot that sees the rows sees their count, and
-- no code path can forget it (creates, grouped creates, bulk import, soft delete, undo, purge,
-- hard delete). The count of a team is the sum of its slots: each backend adds to its own slot
-- (its pid modulo 64), so concurrent writers of one team do not queue on one row; a slot may go
-- negative, only the sum means anything. `roster restore` loads rows with user triggers off and the
-- slots with them (a backup from before this migration is counted by it after the load).
create table team_live_counts (
  team_id uuid not null,
  slot smallint not null,
  n bigint not null,
  primary key (team_id, slot)
);

-- Serialise with writers while the count is taken, so no change falls between the count and the
-- triggers (a migration holds its lock for the rest of its transaction).
lock table users in share row exclusive mode;

insert into team_live_counts (team_id, slot, n)
  select team_id, 0, count(*) from users where deleted_at is null group by team_id;

create function users_live_counts_rows() returns trigger language plpgsql as $$
begin
  -- One upsert per team touched by the statement (a grouped create or a bulk load is one).
  if tg_op = 'INSERT' then
    insert into team_live_counts as c (team_id, slot, n)
      select team_id, pg_backend_pid() % 64, count(*) from new_rows where deleted_at is null group by team_id
      on conflict (team_id, slot) do update set n = c.n + excluded.n;
  else
    insert into team_live_counts as c (team_id, slot, n)
      select team_id, pg_backend_pid() % 64, -count(*) from old_rows where deleted_at is null group by team_id
      on conflict (team_id, slot) do update set n = c.n + excluded.n;
  end if;
  return null;
end $$;

create trigger users_live_count_insert after insert on users referencing new table as new_rows
  for each statement execute function users_live_counts_rows();
create trigger users_live_count_delete after delete on users referencing old table as old_rows
  for each statement execute function users_live_counts_rows();

-- Updates: per row, and only when liveness or the team changes (soft delete, undo): a patch of a
-- user's fields does not call the function at all.
create function users_live_counts_update() returns trigger language plpgsql as $$
begin
  if old.deleted_at is null then
    insert into team_live_counts as c (team_id, slot, n) values (old.team_id, pg_backend_pid() % 64, -1)
      on conflict (team_id, slot) do update set n = c.n - 1;
  end if;
  if new.deleted_at is null then
    insert into team_live_counts as c (team_id, slot, n) values (new.team_id, pg_backend_pid() % 64, 1)
      on conflict (team_id, slot) do update set n = c.n + 1;
  end if;
  return null;
end $$;

create trigger users_live_count_update after update of deleted_at, team_id on users
  for each row when ((old.deleted_at is null) <> (new.deleted_at is null) or old.team_id <> new.team_id)
  execute function users_live_counts_update();
