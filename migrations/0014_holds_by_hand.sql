-- A hold placed or released by a person (the console, `accounts hold`,
-- `accounts release`): the rules never lift a hold placed by hand, and place
-- none before the day given with a release by hand.
ALTER TABLE accounts ADD COLUMN hold_by_hand TEXT CHECK (hold_by_hand IN ('held', 'released'));
ALTER TABLE accounts ADD COLUMN hold_by_hand_until TEXT;   -- released: YYYY-MM-DD
