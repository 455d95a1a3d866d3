-- Per-team request limit (requests per minute per API key); null = the server default.
alter table teams add column rate_limit_per_minute integer check (rate_limit_per_minute is null or rate_limit_per_minute > 0);
