-- What makes a bank notice the same payment as another (its reference and
-- amount, or a digest of what it says): a second notice is a duplicate.
ALTER TABLE payments ADD COLUMN identity TEXT;
CREATE INDEX payments_identity ON payments(identity);
