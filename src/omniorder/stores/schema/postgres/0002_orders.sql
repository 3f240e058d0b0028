-- omniorder PostgreSQL schema, version 2: order records (the order, its sourcing, its backorders).

CREATE TABLE order_record (
    id      TEXT   PRIMARY KEY,
    version BIGINT NOT NULL CHECK (version >= 1),
    body    JSONB  NOT NULL
);
