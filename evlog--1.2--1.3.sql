/*
 * evlog--1.2--1.3.sql — update evlog 1.2 to 1.3.
 *
 * What changes (one section per concern below).
 *   - no stalls: no new objects (partitions now come only from evlog's
 *     partition creator, a background worker; evlog.partition_wait bounds
 *     an appender's wait for it)
 *   - hot path: evlog.kinds_changed, a statement trigger on evlog.kinds that
 *     lets every backend cache the registered kinds an append checks
 *   - structure: long operations report progress in shared memory
 *     (evlog_progress, evlog.progress; evlog.rebuild_progress reads it),
 *     not in pg_stat_activity.query; evlog_summarize_partitions (the old
 *     spelling stays as an alias).
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.3'" to load this file. \quit

-- ==== no stalls ====

-- ==== hot path ====

/*
 * An append checks its kind against evlog.kinds.  Backends keep the kinds
 * they found in a local cache (catcache.c) instead of scanning the table
 * on every append; this trigger makes an UPDATE, DELETE or TRUNCATE of
 * evlog.kinds reset that cache in every backend (a relcache invalidation
 * of evlog.kinds, sent at commit).  An INSERT needs none: a kind not in the
 * cache is looked up.  ENABLE ALWAYS: a kind removed by logical replication
 * apply or a restore must reach the caches too.  Without the trigger (a
 * database still at 1.2) the library does not cache kinds.
 */
CREATE FUNCTION evlog.kinds_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_kinds_changed'
LANGUAGE C;
COMMENT ON FUNCTION evlog.kinds_changed() IS 'trigger: tells every backend to forget the registered kinds it has cached';
REVOKE ALL ON FUNCTION evlog.kinds_changed() FROM PUBLIC;

CREATE TRIGGER kinds_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON evlog.kinds
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.kinds_changed();
ALTER TABLE evlog.kinds ENABLE ALWAYS TRIGGER kinds_changed;
COMMENT ON TRIGGER kinds_changed ON evlog.kinds IS 'resets the backends'' caches of registered kinds (catcache.c)';

-- ==== structure ====
/*
 * Progress of long operations (src/progress.c).  evlog_rebuild and
 * evlog_verify used to write their progress into their own
 * pg_stat_activity.query, which evlog.rebuild_progress parsed back; they
 * now write a slot of a small shared-memory array instead, one per
 * backend, and pg_stat_activity.query keeps the caller's query.  The array
 * exists when evlog is in shared_preload_libraries; without it these show
 * no rows, and the calls still report each phase to their caller as
 * NOTICEs.
 */
CREATE FUNCTION @extschema@.evlog_progress(
    OUT pid integer, OUT command text, OUT target text, OUT phase text,
    OUT events_done bigint, OUT events_total bigint, OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'evlog_progress'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_progress() IS
    'long evlog operations running in this database (evlog_rebuild, evlog_verify), one row per backend; no rows unless evlog is in shared_preload_libraries';

CREATE VIEW evlog.progress AS
SELECT p.pid, p.command, p.target, p.phase, p.events_done, p.events_total, p.started_at
  FROM @extschema@.evlog_progress() p;
COMMENT ON VIEW evlog.progress IS
    'long evlog operations running in this database, one row per backend (needs shared_preload_libraries = ''evlog''; otherwise empty, and the operations report to their caller as NOTICEs)';
COMMENT ON COLUMN evlog.progress.pid IS 'backend running the operation';
COMMENT ON COLUMN evlog.progress.command IS 'evlog_rebuild or evlog_verify';
COMMENT ON COLUMN evlog.progress.target IS 'derived table or registered view being worked on (all: the built-in tables together)';
COMMENT ON COLUMN evlog.progress.phase IS 'replay (from a snapshot), catch-up (log locked, applying events committed meanwhile), swap (replacing the table''s rows), verify';
COMMENT ON COLUMN evlog.progress.events_done IS 'events read so far in this phase';
COMMENT ON COLUMN evlog.progress.events_total IS 'upper bound on the events to read (seq span of the log)';
COMMENT ON COLUMN evlog.progress.started_at IS 'when work on this target started';

-- the 1.0 view, same columns, now over evlog_progress()
CREATE OR REPLACE VIEW evlog.rebuild_progress AS
SELECT p.pid, p.target AS view, p.phase, p.events_done, p.events_total, p.started_at
  FROM @extschema@.evlog_progress() p;
COMMENT ON VIEW evlog.rebuild_progress IS
    'running evlog_rebuild / evlog_verify calls: evlog.progress with the 1.0 column names, kept for existing callers';

REVOKE ALL ON evlog.progress FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.evlog_progress() FROM PUBLIC;

/*
 * PostgreSQL spells it "summarize" (brin_summarize_range,
 * brin_summarize_new_values): evlog_summarize_partitions is the name from 1.3
 * on; evlog_summarise_partitions stays as an alias (same C function), so
 * existing callers and schedules keep working.
 */
CREATE FUNCTION @extschema@.evlog_summarize_partitions()
RETURNS integer
AS 'MODULE_PATHNAME', 'evlog_summarise_partitions'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_summarize_partitions() IS
    'count the events of every closed partition not yet summarized (the partition worker does this as the log grows; run it after a bulk load); returns how many it summarized';
COMMENT ON FUNCTION @extschema@.evlog_summarise_partitions() IS
    'alias of evlog_summarize_partitions(), the name before 1.3; kept for existing callers';
REVOKE ALL ON FUNCTION @extschema@.evlog_summarize_partitions() FROM PUBLIC;
