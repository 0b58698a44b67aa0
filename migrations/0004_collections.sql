-- Collections: which reminder stage was sent for which invoice.
CREATE TABLE reminders (
    invoice_id INTEGER NOT NULL REFERENCES invoices(id),
    stage      INTEGER NOT NULL,
    sent_at    TEXT NOT NULL,
    PRIMARY KEY (invoice_id, stage)
) STRICT;
