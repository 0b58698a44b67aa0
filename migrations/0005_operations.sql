-- What billmail last did, for `billmail status`: the latest of each kind of
-- event (a mailbox check, a finished cycle, an error), replaced each time.
CREATE TABLE run_events (
    event   TEXT PRIMARY KEY CHECK (event IN ('intake', 'cycle', 'error')),
    at      TEXT NOT NULL,
    detail  TEXT NOT NULL
) STRICT;
