-- PDF invoices: the customer's postal address (accounts CSV, optional
-- columns), and the attachment kept with its outbox entry once made, so a
-- retry sends the identical file.
ALTER TABLE accounts ADD COLUMN address_line1 TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN address_line2 TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN city TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN postal_code TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN country TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN attachment_name TEXT;
ALTER TABLE outbox ADD COLUMN attachment BLOB;

-- Monthly statements of account: one per account and month, with the data
-- it was sent with (its email and PDF are made from it); a month whose
-- statements are all queued is recorded, so it is not worked out again.
CREATE TABLE statements (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    month       TEXT NOT NULL,              -- YYYY-MM
    data        TEXT NOT NULL,              -- JSON: what the templates were given
    created_at  TEXT NOT NULL,
    UNIQUE (account_id, month)
) STRICT;
CREATE TABLE statement_months (
    month       TEXT PRIMARY KEY,
    done_at     TEXT NOT NULL
) STRICT;
ALTER TABLE outbox ADD COLUMN statement_id INTEGER REFERENCES statements(id);
