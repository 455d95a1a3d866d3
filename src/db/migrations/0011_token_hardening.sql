-- Issue 15, mobile tokens and portal links (docs/sign-in-tokens.md, docs/portal.md).

-- S2: portal secrets rotate. Rows named 'portal_signing_v1' (the first) and
-- 'portal_signing_v1.<n>' (rotations); the newest signs, each verifies until retired_at (a
-- rotation sets it in the future: the grace period in which links signed with it still open).
alter table server_secrets add column retired_at timestamptz;

-- C9: a stored (communications) link can be revoked on its own ...
alter table portal_links add column revoked_at timestamptz;

-- ... and every link of a user issued up to `not_before` is refused: launch links are stateless
-- (signed), so they are checked against this time. Deleting a user sets it in the delete's own
-- transaction, so an undo does not bring the links back; an admin can set it too.
create table portal_revocations (
  team_id     uuid not null,
  user_id     uuid not null,
  not_before  timestamptz not null,
  primary key (team_id, user_id),
  foreign key (team_id, user_id) references users (team_id, id) on delete cascade
);

create function portal_on_user_deleted() returns trigger language plpgsql as $$
begin
  insert into portal_revocations (team_id, user_id, not_before) values (new.team_id, new.id, new.deleted_at)
    on conflict (team_id, user_id) do update set not_before = greatest(portal_revocations.not_before, excluded.not_before);
  update portal_links set revoked_at = new.deleted_at
    where team_id = new.team_id and user_id = new.id and revoked_at is null;
  return null;
end $$;

create trigger portal_user_deleted
  after update of deleted_at on users
  for each row when (old.deleted_at is null and new.deleted_at is not null)
  execute function portal_on_user_deleted();
