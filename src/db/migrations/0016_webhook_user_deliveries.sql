-- A user's page in the console lists its webhook deliveries (docs/console.md): per endpoint, the
-- newest deliveries naming the user. Without this, each endpoint's deliveries are scanned newest
-- first until enough of that user's turn up (all of them, for a user with none). Also serves the
-- admin API's and the endpoint page's `user_id` filter.
create index webhook_deliveries_user on webhook_deliveries (team_id, user_id, endpoint_id, id) where user_id is not null;
