-- Who hands an event's replies out ("instance/run"), and since when: another instance takes
-- over replies whose owner stopped before sending them.
ALTER TABLE events ADD COLUMN owner TEXT;
ALTER TABLE events ADD COLUMN claimed_at TEXT;
