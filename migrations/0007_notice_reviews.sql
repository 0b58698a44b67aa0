-- A review item may be about one of billmail's own notices instead of a
-- received message: one it could send only to accounting, every billing
-- address of the account having bounced. It then names the outbox message.
CREATE TABLE review_items_new (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER REFERENCES messages(id),
    outbox_id       INTEGER REFERENCES outbox(id),
    kind            TEXT NOT NULL,
    from_addr       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    reasons         TEXT NOT NULL,          -- JSON array of strings
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'approved', 'rejected')),
    decided_at      TEXT,
    decision_reason TEXT,
    created_at      TEXT NOT NULL,
    CHECK ((message_id IS NULL) <> (outbox_id IS NULL))
) STRICT;
INSERT INTO review_items_new (id, message_id, kind, from_addr, subject, reasons, state, decided_at, decision_reason, created_at)
    SELECT id, message_id, kind, from_addr, subject, reasons, state, decided_at, decision_reason, created_at FROM review_items;
DROP TABLE review_items;
ALTER TABLE review_items_new RENAME TO review_items;
