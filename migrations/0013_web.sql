-- The web console (`[web]`): its users, their sessions, and every login
-- attempt (for the rate limit and for the on-call admin to read).
CREATE TABLE web_users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'clerk', 'admin')),
    password_hash TEXT NOT NULL,             -- argon2id, PHC string
    created_at    TEXT NOT NULL
) STRICT;

-- A session is known by the SHA-256 of its cookie: the database never holds
-- a token that would let its reader log in.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES web_users(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;

CREATE TABLE web_logins (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    user_name TEXT NOT NULL,
    remote    TEXT NOT NULL,
    ok        INTEGER NOT NULL CHECK (ok IN (0, 1))
) STRICT;
CREATE INDEX web_logins_by_time ON web_logins(at);

-- Who decided a review item: a console user's name, or `cli` for the
-- command line.
ALTER TABLE review_items ADD COLUMN decided_by TEXT;

-- The console's invoice list, newest first, a page at a time.
CREATE INDEX invoices_by_issue ON invoices(issued_on, id);
