/*
 * evlog--1.2--1.3.sql — update evlog 1.2 to 1.3.
 *
 * What changes (one section per concern below).
 *   - no stalls: (filled in by the section)
 *   - hot path: evlog.kinds_changed, a statement trigger on evlog.kinds that
 *     lets every backend cache the registered kinds an append checks
 *   - structure: (filled in by the section)
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
