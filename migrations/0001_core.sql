-- The billing core. Money is integer cents with its currency beside it;
-- instants are RFC 3339 UTC text; local dates are YYYY-MM-DD.

CREATE TABLE accounts (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    tier                 TEXT NOT NULL,
    full_time_rate_cents INTEGER,            -- NULL: the tier's rate
    part_time_rate_cents INTEGER,
    start_date           TEXT,               -- as imported, YYYY-MM-DD
    first_period         TEXT NOT NULL,      -- YYYY-MM, the first agreement month billed
    status               TEXT NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'credit_hold', 'service_hold')),
    status_since         TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;

CREATE TABLE contacts (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('billing', 'authorized')),
    position    INTEGER NOT NULL,
    bounced_at  TEXT,
    PRIMARY KEY (account_id, email, role)
) STRICT;
CREATE INDEX contacts_by_email ON contacts(email);

CREATE TABLE payer_names (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
) STRICT;

CREATE TABLE named_users (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    user_type  TEXT NOT NULL CHECK (user_type IN ('full_time', 'part_time')),
    PRIMARY KEY (account_id, name)
) STRICT;

-- Every change of user counts, as a signed delta effective on a local date.
CREATE TABLE count_changes (
    id                   INTEGER PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    effective_date       TEXT NOT NULL,
    delta_full_time      INTEGER NOT NULL,
    delta_part_time      INTEGER NOT NULL,
    full_time_after      INTEGER NOT NULL,   -- counts in force on effective_date, as recorded
    part_time_after      INTEGER NOT NULL,
    source               TEXT NOT NULL,      -- import | email | review | manual
    reason               TEXT NOT NULL,
    recorded_at          TEXT NOT NULL,
    accounted_invoice_id INTEGER REFERENCES invoices(id)
) STRICT;
CREATE INDEX count_changes_by_account ON count_changes(account_id, effective_date);

CREATE TABLE subscriptions (
    id          INTEGER PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    product     TEXT NOT NULL,
    UNIQUE (account_id, product)
) STRICT;

CREATE TABLE subscription_versions (
    id               INTEGER PRIMARY KEY,
    subscription_id  INTEGER NOT NULL REFERENCES subscriptions(id),
    quantity         INTEGER NOT NULL CHECK (quantity >= 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    currency         TEXT NOT NULL,
    effective_at     TEXT NOT NULL,          -- company-local YYYY-MM-DDTHH:MM:SS
    recorded_at      TEXT NOT NULL
) STRICT;

CREATE TABLE service_entries (
    id           INTEGER PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    work_date    TEXT NOT NULL,
    engineer     TEXT NOT NULL,
    hours        TEXT NOT NULL,              -- decimal, at most two places
    rate_cents   INTEGER NOT NULL CHECK (rate_cents >= 0),
    currency     TEXT NOT NULL,
    description  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,              -- company-local YYYY-MM-DDTHH:MM:SS
    invoice_id   INTEGER REFERENCES invoices(id),
    override_hold INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE invoices (
    id                   INTEGER PRIMARY KEY,
    number               TEXT NOT NULL UNIQUE,
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    kind                 TEXT NOT NULL CHECK (kind IN ('agreement', 'recurring', 'service')),
    period               TEXT NOT NULL,
    issued_on            TEXT NOT NULL,
    due_on               TEXT NOT NULL,
    currency             TEXT NOT NULL,
    total_cents          INTEGER NOT NULL,
    credit_applied_cents INTEGER NOT NULL DEFAULT 0,
    full_time_users      INTEGER,
    part_time_users      INTEGER,
    tier_label           TEXT,
    named_users          TEXT NOT NULL DEFAULT '',  -- snapshot: one 'name<TAB>user_type' per line
    status               TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'void')),
    created_at           TEXT NOT NULL,
    UNIQUE (account_id, kind, period)
) STRICT;
CREATE INDEX invoices_by_account ON invoices(account_id, issued_on);

CREATE TABLE invoice_lines (
    invoice_id       INTEGER NOT NULL REFERENCES invoices(id),
    position         INTEGER NOT NULL,
    description      TEXT NOT NULL,
    quantity         TEXT NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    prorate_days     INTEGER,
    prorate_of_days  INTEGER,
    amount_cents     INTEGER NOT NULL,
    PRIMARY KEY (invoice_id, position)
) STRICT;

-- Gapless invoice numbers: one counter per year, bumped in the issuing transaction.
CREATE TABLE invoice_sequences (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
) STRICT;

CREATE TABLE payments (
    id           INTEGER PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    currency     TEXT NOT NULL,
    method       TEXT NOT NULL CHECK (method IN ('ach', 'wire', 'check', 'card', 'unknown')),
    reference    TEXT,
    source       TEXT NOT NULL,              -- manual | bank_notice
    received_on  TEXT NOT NULL,              -- local date
    recorded_at  TEXT NOT NULL
) STRICT;

-- Money from a payment applied to an invoice; what is not applied is credit.
CREATE TABLE allocations (
    id           INTEGER PRIMARY KEY,
    payment_id   INTEGER NOT NULL REFERENCES payments(id),
    invoice_id   INTEGER NOT NULL REFERENCES invoices(id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX allocations_by_invoice ON allocations(invoice_id);
CREATE INDEX allocations_by_payment ON allocations(payment_id);

-- Every outgoing message, fully rendered, before it is sent.
CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL,
    account_id     TEXT REFERENCES accounts(id),
    invoice_id     INTEGER REFERENCES invoices(id),
    to_addrs       TEXT NOT NULL,            -- comma-separated
    cc_addrs       TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL,
    body_text      TEXT NOT NULL,
    body_html      TEXT NOT NULL,
    message_id     TEXT NOT NULL UNIQUE,
    in_reply_to    TEXT,
    references_hdr TEXT,
    state          TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error     TEXT,
    created_at     TEXT NOT NULL,
    sent_at        TEXT
) STRICT;
CREATE INDEX outbox_by_state ON outbox(state, next_attempt_at);

-- What happened to an account, for `accounts history`.
CREATE TABLE history (
    id         INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL
) STRICT;
CREATE INDEX history_by_account ON history(account_id, id);
