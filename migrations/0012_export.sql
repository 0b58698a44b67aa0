-- Exports to the books (QuickBooks Online, Xero, QuickBooks Desktop IIF, a
-- journal). Each invoice line says what it bills, so the export can map it
-- to the accounting system's item and income account.
ALTER TABLE invoice_lines ADD COLUMN category TEXT NOT NULL DEFAULT ''
    CHECK (category IN ('', 'full_time', 'part_time', 'adjustment_full_time', 'adjustment_part_time', 'product', 'service'));

-- Lines issued before this migration, as their invoice's kind and their
-- place say: an agreement invoice is its full-time line, its part-time line,
-- then prorated adjustments (each naming its user type).
UPDATE invoice_lines SET category = CASE
    WHEN (SELECT kind FROM invoices WHERE id = invoice_id) = 'recurring' THEN 'product'
    WHEN (SELECT kind FROM invoices WHERE id = invoice_id) = 'service' THEN 'service'
    WHEN prorate_days IS NOT NULL AND description LIKE '% part-time user%' THEN 'adjustment_part_time'
    WHEN prorate_days IS NOT NULL THEN 'adjustment_full_time'
    WHEN position = 0 THEN 'full_time'
    ELSE 'part_time'
END;

-- A voided invoice: when and why (status 'void').
ALTER TABLE invoices ADD COLUMN voided_on TEXT;
ALTER TABLE invoices ADD COLUMN void_reason TEXT;

-- What each export format has written: a document (an invoice, the void of
-- one, a payment, a customer) goes out once per format, so `--since-last`
-- never exports it twice and a customer is listed only the first time.
CREATE TABLE exported (
    format       TEXT NOT NULL,
    document     TEXT NOT NULL CHECK (document IN ('invoice', 'void', 'payment', 'customer')),
    document_key TEXT NOT NULL,              -- the invoice's or payment's id, the account's id
    exported_at  TEXT NOT NULL,
    PRIMARY KEY (format, document, document_key)
) STRICT;
