-- omniorder SQLite schema, version 2: order records (the order, its sourcing, its backorders).

CREATE TABLE order_record (
    id      TEXT    PRIMARY KEY,
    version INTEGER NOT NULL CHECK (version >= 1),
    body    TEXT    NOT NULL
) WITHOUT ROWID;
