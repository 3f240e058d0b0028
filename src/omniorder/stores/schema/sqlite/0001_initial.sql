-- omniorder SQLite schema, version 1.
-- Every hot table is keyed by (sku, location). CHECK constraints hold the stock invariants even
-- if the code above them is wrong: no counter below zero, never more held or committed than on hand.

CREATE TABLE position (
    sku          TEXT    NOT NULL,
    location     TEXT    NOT NULL,
    on_hand      INTEGER NOT NULL DEFAULT 0,
    reserved     INTEGER NOT NULL DEFAULT 0,
    committed    INTEGER NOT NULL DEFAULT 0,
    safety_stock INTEGER NOT NULL DEFAULT 0,
    inbound      INTEGER NOT NULL DEFAULT 0,
    quarantine   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sku, location),
    CHECK (on_hand >= 0 AND reserved >= 0 AND committed >= 0),
    CHECK (safety_stock >= 0 AND inbound >= 0 AND quarantine >= 0),
    CHECK (reserved + committed <= on_hand)
) WITHOUT ROWID;

CREATE INDEX position_by_location ON position (location, sku);

-- The ledger: one row per movement, numbered gap-free from 1 (writers are serialised).
CREATE TABLE ledger (
    seq       INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    sku       TEXT    NOT NULL,
    location  TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    quantity  INTEGER NOT NULL,
    reference TEXT    NOT NULL,
    key       TEXT
);

CREATE INDEX ledger_by_position ON ledger (sku, location);

-- Reservations: the indexed columns the store filters on, and the whole value as JSON.
CREATE TABLE reservation (
    id         TEXT    PRIMARY KEY,
    location   TEXT    NOT NULL,
    state      TEXT    NOT NULL
               CHECK (state IN ('HELD', 'CONFIRMED', 'READY', 'FULFILLED', 'RELEASED', 'EXPIRED')),
    expires_us INTEGER,
    version    INTEGER NOT NULL CHECK (version >= 1),
    body       TEXT    NOT NULL
) WITHOUT ROWID;

-- Holds and pickups that can expire, by deadline (the sweep's and the expiry view's index).
CREATE INDEX reservation_due ON reservation (expires_us) WHERE state IN ('HELD', 'READY');

-- Which positions each reservation touches (its skus never change).
CREATE TABLE reservation_line (
    sku            TEXT NOT NULL,
    location       TEXT NOT NULL,
    reservation_id TEXT NOT NULL REFERENCES reservation (id),
    PRIMARY KEY (sku, location, reservation_id)
) WITHOUT ROWID;

-- The event outbox, numbered gap-free from 1, written in the same transaction as the change.
CREATE TABLE event (
    seq  INTEGER PRIMARY KEY,
    type TEXT    NOT NULL,
    at   TEXT    NOT NULL,
    body TEXT    NOT NULL
);

-- Idempotency records: the key is inserted first in every keyed command's transaction.
CREATE TABLE idempotency (
    key         TEXT PRIMARY KEY,
    command     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    request     TEXT NOT NULL,
    result      TEXT,
    at          TEXT NOT NULL
) WITHOUT ROWID;

-- Store-wide facts: the latest command time (the clock must never go back before it).
CREATE TABLE meta (
    name     TEXT    PRIMARY KEY,
    value    TEXT    NOT NULL,
    value_us INTEGER
) WITHOUT ROWID;
