-- omniorder SQLite schema, version 3: reservations may be IN_TRANSIT (ship-to-store transfers).
-- SQLite cannot change a CHECK constraint in place: the two reservation tables are rebuilt.

CREATE TABLE reservation_v3 (
    id         TEXT    PRIMARY KEY,
    location   TEXT    NOT NULL,
    state      TEXT    NOT NULL
               CHECK (state IN ('HELD', 'CONFIRMED', 'READY', 'IN_TRANSIT', 'FULFILLED',
                                'RELEASED', 'EXPIRED')),
    expires_us INTEGER,
    version    INTEGER NOT NULL CHECK (version >= 1),
    body       TEXT    NOT NULL
) WITHOUT ROWID;

INSERT INTO reservation_v3 (id, location, state, expires_us, version, body)
    SELECT id, location, state, expires_us, version, body FROM reservation;

CREATE TABLE reservation_line_v3 (
    sku            TEXT NOT NULL,
    location       TEXT NOT NULL,
    reservation_id TEXT NOT NULL REFERENCES reservation_v3 (id),
    PRIMARY KEY (sku, location, reservation_id)
) WITHOUT ROWID;

INSERT INTO reservation_line_v3 (sku, location, reservation_id)
    SELECT sku, location, reservation_id FROM reservation_line;

DROP TABLE reservation_line;
DROP TABLE reservation;
ALTER TABLE reservation_v3 RENAME TO reservation;
ALTER TABLE reservation_line_v3 RENAME TO reservation_line;

CREATE INDEX reservation_due ON reservation (expires_us) WHERE state IN ('HELD', 'READY');
