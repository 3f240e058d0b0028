-- omniorder SQLite schema, version 5: the sweep reads only the live holds of the positions at hand.
-- Each reservation line carries its reservation's state and deadline (kept in step by the same
-- statements that write the reservation, in the same transaction), so a partial index on the
-- live lines, keyed by position and deadline, holds only HELD and READY reservations: finished
-- ones (history) never enter a command's plan, however many a position has had.
-- SQLite has no ADD COLUMN IF NOT EXISTS: this file runs once, in the transaction that sets
-- user_version to 5, so it is never run again on a database that has the columns.

ALTER TABLE reservation_line ADD COLUMN state TEXT;

ALTER TABLE reservation_line ADD COLUMN expires_us INTEGER;

-- Backfill: every line takes its reservation's state and deadline.
UPDATE reservation_line
   SET (state, expires_us) = (SELECT r.state, r.expires_us FROM reservation AS r
                               WHERE r.id = reservation_line.reservation_id);

CREATE INDEX IF NOT EXISTS reservation_line_due
    ON reservation_line (location, sku, expires_us) WHERE state IN ('HELD', 'READY');
