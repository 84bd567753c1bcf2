/*
 * evlog--1.3--1.4.sql — update evlog 1.3 to 1.4.
 *
 * What changes:
 *   - loading with COPY: the view evlog.append_copy and its triggers
 *     (src/copy_load.c); COPY or INSERT into it appends the rows as
 *     evlog_append would, all or nothing.  evlog_grant_writer grants INSERT
 *     on it, and roles made writers before 1.4 are granted it here.
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.4'" to load this file. \quit

-- ==== loading with COPY ====

/*
 * COPY evlog.append_copy FROM ... (or INSERT INTO evlog.append_copy
 * SELECT ...) appends every row as evlog_append(kind, ts, host_id,
 * rollout_id, payload, event_id) would, all or nothing, through the batch
 * writer.  The view has no rows; its triggers do the work.  INSERT on it is
 * the permission to load (evlog_grant_writer grants it), and the trigger
 * function refuses to fire on any other relation.
 */
CREATE VIEW evlog.append_copy AS
SELECT NULL::text AS kind, NULL::timestamptz AS ts, NULL::text AS host_id,
       NULL::text AS rollout_id, NULL::jsonb AS payload, NULL::text AS event_id
 WHERE false;
COMMENT ON VIEW evlog.append_copy IS
    'COPY or INSERT events here to append them as evlog_append would, all or nothing, in input order (always empty when read)';
COMMENT ON COLUMN evlog.append_copy.kind IS 'a registered kind (evlog.kinds)';
COMMENT ON COLUMN evlog.append_copy.ts IS 'when the event happened';
COMMENT ON COLUMN evlog.append_copy.host_id IS 'host the event is about, or NULL';
COMMENT ON COLUMN evlog.append_copy.rollout_id IS 'rollout the event is about, or NULL';
COMMENT ON COLUMN evlog.append_copy.payload IS 'the event, a JSON object';
COMMENT ON COLUMN evlog.append_copy.event_id IS 'idempotency key, or NULL: a row whose event_id is already in the log (same event) is not written again';

CREATE FUNCTION evlog.append_copy_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_append_copy_trigger'
LANGUAGE C;
COMMENT ON FUNCTION evlog.append_copy_trigger() IS
    'trigger of evlog.append_copy: buffers the inserted rows and appends them through the batch writer; fires on that view only';
REVOKE ALL ON FUNCTION evlog.append_copy_trigger() FROM PUBLIC;

CREATE TRIGGER append_copy_begin
    BEFORE INSERT ON evlog.append_copy
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.append_copy_trigger();
COMMENT ON TRIGGER append_copy_begin ON evlog.append_copy IS 'starts a load with an empty buffer';
CREATE TRIGGER append_copy_row
    INSTEAD OF INSERT ON evlog.append_copy
    FOR EACH ROW EXECUTE FUNCTION evlog.append_copy_trigger();
COMMENT ON TRIGGER append_copy_row ON evlog.append_copy IS 'validates a row as evlog_append would and buffers it; a full buffer is appended';
CREATE TRIGGER append_copy_end
    AFTER INSERT ON evlog.append_copy
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.append_copy_trigger();
COMMENT ON TRIGGER append_copy_end ON evlog.append_copy IS 'appends what is left in the buffer and ends the load';

-- as in a fresh install: nothing for PUBLIC
REVOKE ALL ON evlog.append_copy FROM PUBLIC;

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
        '%1$I.evlog_flush(interval), '
        '%1$I.evlog_append(text, timestamptz, text, text, text, text, bigint, text), '
        '%1$I.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text), '
        '%1$I.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text), '
        '%1$I.evlog_stream_head(text, text), '
        '%1$I.evlog_stream_read(text, text, bigint, integer) TO %2$s',
        '@extschema@', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.my_dead_letters TO %s', role);
    -- loading with COPY (1.4)
    EXECUTE pg_catalog.format('GRANT INSERT ON evlog.append_copy TO %s', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_writer(regrole) IS
    'let a role append (and enqueue) events, load them with COPY into evlog.append_copy, see its own dead letters and read the log; it still cannot UPDATE, DELETE or TRUNCATE';

-- roles made writers before 1.4 may load with COPY too; those grants stay
-- the database's own (kept out of the initial privileges, as in
-- evlog--1.1--1.2.sql), so pg_dump carries them
CREATE TABLE evlog.update_init_privs_input AS
SELECT i.objoid, i.classoid, i.objsubid, i.initprivs
  FROM pg_catalog.pg_init_privs i
 WHERE i.objoid OPERATOR(pg_catalog.=) 'evlog.append_copy'::pg_catalog.regclass
   AND i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee
               FROM pg_catalog.pg_proc p,
                    LATERAL pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.evlog_append(text, timestamptz, text, text, jsonb, text)'::pg_catalog.regprocedure
                AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
                AND a.grantee OPERATOR(pg_catalog.<>) 0
                AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT INSERT ON evlog.append_copy TO %s', r.grantee::pg_catalog.regrole);
    END LOOP;
END
$$;
UPDATE pg_catalog.pg_init_privs i SET initprivs = u.initprivs
  FROM evlog.update_init_privs_input u
 WHERE i.objoid OPERATOR(pg_catalog.=) u.objoid AND i.classoid OPERATOR(pg_catalog.=) u.classoid
   AND i.objsubid OPERATOR(pg_catalog.=) u.objsubid;
DROP TABLE evlog.update_init_privs_input;
