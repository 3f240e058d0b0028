-- omniorder PostgreSQL schema, version 4: return authorisations (RMAs), by id and by order.
-- Written to be safe to run again (IF NOT EXISTS), like every migration from this one on.

CREATE TABLE IF NOT EXISTS return_authorization (
    id       TEXT   PRIMARY KEY,
    order_id TEXT   NOT NULL,
    version  BIGINT NOT NULL CHECK (version >= 1),
    body     JSONB  NOT NULL
);

CREATE INDEX IF NOT EXISTS return_by_order ON return_authorization (order_id, id);
