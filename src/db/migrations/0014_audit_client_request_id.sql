-- Security review S5: the audit entry's request_id is always the server's own id; a client-chosen
-- x-request-id is kept apart, here, and only in its bounded form (1-128 of [A-Za-z0-9_.:-]; the
-- server drops anything else before storing). NOT VALID: existing rows hold NULL, and no scan of a
-- large audit table is needed for the check to hold for every new row.
alter table audit_events add column client_request_id text;
alter table audit_events add constraint audit_events_client_request_id_bounded
  check (client_request_id ~ '^[A-Za-z0-9_.:-]{1,128}$') not valid;
