-- A sender claims a queued message before it sends it: until lease_until
-- (the machine's clock) no other sender may take that row.
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
