-- omniorder PostgreSQL schema, version 7: every hot table's primary key begins with its
-- distribution key, sku, so the hot tables (position, ledger, reservation_line) can be
-- hash-partitioned or distributed (Citus) by sku. position (sku, location) and
-- reservation_line (sku, location, reservation_id) were keyed so already; the ledger was keyed
-- by seq alone and is now keyed by (sku, location, seq). Its numbers stay unique (they come
-- from ledger_seq); readers paging by number use ledger_by_seq, and the old ledger_by_position
-- index is the key's prefix now. Safe to run again.

DO $$
BEGIN
    IF (SELECT pg_get_constraintdef(oid) FROM pg_constraint
         WHERE conrelid = 'ledger'::regclass AND contype = 'p')
       IS DISTINCT FROM 'PRIMARY KEY (sku, location, seq)' THEN
        ALTER TABLE ledger DROP CONSTRAINT IF EXISTS ledger_pkey;
        ALTER TABLE ledger ADD CONSTRAINT ledger_pkey PRIMARY KEY (sku, location, seq);
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS ledger_by_seq ON ledger (seq);
DROP INDEX IF EXISTS ledger_by_position;
