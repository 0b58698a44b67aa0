-- Collections: which reminder stage was sent for which invoice.
CREATE TABLE reminders (
    invoice_id INTEGER NOT NULL REFERENCES invoices(id),
    stage      INTEGER NOT NULL,
    sent_at    TEXT NOT NULL,
    PRIMARY KEY (invoice_id, stage)
) STRICT;

-- Threading lookups: the latest notice to an account, an invoice's own mail.
CREATE INDEX outbox_by_account ON outbox(account_id, id);
CREATE INDEX outbox_by_invoice ON outbox(invoice_id);
