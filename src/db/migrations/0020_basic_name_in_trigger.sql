-- A user inserted without a client id (the basic face's create) is named after its number,
-- `basic:<n>`, by the trigger that numbers it, in the insert itself.
--
-- Why: the basic face's create took the team's next number in one statement and inserted the user
-- named after it in a second one, each its own round trip and commit, and could not join the
-- grouped creates (src/store/users/create-group.ts), whose rows all go in one statement. With the
-- name given here, such a row is one more member of a group: one statement for the group, the
-- number and the name from the same nextval().
--
-- Nothing else changes: numbers still come from the team's own sequence (0009); a row that arrives
-- with a client id keeps it; the conflict rule (one live user per client id) is checked after this
-- trigger, on the name it gave. A generated name that a live user already holds (someone chose
-- `basic:57` as a client id through another face) is a conflict like any other: the store settles
-- that create alone, on its next number (src/store/users/repo.ts).
create or replace function users_assign_basic_id() returns trigger language plpgsql as $$
begin
  if new.basic_id is null then
    new.basic_id := nextval(coalesce(to_regclass('users_basic_id_' || replace(new.team_id::text, '-', '')), roster_basic_id_seq(new.team_id)));
  end if;
  if new.client_user_id is null then
    new.client_user_id := 'basic:' || new.basic_id;
  end if;
  return new;
end $$;
