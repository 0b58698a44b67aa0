-- The first connection to a mailbox folder: when it was, how many messages
-- already there were left for people, and the [imap] start date if one was
-- given (for `billmail status`).
ALTER TABLE imap_folders ADD COLUMN started_at TEXT;
ALTER TABLE imap_folders ADD COLUMN left_at_start INTEGER;
ALTER TABLE imap_folders ADD COLUMN start_since TEXT;
