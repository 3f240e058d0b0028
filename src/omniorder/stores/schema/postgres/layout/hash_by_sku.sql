-- omniorder PostgreSQL layout: the hot tables (position, ledger, reservation_line) hash-
-- partitioned by sku into current_setting('omniorder.partitions') partitions, named
-- <table>_p0, <table>_p1, ... Run once, by PostgresStore(partitions=N), in the transaction that
-- creates the schema, after every migration: the tables are empty. Each table is rebuilt from
-- its migrated self: its columns, defaults and CHECK constraints (LIKE), then its keys, foreign
-- keys and indexes under their own names (a partition's index is named after its parent's:
-- reservation_line_due_p0). Later migrations apply to the partitioned tables as to plain ones.

DO $$
DECLARE
    parts CONSTANT INTEGER := current_setting('omniorder.partitions')::INTEGER;
    hot TEXT;
    plain TEXT;
    keys TEXT[];
    indexes TEXT[];
    statement TEXT;
    child RECORD;
BEGIN
    IF EXISTS (SELECT FROM position) OR EXISTS (SELECT FROM ledger)
       OR EXISTS (SELECT FROM reservation_line) THEN
        RAISE EXCEPTION 'only an empty schema is partitioned';
    END IF;
    -- The sequence would go with the plain table that owns it.
    ALTER SEQUENCE ledger_seq OWNED BY NONE;
    FOREACH hot IN ARRAY ARRAY['position', 'ledger', 'reservation_line'] LOOP
        plain := hot || '_plain';
        EXECUTE format('ALTER TABLE %I RENAME TO %I', hot, plain);
        EXECUTE format(
            'CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
            'INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY HASH (sku)',
            hot, plain
        );
        -- Keys (primary, unique, foreign) in that order, then the other indexes, as written.
        SELECT coalesce(array_agg(
                   format('ALTER TABLE %I ADD CONSTRAINT %I %s',
                          hot, conname, pg_get_constraintdef(oid))
                   ORDER BY contype = 'f', conname), '{}')
          INTO keys
          FROM pg_constraint
         WHERE conrelid = plain::regclass AND contype IN ('p', 'u', 'f');
        SELECT coalesce(array_agg(
                   regexp_replace(pg_get_indexdef(i.indexrelid),
                                  ' ON \S+ ', format(' ON %I ', hot))
                   ORDER BY i.indexrelid), '{}')
          INTO indexes
          FROM pg_index AS i
         WHERE i.indrelid = plain::regclass
           AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conindid = i.indexrelid);
        EXECUTE format('DROP TABLE %I', plain);
        FOR n IN 0 .. parts - 1 LOOP
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                hot || '_p' || n, hot, parts, n
            );
        END LOOP;
        FOREACH statement IN ARRAY keys || indexes LOOP
            EXECUTE statement;
        END LOOP;
        -- Each partition's index takes its parent's name and the partition's number.
        FOR child IN
            SELECT c.oid::regclass AS index, p.relname AS parent,
                   substring(t.relname FROM '_p[0-9]+$') AS suffix
              FROM pg_inherits AS h
              JOIN pg_class AS c ON c.oid = h.inhrelid
              JOIN pg_class AS p ON p.oid = h.inhparent
              JOIN pg_index AS i ON i.indexrelid = c.oid
              JOIN pg_class AS t ON t.oid = i.indrelid
             WHERE p.relkind = 'I' AND i.indrelid IN (
                       SELECT inhrelid FROM pg_inherits WHERE inhparent = hot::regclass)
        LOOP
            EXECUTE format('ALTER INDEX %s RENAME TO %I', child.index, child.parent || child.suffix);
        END LOOP;
    END LOOP;
    ALTER SEQUENCE ledger_seq OWNED BY ledger.seq;
END
$$;
