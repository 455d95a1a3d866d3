-- The basic face's numbers come from one sequence instead of a per-team counter row.
--
-- Why: the counter row (0003) was updated inside every create's transaction, so a team's creates
-- queued on that row's lock until each commit (the benchmark saw 8-17 sessions waiting on it and
-- creates capped near 1,000/s per team on every face). nextval() is not transactional: it takes
-- no row lock and is never held to commit. What the basic face promises still holds: numbers are
-- positive, unique (now across teams too), increasing in allocation order and never reused, even
-- after a delete or a rolled-back create (those leave gaps, as before). What changes: a team's
-- first user is no longer number 1, and numbers are not dense within a team.
-- Sharding note: on Citus a sequence default on a distributed table is allocated per node from
-- disjoint ranges, so this stays free of cross-node coordination.
create sequence users_basic_id_seq as bigint minvalue 1;
select setval('users_basic_id_seq', coalesce((select max(basic_id) from users), 0) + 1, false);
alter sequence users_basic_id_seq owned by users.basic_id;
alter table users alter column basic_id set default nextval('users_basic_id_seq');

drop trigger users_basic_id on users;
drop function users_assign_basic_id();
drop function roster_next_counter(uuid, text);
drop table team_counters;
