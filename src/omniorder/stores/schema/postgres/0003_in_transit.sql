-- omniorder PostgreSQL schema, version 3: reservations may be IN_TRANSIT (ship-to-store).

ALTER TABLE reservation DROP CONSTRAINT reservation_state_check;
ALTER TABLE reservation ADD CONSTRAINT reservation_state_check CHECK (
    state IN ('HELD', 'CONFIRMED', 'READY', 'IN_TRANSIT', 'FULFILLED', 'RELEASED', 'EXPIRED')
);
