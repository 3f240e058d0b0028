-- omniorder SQLite schema, version 7: fewer bytes per command.
-- Reservations and events are written with compact bodies: only what their columns do not hold,
-- without fields at their defaults, UTC times as integer microseconds (see stores/_compact.py).
-- Bodies written before keep the whole public JSON and load as they are, so no row is rewritten;
-- the version tells an older omniorder that it cannot read the new bodies.
-- The ledger is read by number only: its index by position was written by every movement and
-- read by no statement.

DROP INDEX IF EXISTS ledger_by_position;
