-- omniorder PostgreSQL schema, version 5: the sweep reads only the live holds of the positions at
-- hand. Each reservation line carries its reservation's state and deadline (kept in step by the
-- same statements that write the reservation, in the same transaction), so a partial index on
-- the live lines, keyed by position and deadline, holds only HELD and READY reservations:
-- finished ones (history) never enter a command's plan, however many a position has had.
-- Safe to run again.

ALTER TABLE reservation_line
    ADD COLUMN IF NOT EXISTS state TEXT,
    ADD COLUMN IF NOT EXISTS expires_us BIGINT;

-- Backfill: every line takes its reservation's state and deadline.
UPDATE reservation_line AS l
   SET state = r.state, expires_us = r.expires_us
  FROM reservation AS r
 WHERE r.id = l.reservation_id
   AND (l.state IS DISTINCT FROM r.state OR l.expires_us IS DISTINCT FROM r.expires_us);

CREATE INDEX IF NOT EXISTS reservation_line_due
    ON reservation_line (location, sku, expires_us) WHERE state IN ('HELD', 'READY');

-- Fresh statistics for the planner (the new index and the backfilled columns).
ANALYZE reservation, reservation_line;
