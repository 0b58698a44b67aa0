-- Intake counts the automatic answers sent to a sender today before it
-- answers again: a range of today's rows of those kinds, not a scan of
-- every message ever sent (intake of 5,000 messages into a growing outbox
-- scanned it once per message).
CREATE INDEX outbox_answers ON outbox(kind, created_at);
