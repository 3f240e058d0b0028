-- omniorder PostgreSQL schema, version 1 (applied inside the store's schema).
-- The hot tables are keyed by (sku, location), so a distributed PostgreSQL (Citus, YugabyteDB,
-- CockroachDB) can shard them by sku. CHECK constraints hold the stock invariants even if the
-- code above them is wrong.

CREATE TABLE position (
    sku          TEXT   NOT NULL,
    location     TEXT   NOT NULL,
    on_hand      BIGINT NOT NULL DEFAULT 0,
    reserved     BIGINT NOT NULL DEFAULT 0,
    committed    BIGINT NOT NULL DEFAULT 0,
    safety_stock BIGINT NOT NULL DEFAULT 0,
    inbound      BIGINT NOT NULL DEFAULT 0,
    quarantine   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (sku, location),
    CONSTRAINT counters_not_negative CHECK (
        on_hand >= 0 AND reserved >= 0 AND committed >= 0
        AND safety_stock >= 0 AND inbound >= 0 AND quarantine >= 0
    ),
    CONSTRAINT no_oversell CHECK (reserved + committed <= on_hand)
);

CREATE INDEX position_by_location ON position (location, sku);

-- The ledger; seq is gap-free: numbers come from the counter table when the unit of work commits.
CREATE TABLE ledger (
    seq       BIGINT      PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    sku       TEXT        NOT NULL,
    location  TEXT        NOT NULL,
    kind      TEXT        NOT NULL,
    quantity  BIGINT      NOT NULL,
    reference TEXT        NOT NULL,
    key       TEXT
);

CREATE INDEX ledger_by_position ON ledger (sku, location);

CREATE TABLE reservation (
    id         TEXT   PRIMARY KEY,
    location   TEXT   NOT NULL,
    state      TEXT   NOT NULL
               CHECK (state IN ('HELD', 'CONFIRMED', 'READY', 'FULFILLED', 'RELEASED', 'EXPIRED')),
    expires_us BIGINT,
    version    BIGINT NOT NULL CHECK (version >= 1),
    body       JSONB  NOT NULL
);

CREATE INDEX reservation_due ON reservation (expires_us) WHERE state IN ('HELD', 'READY');

CREATE TABLE reservation_line (
    sku            TEXT NOT NULL,
    location       TEXT NOT NULL,
    reservation_id TEXT NOT NULL REFERENCES reservation (id),
    PRIMARY KEY (sku, location, reservation_id)
);

CREATE TABLE event (
    seq  BIGINT      PRIMARY KEY,
    type TEXT        NOT NULL,
    at   TIMESTAMPTZ NOT NULL,
    body JSONB       NOT NULL
);

CREATE TABLE idempotency (
    key         TEXT        PRIMARY KEY,
    command     TEXT        NOT NULL,
    fingerprint TEXT        NOT NULL,
    request     TEXT        NOT NULL,
    result      TEXT,
    at          TIMESTAMPTZ NOT NULL
);

-- Gap-free numbering: one row per sequence, taken (and locked) only while a unit of work commits.
CREATE TABLE counter (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO counter (name, value) VALUES ('ledger', 0), ('event', 0);

CREATE TABLE meta (
    name     TEXT PRIMARY KEY,
    value    TEXT NOT NULL,
    value_us BIGINT
);
