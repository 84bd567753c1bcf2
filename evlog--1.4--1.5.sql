/*
 * evlog--1.4--1.5.sql — update evlog 1.4 to 1.5.
 *
 * What changes: evlog.event_log_event_id_idx holds only the rows that have
 * an event_id.  Lookups are always by a value, which the partial index
 * serves as before; the events without an id (most of them) no longer each
 * add an index entry, so most appends write one index entry fewer.
 *
 * Locks: the new index is built first, under another name, while reads go
 * on (CREATE INDEX takes SHARE on each partition: appends wait for the
 * build); only then is the old one dropped, which takes ACCESS EXCLUSIVE on
 * the log and its partitions until the update commits, a moment later.  A
 * transaction that read the log and then appends while the build ends
 * waits on the update while the update waits on it: PostgreSQL reports the
 * deadlock and rolls the update back, and the update can be run again
 * (doc/upgrading.md).
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects, OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.5'" to load this file. \quit

CREATE INDEX event_log_event_id_partial_idx ON evlog.event_log (event_id) WHERE event_id IS NOT NULL;
DROP INDEX evlog.event_log_event_id_idx;
ALTER INDEX evlog.event_log_event_id_partial_idx RENAME TO event_log_event_id_idx;
COMMENT ON INDEX evlog.event_log_event_id_idx IS 'reads by event_id (rows that have one); uniqueness is kept by evlog.event_ids';

/*
 * Each partition's copy of the new index was named while the old one still
 * held the name a partition created from now on gives it (<partition>_
 * event_id_idx): it is given that name now.
 */
DO $$
DECLARE
    r record;
    target text;
BEGIN
    FOR r IN SELECT i.inhrelid::pg_catalog.regclass AS child, ci.relname AS name,
                    c.relname AS part, c.relnamespace AS nsp
               FROM pg_catalog.pg_inherits i
               JOIN pg_catalog.pg_class ci ON ci.oid OPERATOR(pg_catalog.=) i.inhrelid
               JOIN pg_catalog.pg_index x ON x.indexrelid OPERATOR(pg_catalog.=) i.inhrelid
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.indrelid
              WHERE i.inhparent OPERATOR(pg_catalog.=) 'evlog.event_log_event_id_idx'::pg_catalog.regclass
    LOOP
        target := pg_catalog.left(r.part, 50) OPERATOR(pg_catalog.||) '_event_id_idx';
        CONTINUE WHEN r.name OPERATOR(pg_catalog.=) target;
        IF EXISTS (SELECT FROM pg_catalog.pg_class
                    WHERE relname OPERATOR(pg_catalog.=) target
                      AND relnamespace OPERATOR(pg_catalog.=) r.nsp) THEN
            RAISE WARNING 'index % keeps its name: % is taken', r.child, target;
            CONTINUE;
        END IF;
        EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', r.child, target);
    END LOOP;
END $$;
