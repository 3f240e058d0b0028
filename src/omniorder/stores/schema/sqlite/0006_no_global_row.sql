-- omniorder SQLite schema, version 6: no row written by every command.
-- The clock guard moves from the store-wide 'last_time' row to the rows a command writes: each
-- position, reservation, order and return keeps the time of its last change (changed_us,
-- microseconds since the Unix epoch, UTC), and a change made earlier than that is refused.
-- Existing rows take the old store-wide time, so the guard is as strict as it was.
-- Ledger and event numbers are the tables' rowids (one writer at a time takes the next one),
-- and an event's number lives in its column only.

ALTER TABLE position ADD COLUMN changed_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reservation ADD COLUMN changed_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_record ADD COLUMN changed_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE return_authorization ADD COLUMN changed_us INTEGER NOT NULL DEFAULT 0;

UPDATE position SET changed_us = COALESCE((SELECT value_us FROM meta WHERE name = 'last_time'), 0);
UPDATE reservation SET changed_us = COALESCE((SELECT value_us FROM meta WHERE name = 'last_time'), 0);
UPDATE order_record SET changed_us = COALESCE((SELECT value_us FROM meta WHERE name = 'last_time'), 0);
UPDATE return_authorization
   SET changed_us = COALESCE((SELECT value_us FROM meta WHERE name = 'last_time'), 0);

DROP TABLE meta;
