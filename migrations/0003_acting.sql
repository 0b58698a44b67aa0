-- Acting on mail: customers' payment claims (never money), and where a
-- payment came from.

CREATE TABLE claims (
    id              INTEGER PRIMARY KEY,
    account_id      TEXT REFERENCES accounts(id),
    message_id      INTEGER NOT NULL REFERENCES messages(id),
    amount_cents    INTEGER,
    currency        TEXT,
    method          TEXT NOT NULL,
    reference       TEXT,
    invoice_numbers TEXT NOT NULL,          -- JSON array
    claimed_on      TEXT NOT NULL,          -- local date the claim arrived
    created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX claims_by_account ON claims(account_id, claimed_on);

ALTER TABLE payments ADD COLUMN message_id INTEGER REFERENCES messages(id);
CREATE INDEX payments_by_reference ON payments(account_id, reference, amount_cents);
