-- Several instances on one database. Who hands an event's replies out ("instance/run"), and
-- since when: another instance takes over replies whose owner stopped before sending them.
ALTER TABLE events ADD COLUMN owner TEXT;
ALTER TABLE events ADD COLUMN claimed_at TEXT;
-- Who received an update: a start takes up its own instance's, and those left too long.
ALTER TABLE inbox ADD COLUMN received_by TEXT;
