/*
 * evlog--1.1--1.2.sql — update evlog 1.1 to 1.2.  A fresh CREATE EXTENSION
 * evlog runs evlog--1.0.sql, evlog--1.0--1.1.sql and then this script.
 *
 * What changes (one section per concern below).
 *   - input limits: chain_export's ts over the whole timestamptz range; DDL guard event trigger; dead letters name who enqueued them (evlog.my_dead_letters); evlog_create_partitions' comment
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.2'" to load this file. \quit

-- ==== input limits ====
-- The limits themselves live in the C library (payload printed size, number
-- digits, id lengths, partitions per transaction, the log's column layout),
-- so a database still at 1.1 gets them too; only the documentation of
-- evlog_create_partitions changes here.
COMMENT ON FUNCTION @extschema@.evlog_create_partitions(integer, bigint) IS
    'create partitions of evlog.event_log (evlog.partition_size seqs each) covering ahead (0 to 64) partitions beyond the sequence''s position, and at least up to seq upto; at most 64 per call, the first one spanning any larger gap of spent seqs; returns how many it created';

-- A dead letter names the role that enqueued it, and that role (or any of
-- its members) sees its own through evlog.my_dead_letters: the writer role
-- has no access to evlog.dead_letter, which holds every role's events.
ALTER TABLE evlog.dead_letter ADD COLUMN enqueued_by oid;
COMMENT ON COLUMN evlog.dead_letter.enqueued_by IS 'OID of the role that called evlog_enqueue (current_user then); NULL for events enqueued before 1.2';

CREATE VIEW evlog.my_dead_letters WITH (security_barrier) AS
    SELECT d.ticket, d.kind, d.ts, d.host_id, d.rollout_id, d.payload, d.event_id,
           d.enqueued_at, d.failed_at, d.error, d.sqlstate
      FROM evlog.dead_letter d
     WHERE d.enqueued_by IS NOT NULL
       AND pg_catalog.pg_has_role(d.enqueued_by, 'MEMBER');
COMMENT ON VIEW evlog.my_dead_letters IS
    'the dead letters of events enqueued by the current role or a role it is a member of';
COMMENT ON COLUMN evlog.my_dead_letters.ticket IS 'ticket evlog_enqueue returned for the event';
COMMENT ON COLUMN evlog.my_dead_letters.kind IS 'the event''s kind';
COMMENT ON COLUMN evlog.my_dead_letters.ts IS 'the event''s ts';
COMMENT ON COLUMN evlog.my_dead_letters.host_id IS 'the event''s host_id';
COMMENT ON COLUMN evlog.my_dead_letters.rollout_id IS 'the event''s rollout_id';
COMMENT ON COLUMN evlog.my_dead_letters.payload IS 'the event''s payload';
COMMENT ON COLUMN evlog.my_dead_letters.event_id IS 'the event''s event_id';
COMMENT ON COLUMN evlog.my_dead_letters.enqueued_at IS 'when evlog_enqueue was called';
COMMENT ON COLUMN evlog.my_dead_letters.failed_at IS 'when the writer gave up on it';
COMMENT ON COLUMN evlog.my_dead_letters.error IS 'the error that refused it';
COMMENT ON COLUMN evlog.my_dead_letters.sqlstate IS 'that error''s SQLSTATE';
REVOKE ALL ON evlog.my_dead_letters FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.evlog_grant_writer(role regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.evlog_grant_reader(role);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION '
        '%1$I.evlog_append(text, timestamptz, text, text, text, text), '
        '%1$I.evlog_append(text, timestamptz, text, text, jsonb, text), '
        '%1$I.evlog_append_batch(jsonb), '
        '%1$I.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[]), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, text, text), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, jsonb, text), '
        '%1$I.evlog_flush(interval) TO %2$s',
        '@extschema@', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.my_dead_letters TO %s', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_writer(regrole) IS
    'let a role append (and enqueue) events, see its own dead letters and read the log; it still cannot UPDATE, DELETE or TRUNCATE';

-- roles made writers before 1.2 see their dead letters too
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee
               FROM pg_catalog.pg_proc p,
                    LATERAL pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text)'::pg_catalog.regprocedure
                AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
                AND a.grantee OPERATOR(pg_catalog.<>) 0
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON evlog.my_dead_letters TO %s', r.grantee::pg_catalog.regrole);
    END LOOP;
END
$$;

-- DETACH or DROP of a partition removes events the chain may not have
-- sealed, and a changed column breaks the layout evlog reads by position:
-- refused for every role except through evlog_prune (src/prune.c).
CREATE FUNCTION evlog.ddl_guard()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'evlog_ddl_guard'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION evlog.ddl_guard() IS
    'event trigger function: refuses DETACH PARTITION, DROP TABLE, ADD/DROP/RETYPE/RENAME COLUMN and RENAME on evlog''s tables, except inside evlog_prune and the extension''s scripts';
REVOKE ALL ON FUNCTION evlog.ddl_guard() FROM PUBLIC;

CREATE EVENT TRIGGER evlog_ddl_guard ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TABLE')
    EXECUTE FUNCTION evlog.ddl_guard();
COMMENT ON EVENT TRIGGER evlog_ddl_guard IS
    'keeps evlog''s tables whole: disabling it (ALTER EVENT TRIGGER evlog_ddl_guard DISABLE) is the visible act that DDL on them takes';

-- chain_export: to_char's YYYY drops the era and widens years past 9999, so
-- such a ts could not be read back into the chain's microseconds.  Years 1
-- to 9999 print as before; the others as an ISO 8601 expanded year (sign,
-- at least six digits, astronomical numbering: +000000 is 1 BC), which
-- tools/verify_chain.py reads.  The chain's encoding is unchanged.
CREATE OR REPLACE VIEW evlog.chain_export AS
SELECT a.seq, true AS anchor,
       pg_catalog.json_build_object('anchor_seq', a.seq, 'hash', pg_catalog.encode(a.hash, 'hex'))::text AS line
  FROM evlog.chain_anchor a
UNION ALL
SELECT COALESCE(c.seq, e.seq), false,
       pg_catalog.json_build_object(
           'seq', COALESCE(c.seq, e.seq),
           'ts', CASE
                 WHEN e.ts OPERATOR(pg_catalog.>=) '0001-01-01 00:00:00+00'::pg_catalog.timestamptz
                  AND e.ts OPERATOR(pg_catalog.<) '10000-01-01 00:00:00+00'::pg_catalog.timestamptz
                 THEN pg_catalog.to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                 ELSE (SELECT CASE WHEN y.astro OPERATOR(pg_catalog.<) 0 THEN '-' ELSE '+' END
                              OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.abs(y.astro)::text, 6, '0')
                              OPERATOR(pg_catalog.||) pg_catalog.to_char(e.ts AT TIME ZONE 'UTC', '"-"MM-DD"T"HH24:MI:SS.US"Z"')
                         FROM (SELECT CASE WHEN x.year OPERATOR(pg_catalog.<) 0
                                           THEN x.year OPERATOR(pg_catalog.+) 1 ELSE x.year END AS astro
                                 FROM (SELECT pg_catalog.date_part('year', e.ts AT TIME ZONE 'UTC')::integer AS year) x) y)
                 END,
           'kind', e.kind, 'host_id', e.host_id, 'rollout_id', e.rollout_id,
           'payload', e.payload::text, 'event_id', e.event_id,
           'prev_seq', c.prev_seq, 'hash', pg_catalog.encode(c.hash, 'hex'))::text
  FROM evlog.chain c
  FULL JOIN evlog.event_log e ON e.seq OPERATOR(pg_catalog.=) c.seq
 WHERE COALESCE(c.seq, e.seq) OPERATOR(pg_catalog.<=) (SELECT pg_catalog.max(ch.seq) FROM evlog.chain ch);
