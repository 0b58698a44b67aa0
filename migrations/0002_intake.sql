-- Mail taken in: every raw message is stored, once, before anything is done
-- with it; where it went in the mailbox is recorded after the move.

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    dedupe_key   TEXT NOT NULL UNIQUE,      -- the Message-ID, or sha256 of the bytes when there is none
    message_id   TEXT,
    source       TEXT NOT NULL CHECK (source IN ('imap', 'ingest')),
    folder       TEXT,
    uidvalidity  INTEGER,
    uid          INTEGER,
    raw          BLOB NOT NULL,
    from_addr    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    confidence   TEXT NOT NULL,
    reading      TEXT NOT NULL,             -- the Reading as JSON, or the error
    disposition  TEXT NOT NULL CHECK (disposition IN ('processed', 'review', 'left')),
    received_at  TEXT NOT NULL,
    moved_to     TEXT                       -- NULL until moved (or when it stays)
) STRICT;
CREATE INDEX messages_pending_move ON messages(disposition, moved_to);

-- Messages a person must decide.
CREATE TABLE review_items (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages(id),
    kind            TEXT NOT NULL,
    from_addr       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    reasons         TEXT NOT NULL,          -- JSON array of strings
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'approved', 'rejected')),
    decided_at      TEXT,
    decision_reason TEXT,
    created_at      TEXT NOT NULL
) STRICT;

-- Per folder: its UIDVALIDITY and the highest UID already taken in.
CREATE TABLE imap_folders (
    folder        TEXT PRIMARY KEY,
    uidvalidity   INTEGER NOT NULL,
    last_seen_uid INTEGER NOT NULL
) STRICT;
