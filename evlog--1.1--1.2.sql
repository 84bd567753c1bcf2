/*
 * evlog--1.1--1.2.sql — update evlog 1.1 to 1.2.  A fresh CREATE EXTENSION
 * evlog runs evlog--1.0.sql, evlog--1.0--1.1.sql and then this script.
 *
 * What changes (one section per concern below).
 *   - security boundary: a registered handler or target cannot be dropped
 *     (event trigger evlog_guard_drop); named consumers have an owner and
 *     row-level security, their functions run with the caller's rights,
 *     at most 100 per role with 1-to-63-character names, a name per role;
 *     the views over the log read with the caller's rights; evlog.queue_status
 *     shows a role its own database's queue only, errors to superusers.
 *   - input limits: chain_export's ts over the whole timestamptz range; DDL guard event trigger; dead letters name who enqueued them (evlog.my_dead_letters); evlog_create_partitions' comment
 *   - derived tables in seq order: evlog.rollout_state keeps each rollout's
 *     registers so evlog.rollouts equals a replay in seq order whatever the
 *     commit order; filled, with the rollouts and their skips, by a replay
 *     of the log's rollout events in SQL.
 *     evlog_verify(view, replay_order) replays in reverse to expose
 *     order-dependent user-view handlers.  The derived tables' foreign keys
 *     to the partitioned log become evlog.derived_seq_check triggers.
 *   - asynchronous append: evlog.queue_state's comments say where an epoch
 *     now begins (queues and writers on first use, crash accounting that
 *     counts events queued before the writer's first pass); no new objects.
 *   - conditional append: evlog_append / evlog_append_batch overloads with
 *     expected_stream + expected_seq (SQLSTATE EV001 on a moved stream),
 *     index (host_id, seq), evlog_stream_head, evlog_stream_read; the
 *     evlog_enqueue overload refuses an expectation.
 *   - no stalls: named consumers hold retention back (pruned_unread_upto,
 *     evlog_consumer_next refuses to skip a pruned gap silently,
 *     consumer_lag shows who holds retention).
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.2'" to load this file. \quit

-- ==== security boundary ====
/*
 * No role's code runs with evlog's owner's rights, and readers touch only
 * what is theirs (the C side: src/as_user.c).  Here:
 *   - evlog.guard_drop: a registered handler or target cannot be dropped;
 *   - named consumers belong to the role that created them (owner column,
 *     row-level security), their functions run with the caller's rights, a
 *     role holds at most 100 of them, names are 1 to 63 characters and
 *     unique per role (not across roles), and a position never moves back
 *     (for its owner either);
 *   - evlog_register_view refuses a handler whose SET search_path does
 *     not end with pg_temp (it runs in appending sessions; the append
 *     refuses to call one too: src/derive.c);
 *   - chain_export, chain_status, gaps, derived_stats: security_invoker;
 *   - evlog.queue_status (C): comments say what a role sees.
 */

-- Initial privileges as recorded before this section's grants (see
-- "Initial privileges" in evlog--1.0--1.1.sql): put back at its end.
CREATE TABLE evlog.update_init_privs_sec AS
SELECT i.objoid, i.classoid, i.objsubid, i.initprivs
  FROM pg_catalog.pg_init_privs i
 WHERE i.objoid OPERATOR(pg_catalog.=) 'evlog.consumers'::pg_catalog.regclass
   AND i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass;

CREATE FUNCTION evlog.guard_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    -- DROP EXTENSION evlog, or a DROP SCHEMA evlog CASCADE: nothing to guard
    IF pg_catalog.to_regclass('evlog.derived_views') IS NULL THEN
        RETURN;
    END IF;
    SELECT d.name, o.object_type, o.object_identity INTO v
      FROM pg_catalog.pg_event_trigger_dropped_objects() o
      JOIN evlog.derived_views d
        ON (o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
            AND o.objid OPERATOR(pg_catalog.=) d.handler::pg_catalog.oid)
        OR (o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
            AND o.objsubid OPERATOR(pg_catalog.=) 0
            AND o.objid OPERATOR(pg_catalog.=) d.target::pg_catalog.oid)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot drop % % because evlog view "%" uses it', v.object_type, v.object_identity, v.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Every append calls a registered view''s handler, which maintains its table.',
                  HINT = pg_catalog.format('Unregister the view first: SELECT evlog_unregister_view(%L);', v.name);
    END IF;
END
$$;
COMMENT ON FUNCTION evlog.guard_drop() IS
    'event trigger: refuses to drop the handler or the table of a registered evlog view';
REVOKE ALL ON FUNCTION evlog.guard_drop() FROM PUBLIC;

CREATE EVENT TRIGGER evlog_guard_drop ON sql_drop
    EXECUTE FUNCTION evlog.guard_drop();
COMMENT ON EVENT TRIGGER evlog_guard_drop IS
    'refuses to drop the handler or the table of a registered evlog view (unregister it first)';

-- consumers: existing ones go to the role running the update (README,
-- "Upgrading": give each to its reader)
ALTER TABLE evlog.consumers ADD COLUMN owner pg_catalog.regrole;
UPDATE evlog.consumers SET owner = CURRENT_USER::pg_catalog.regrole;
ALTER TABLE evlog.consumers ALTER COLUMN owner SET DEFAULT CURRENT_USER::pg_catalog.regrole,
                            ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN evlog.consumers.owner IS
    'role that created the consumer: only it, its members and superusers can read through it, acknowledge or drop it';
-- names are per owner: a role cannot take a name another role will want
-- (nor learn, from "already exists", which names other roles use)
ALTER TABLE evlog.consumers DROP CONSTRAINT consumers_pkey,
                            ADD CONSTRAINT consumers_pkey PRIMARY KEY (owner, name);
COMMENT ON INDEX evlog.consumers_pkey IS
    'one consumer of a name per role; also counts a role''s consumers (at most 100 each)';

-- The consumer a name means for the caller: its own, else the one consumer
-- of that name it can see (a role it is a member of); NULL if none.
CREATE FUNCTION evlog.consumer_owner(consumer text) RETURNS pg_catalog.regrole
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owners pg_catalog.regrole[];
BEGIN
    SELECT pg_catalog.array_agg(c.owner ORDER BY c.owner::pg_catalog.oid) INTO owners
      FROM evlog.consumers c WHERE c.name OPERATOR(pg_catalog.=) consumer;
    IF owners IS NULL THEN
        RETURN NULL;
    END IF;
    IF CURRENT_USER::pg_catalog.regrole OPERATOR(pg_catalog.=) ANY (owners) THEN
        RETURN CURRENT_USER::pg_catalog.regrole;
    END IF;
    IF pg_catalog.cardinality(owners) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'consumer name "%" is ambiguous', consumer
            USING ERRCODE = 'ambiguous_parameter',
                  DETAIL = pg_catalog.format('Roles %s each have a consumer of that name.',
                                             pg_catalog.array_to_string(owners::pg_catalog.text[], ', ')),
                  HINT = 'SET ROLE to the role whose consumer you mean.';
    END IF;
    RETURN owners[1];
END
$$;
COMMENT ON FUNCTION evlog.consumer_owner(text) IS
    'owner of the consumer a name means for the caller: its own, else the only one it can see';

ALTER TABLE evlog.consumers ENABLE ROW LEVEL SECURITY;
CREATE POLICY consumers_own ON evlog.consumers
    USING (pg_catalog.pg_has_role(owner::pg_catalog.oid, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(owner::pg_catalog.oid, 'MEMBER'));
COMMENT ON POLICY consumers_own ON evlog.consumers IS
    'a role sees and changes only the consumers of roles it is a member of (its own)';

CREATE FUNCTION evlog.consumers_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.name IS NULL OR pg_catalog.length(NEW.name) OPERATOR(pg_catalog.<) 1
       OR pg_catalog.length(NEW.name) OPERATOR(pg_catalog.>) 63 THEN
        RAISE EXCEPTION 'consumer name must be 1 to 63 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        IF NEW.position OPERATOR(pg_catalog.<) OLD.position THEN
            RAISE EXCEPTION 'consumer "%" cannot move back from % to %', OLD.name, OLD.position, NEW.position
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'To read again from an earlier seq, drop the consumer and create it with that after_seq.';
        END IF;
        IF NEW.name OPERATOR(pg_catalog.=) OLD.name AND NEW.owner OPERATOR(pg_catalog.=) OLD.owner THEN
            RETURN NEW;
        END IF;
    END IF;
    IF (SELECT pg_catalog.count(*) FROM evlog.consumers c
         WHERE c.owner OPERATOR(pg_catalog.=) NEW.owner) OPERATOR(pg_catalog.>=) 100
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r
                 WHERE r.oid OPERATOR(pg_catalog.=) NEW.owner::pg_catalog.oid) THEN
        RAISE EXCEPTION 'role % already has 100 consumers', NEW.owner
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Drop consumers it no longer uses with evlog_consumer_drop().';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION evlog.consumers_check() IS
    'trigger: a consumer name is 1 to 63 characters, a role has at most 100 consumers, a position never moves back';
REVOKE ALL ON FUNCTION evlog.consumers_check() FROM PUBLIC;
CREATE TRIGGER consumers_check
    BEFORE INSERT OR UPDATE ON evlog.consumers
    FOR EACH ROW EXECUTE FUNCTION evlog.consumers_check();

-- The consumer functions run with the caller's rights: reading needs its
-- own SELECT on the log (evlog_read checks it), the rows are its own.
CREATE OR REPLACE FUNCTION @extschema@.evlog_consumer_create(name text, after_seq bigint DEFAULT 0)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'consumer name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO evlog.consumers (name, position)
    VALUES (evlog_consumer_create.name, COALESCE(after_seq, 0));
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'consumer "%" already exists', name
        USING ERRCODE = 'duplicate_object',
              HINT = 'Resume it with evlog_consumer_next(), or drop it first with evlog_consumer_drop().';
END
$$;

-- evlog_consumer_next: with the caller's rights, see the no-stalls section
-- (one definition: it also refuses to skip a pruned gap)

CREATE OR REPLACE FUNCTION @extschema@.evlog_consumer_ack(name text, seq bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    safe bigint := @extschema@.evlog_safe_seq();
    pos bigint;
BEGIN
    IF seq IS NULL OR seq OPERATOR(pg_catalog.>) safe THEN
        RAISE EXCEPTION 'consumer "%" cannot acknowledge a seq above evlog_safe_seq()', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('seq %s is above the safe seq %s: events there may still be in flight and cannot have been read.',
                                             pg_catalog.quote_nullable(seq), safe),
                  HINT = 'Acknowledge the last seq evlog_consumer_next returned.';
    END IF;
    UPDATE evlog.consumers c
       SET position = pg_catalog.int8larger(c.position, seq), acked_at = pg_catalog.now()
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_ack.name
       AND c.owner OPERATOR(pg_catalog.=) evlog.consumer_owner(evlog_consumer_ack.name)
    RETURNING c.position INTO pos;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'A consumer is visible only to the role that created it.';
    END IF;
    RETURN pos;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.evlog_consumer_drop(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM evlog.consumers c
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_drop.name
       AND c.owner OPERATOR(pg_catalog.=) evlog.consumer_owner(evlog_consumer_drop.name);
    RETURN FOUND;
END
$$;

-- evlog.consumer_lag: with the caller's rights and an owner column, see
-- the no-stalls section (one definition)

CREATE OR REPLACE FUNCTION @extschema@.evlog_grant_reader(role regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA evlog TO %s', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.event_log, evlog.kinds, evlog.probe_failures, '
                              'evlog.rollouts, evlog.host_states, evlog.derived_skips, evlog.derived_stats TO %s', role);
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %s', '@extschema@', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.inflight, evlog.consumer_lag, evlog.queue_status, evlog.gaps, evlog.watermark TO %s', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.chain, evlog.chain_anchor, evlog.chain_status, evlog.chain_export TO %s', role);
    -- its own consumers only (row-level security)
    EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON evlog.consumers TO %s', role);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION %1$I.evlog_last_seq(), '
        '%1$I.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer), '
        '%1$I.evlog_safe_seq(), %1$I.evlog_read(bigint, integer), %1$I.evlog_inflight(), '
        '%1$I.evlog_consumer_create(text, bigint), %1$I.evlog_consumer_next(text, integer), '
        '%1$I.evlog_consumer_ack(text, bigint), %1$I.evlog_consumer_drop(text), %1$I.evlog_queue_status(), '
        '%1$I.evlog_verify_chain(bigint, bigint), %1$I.evlog_chain_head() TO %2$s',
        '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_reader(regrole) IS
    'let a role read the log and its derived tables (SELECT, evlog_query, evlog_read, its own named consumers) and verify its hash chain, and nothing else';

-- roles granted reading under 1.1 keep their consumer functions working
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::pg_catalog.regrole AS role
               FROM pg_catalog.pg_proc p
              CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.evlog_consumer_next(text, integer)'::pg_catalog.regprocedure
                AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
                AND a.grantee OPERATOR(pg_catalog.<>) 0
                AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON evlog.consumers TO %s', r.role);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.evlog_consumer_drop(text) TO %s', r.role);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.evlog_register_view(name text, handler regprocedure, target regclass,
                                                populate boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p pg_catalog.pg_proc;
BEGIN
    SELECT * INTO p FROM pg_catalog.pg_proc WHERE oid OPERATOR(pg_catalog.=) handler;
    IF p.pronargs OPERATOR(pg_catalog.<>) 1
       OR p.proargtypes[0] OPERATOR(pg_catalog.<>) 'evlog.event_log'::pg_catalog.regtype
       OR p.prorettype OPERATOR(pg_catalog.<>) 'pg_catalog.void'::pg_catalog.regtype
       OR p.proretset OR p.prokind OPERATOR(pg_catalog.<>) 'f' THEN
        RAISE EXCEPTION 'handler % has the wrong signature', handler
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A derived-view handler is a function taking one evlog.event_log row and returning void.',
                  HINT = 'CREATE FUNCTION my_handler(e evlog.event_log) RETURNS void ...';
    END IF;
    -- the handler runs in appending sessions: a search_path of its own that
    -- does not end with pg_temp would find an appender's temporary tables
    -- first (the append refuses to call such a handler: src/derive.c)
    IF EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) AS c(setting)
                WHERE c.setting OPERATOR(pg_catalog.~~) 'search_path=%'
                  AND pg_catalog.btrim(pg_catalog.regexp_replace(pg_catalog.substr(c.setting, 13), '^.*,', ''), ' "')
                      OPERATOR(pg_catalog.<>) 'pg_temp') THEN
        RAISE EXCEPTION 'handler % sets a search_path that does not end with pg_temp', handler
            USING ERRCODE = 'invalid_function_definition',
                  DETAIL = 'The handler runs in the appending session, whose temporary tables such a search_path finds first.',
                  HINT = 'ALTER FUNCTION ... SET search_path = ..., pg_temp; or drop the SET clause and name tables with their schema.';
    END IF;
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$'
       OR name OPERATOR(pg_catalog.=) ANY (ARRAY['probe_failures', 'rollouts', 'host_states', 'all']) THEN
        RAISE EXCEPTION 'invalid or reserved view name %', pg_catalog.quote_nullable(name)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A view name is 1 to 63 lower-case letters, digits or underscores, starting with a letter, and not probe_failures, rollouts, host_states or all.';
    END IF;
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) target)
       NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', target USING ERRCODE = 'wrong_object_type';
    END IF;
    INSERT INTO evlog.derived_views (name, handler, target)
    VALUES (evlog_register_view.name, evlog_register_view.handler, evlog_register_view.target);
    IF populate THEN
        RETURN @extschema@.evlog_rebuild(evlog_register_view.name);
    END IF;
    RETURN 0;
END
$$;
-- Views over the log read with the caller's rights: a role whose SELECT on
-- evlog.event_log was revoked reads no event through them (chain_export
-- carries every payload).
ALTER VIEW evlog.chain_export SET (security_invoker = true);
ALTER VIEW evlog.chain_status SET (security_invoker = true);
ALTER VIEW evlog.gaps SET (security_invoker = true);
ALTER VIEW evlog.derived_stats SET (security_invoker = true);

COMMENT ON VIEW evlog.queue_status IS
    'the queue of this database (a superuser: of every database using evlog_enqueue): size and use, counters since server start, the writer';
COMMENT ON COLUMN evlog.queue_status.last_error IS
    'error of the last failed batch, until a batch succeeds (superusers only: it may quote an event; NULL for other roles)';

UPDATE pg_catalog.pg_init_privs i SET initprivs = u.initprivs
  FROM evlog.update_init_privs_sec u
 WHERE i.objoid OPERATOR(pg_catalog.=) u.objoid AND i.classoid OPERATOR(pg_catalog.=) u.classoid
   AND i.objsubid OPERATOR(pg_catalog.=) u.objsubid;
DROP TABLE evlog.update_init_privs_sec;

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
        '%1$I.evlog_flush(interval), '
        '%1$I.evlog_append(text, timestamptz, text, text, text, text, bigint, text), '
        '%1$I.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text), '
        '%1$I.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text), '
        '%1$I.evlog_stream_head(text, text), '
        '%1$I.evlog_stream_read(text, text, bigint, integer) TO %2$s',
        '@extschema@', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.my_dead_letters TO %s', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_writer(regrole) IS
    'let a role append (and enqueue) events, see its own dead letters and read the log; it still cannot UPDATE, DELETE or TRUNCATE';

-- roles made writers before 1.2 see their dead letters too; those grants
-- stay the database's own (kept out of the initial privileges, as in
-- evlog--1.0--1.1.sql), so pg_dump carries them
CREATE TABLE evlog.update_init_privs_input AS
SELECT i.objoid, i.classoid, i.objsubid, i.initprivs
  FROM pg_catalog.pg_init_privs i
 WHERE i.objoid OPERATOR(pg_catalog.=) 'evlog.my_dead_letters'::pg_catalog.regclass
   AND i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass;
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
UPDATE pg_catalog.pg_init_privs i SET initprivs = u.initprivs
  FROM evlog.update_init_privs_input u
 WHERE i.objoid OPERATOR(pg_catalog.=) u.objoid AND i.classoid OPERATOR(pg_catalog.=) u.classoid
   AND i.objsubid OPERATOR(pg_catalog.=) u.objsubid;
DROP TABLE evlog.update_init_privs_input;

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
-- tools/verify_chain.py reads.  The chain's encoding is unchanged.  Read with the
-- caller's rights, as the security section set it (a replace resets it).
CREATE OR REPLACE VIEW evlog.chain_export WITH (security_invoker = true) AS
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

-- ==== derived tables in seq order ====

/*
 * The registers behind evlog.rollouts (src/derive.c explains the rule): the
 * lowest-seq RolloutOpened, and for each field the seq and value of its
 * highest-seq writer.  Every rollout event locks its rollout's row here
 * (creating it if need be), so concurrent appenders of one rollout merge in
 * turn, and evlog.rollouts is rewritten from the merged registers.  Derived
 * like the rollouts rows it stands for: not dumped, rebuilt and verified
 * with them, pruned with their events.
 */
CREATE TABLE evlog.rollout_state (
    rollout_id     text PRIMARY KEY,
    open_seq       bigint,
    channel        text,
    target_ref     text,
    opened_at      timestamptz,
    wave_seq       bigint,
    wave           integer,
    state_seq      bigint,
    state          text,
    terminal_seq   bigint,
    terminal_at    timestamptz,
    superseded_seq bigint,
    superseded_at  timestamptz,
    early_seqs     bigint[]
);
REVOKE ALL ON evlog.rollout_state FROM PUBLIC;
COMMENT ON TABLE evlog.rollout_state IS 'internal, derived: per rollout, the events evlog.rollouts is computed from (lowest-seq opening, highest-seq writer of each field)';
COMMENT ON COLUMN evlog.rollout_state.rollout_id IS 'rollout named by a RolloutOpened, WaveAdvanced or RecordRolloutTransition';
COMMENT ON COLUMN evlog.rollout_state.open_seq IS 'seq of the lowest-seq RolloutOpened; NULL while none committed';
COMMENT ON COLUMN evlog.rollout_state.channel IS 'its channel';
COMMENT ON COLUMN evlog.rollout_state.target_ref IS 'its targetRef';
COMMENT ON COLUMN evlog.rollout_state.opened_at IS 'its "at" (the event ts when absent)';
COMMENT ON COLUMN evlog.rollout_state.wave_seq IS 'seq of the highest-seq WaveAdvanced, below the opening or not';
COMMENT ON COLUMN evlog.rollout_state.wave IS 'its toWave';
COMMENT ON COLUMN evlog.rollout_state.state_seq IS 'seq of the highest-seq RecordRolloutTransition';
COMMENT ON COLUMN evlog.rollout_state.state IS 'its "to"';
COMMENT ON COLUMN evlog.rollout_state.terminal_seq IS 'seq of the highest-seq transition to Terminal';
COMMENT ON COLUMN evlog.rollout_state.terminal_at IS 'its "at"';
COMMENT ON COLUMN evlog.rollout_state.superseded_seq IS 'seq of the highest-seq transition to Superseded';
COMMENT ON COLUMN evlog.rollout_state.superseded_at IS 'its "at"';
COMMENT ON COLUMN evlog.rollout_state.early_seqs IS 'ascending seqs of the waves and transitions below the opening (all of them while there is none): the rollout''s unknown_rollout skips';
COMMENT ON INDEX evlog.rollout_state_pkey IS 'one row per rollout; the lock concurrent appenders of a rollout take in turn';

/*
 * evlog_verify(view, replay_order): compare with a replay in descending seq
 * order ('reverse') instead of seq order ('seq', what evlog_verify(view)
 * does).  Every built-in rule gives the same tables either way; a user
 * view's handler that does not is order-dependent (README).
 */
CREATE FUNCTION @extschema@.evlog_verify(view text, replay_order text)
RETURNS TABLE (view text, difference text, "row" jsonb)
AS 'MODULE_PATHNAME', 'evlog_verify'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_verify(text, text) IS
    'rows that differ between a derived table and a replay of the log in the given order (seq, or reverse: descending seq); a view whose handler is order-dependent differs under reverse';
REVOKE ALL ON FUNCTION @extschema@.evlog_verify(text, text) FROM PUBLIC;

/*
 * The registers of the rollouts already in the log, and their rollouts rows
 * and skips as a replay in seq order has them (1.1 derived them in commit
 * order).  Plain SQL over the log, the rules of src/derive.c: the lowest-seq
 * opening; each field's highest-seq writer; waves and transitions below the
 * opening are unknown_rollout skips, openings above it duplicate_open ones.
 * (evlog_rebuild cannot run here: its temporary tables would become members
 * of the extension.)
 */
WITH ev AS (
    SELECT e.seq, e.ts, e.payload AS p,
           COALESCE(e.payload OPERATOR(pg_catalog.->>) 'rolloutId', e.rollout_id) AS rid,
           CASE WHEN e.kind OPERATOR(pg_catalog.=) 'rollout_event'
                 AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'RolloutOpened' THEN 'open'
                WHEN e.kind OPERATOR(pg_catalog.=) 'rollout_event'
                 AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'WaveAdvanced' THEN 'wave'
                ELSE 'transition' END AS t
      FROM evlog.event_log e
     WHERE pg_catalog.jsonb_typeof(e.payload) OPERATOR(pg_catalog.=) 'object'
       AND ((e.kind OPERATOR(pg_catalog.=) 'rollout_event'
             AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) ANY ('{RolloutOpened,WaveAdvanced}'))
         OR (e.kind OPERATOR(pg_catalog.=) 'effect'
             AND e.payload OPERATOR(pg_catalog.->>) 'effect' OPERATOR(pg_catalog.=) 'RecordRolloutTransition'))
), evo AS (
    SELECT ev.*, pg_catalog.min(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open')
                 OVER (PARTITION BY rid) AS o
      FROM ev
), regs AS (
    SELECT rid,
           pg_catalog.min(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open') AS open_seq,
           (pg_catalog.array_agg(p ORDER BY seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open'))[1] AS open_p,
           (pg_catalog.array_agg(ts ORDER BY seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open'))[1] AS open_ts,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'wave') AS wave_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'wave'))[1] AS wave_p,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition') AS state_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'))[1] AS state_p,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Terminal') AS terminal_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Terminal'))[1] AS terminal_p,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Superseded') AS superseded_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Superseded'))[1] AS superseded_p,
           pg_catalog.array_agg(seq ORDER BY seq) FILTER (WHERE t OPERATOR(pg_catalog.<>) 'open'
               AND (o IS NULL OR seq OPERATOR(pg_catalog.<) o)) AS early_seqs
      FROM evo WHERE rid IS NOT NULL GROUP BY rid
)
INSERT INTO evlog.rollout_state
SELECT r.rid, r.open_seq,
       r.open_p OPERATOR(pg_catalog.->>) 'channel', r.open_p OPERATOR(pg_catalog.->>) 'targetRef',
       CASE WHEN r.open_seq IS NOT NULL
            THEN COALESCE((r.open_p OPERATOR(pg_catalog.->>) 'at')::pg_catalog.timestamptz, r.open_ts) END,
       r.wave_seq, (r.wave_p OPERATOR(pg_catalog.->>) 'toWave')::pg_catalog.int4,
       r.state_seq, r.state_p OPERATOR(pg_catalog.->>) 'to',
       r.terminal_seq, (r.terminal_p OPERATOR(pg_catalog.->>) 'at')::pg_catalog.timestamptz,
       r.superseded_seq, (r.superseded_p OPERATOR(pg_catalog.->>) 'at')::pg_catalog.timestamptz,
       r.early_seqs
  FROM regs r;

DELETE FROM evlog.rollouts;
INSERT INTO evlog.rollouts (rollout_id, channel, target_ref, state, current_wave, opened_event_log_seq,
                            last_transition_event_log_seq, opened_at, terminal_at, superseded_at)
SELECT s.rollout_id, s.channel, s.target_ref,
       CASE WHEN s.state_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.state ELSE 'Opening' END,
       CASE WHEN s.wave_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.wave ELSE 0 END,
       s.open_seq,
       CASE WHEN s.state_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.state_seq END,
       s.opened_at,
       CASE WHEN s.terminal_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.terminal_at END,
       CASE WHEN s.superseded_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.superseded_at END
  FROM evlog.rollout_state s
 WHERE s.open_seq IS NOT NULL;

DELETE FROM evlog.derived_skips WHERE view OPERATOR(pg_catalog.=) 'rollouts';
INSERT INTO evlog.derived_skips (event_log_seq, view, reason)
SELECT x.s, 'rollouts', 'unknown_rollout'
  FROM evlog.rollout_state s, pg_catalog.unnest(s.early_seqs) AS x(s)
UNION ALL
SELECT e.seq, 'rollouts', 'duplicate_open'
  FROM evlog.event_log e
  JOIN evlog.rollout_state s
    ON s.rollout_id OPERATOR(pg_catalog.=) COALESCE(e.payload OPERATOR(pg_catalog.->>) 'rolloutId', e.rollout_id)
 WHERE e.kind OPERATOR(pg_catalog.=) 'rollout_event'
   AND pg_catalog.jsonb_typeof(e.payload) OPERATOR(pg_catalog.=) 'object'
   AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'RolloutOpened'
   AND e.seq OPERATOR(pg_catalog.>) s.open_seq;

/*
 * The derived tables' foreign keys to evlog.event_log become triggers.  A
 * foreign key to the partitioned log checks each derived row with a query
 * on the partitioned table (about 36 us a row), and every ATTACH PARTITION
 * takes SHARE ROW EXCLUSIVE on each referencing table.  The trigger keeps
 * the guarantee (a derived row names an event in the log) and skips the
 * lookup for the rows the derive rules write for the event being appended,
 * which is in the log by construction (src/derive_trigger.c).
 */
ALTER TABLE evlog.probe_failures DROP CONSTRAINT probe_failures_event_log_seq_fkey;
ALTER TABLE evlog.rollouts DROP CONSTRAINT rollouts_opened_event_log_seq_fkey;
ALTER TABLE evlog.rollouts DROP CONSTRAINT rollouts_last_transition_event_log_seq_fkey;
ALTER TABLE evlog.host_states DROP CONSTRAINT host_states_event_log_seq_fkey;
ALTER TABLE evlog.derived_skips DROP CONSTRAINT derived_skips_event_log_seq_fkey;

CREATE FUNCTION evlog.derived_seq_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_derived_seq_check'
LANGUAGE C;
COMMENT ON FUNCTION evlog.derived_seq_check() IS
    'trigger: the seq columns named in its arguments are NULL or seqs of events in evlog.event_log (the derived tables'' foreign keys until 1.1)';
REVOKE ALL ON FUNCTION evlog.derived_seq_check() FROM PUBLIC;

CREATE TRIGGER probe_failures_event_exists AFTER INSERT OR UPDATE OF event_log_seq ON evlog.probe_failures
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('event_log_seq');
CREATE TRIGGER rollouts_events_exist
    AFTER INSERT OR UPDATE OF opened_event_log_seq, last_transition_event_log_seq ON evlog.rollouts
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('opened_event_log_seq', 'last_transition_event_log_seq');
CREATE TRIGGER host_states_event_exists AFTER INSERT OR UPDATE OF event_log_seq ON evlog.host_states
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('event_log_seq');
CREATE TRIGGER derived_skips_event_exists AFTER INSERT OR UPDATE OF event_log_seq ON evlog.derived_skips
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('event_log_seq');
COMMENT ON TRIGGER probe_failures_event_exists ON evlog.probe_failures IS 'event_log_seq names an event in the log';
COMMENT ON TRIGGER rollouts_events_exist ON evlog.rollouts IS 'opened_event_log_seq and last_transition_event_log_seq name events in the log';
COMMENT ON TRIGGER host_states_event_exists ON evlog.host_states IS 'event_log_seq names an event in the log';
COMMENT ON TRIGGER derived_skips_event_exists ON evlog.derived_skips IS 'event_log_seq names an event in the log';

-- ==== asynchronous append ====
-- The C library (queue.c, worker.c) changed how an epoch begins; the
-- table is unchanged, so a database still at 1.1 works with it too.
COMMENT ON COLUMN evlog.queue_state.epoch_start_ticket IS 'tickets above this belong to the epoch: at a clean shutdown the last ticket handed out, after a crash-accounting pass the ticket below the first one of the new server lifetime (NULL: no epoch yet)';
COMMENT ON COLUMN evlog.queue_state.epoch_started_at IS 'when the epoch began; an epoch begun before the current shared memory was created means the writer''s crash-accounting pass is still due';

-- ==== conditional append ====
/*
 * Optimistic concurrency on streams: the events of one rollout_id, or of
 * one host_id (src/stream.c, README "Conditional appends").  An append can
 * expect a stream's latest seq (0: the stream is empty) and is refused with
 * SQLSTATE EV001, nothing written and no seq spent, if the stream moved.
 * New overloads rather than new defaulted parameters on the existing
 * functions: adding a parameter would mean DROP + CREATE (grants and
 * dependants lost), and since the new parameters have no default and come
 * before event_id, every existing call still resolves to the old functions.
 */

-- The host stream's head, read by seq (the (host_id, ts) index orders by
-- ts).  On the partitioned parent: every partition gets its copy, and so do
-- the partitions evlog_create_partitions makes later.
CREATE INDEX event_log_host_seq_idx ON evlog.event_log (host_id, seq);
COMMENT ON INDEX evlog.event_log_host_seq_idx IS
    'a host''s stream in seq order: its head for conditional appends, evlog_stream_head and evlog_stream_read';

CREATE FUNCTION @extschema@.evlog_append(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload text, expected_stream text, expected_seq bigint,
    event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_append_expected_text'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append(text, timestamptz, text, text, text, text, bigint, text) IS
    'conditional append (payload as JSON text): appends only if the stream expected_stream (''rollout'' or ''host'') of the event has expected_seq as its latest seq (0: empty; NULL: no check), else SQLSTATE EV001 with the latest seq in the detail; an event_id already appended returns its seq unchecked';

CREATE FUNCTION @extschema@.evlog_append(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload jsonb, expected_stream text, expected_seq bigint,
    event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_append_expected_jsonb'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text) IS
    'conditional append (payload as jsonb): see evlog_append(text, timestamptz, text, text, text, text, bigint, text)';

CREATE FUNCTION @extschema@.evlog_append_batch(
    kinds text[], ts timestamptz[], host_ids text[], rollout_ids text[],
    payloads jsonb[], expected_streams text[], expected_seqs bigint[],
    event_ids text[] DEFAULT NULL)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'evlog_append_batch_expected_arrays'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]) IS
    'conditional batch as parallel arrays: entry i expects expected_seqs[i] (NULL: none) on its expected_streams[i] stream; only the first entry of a stream can expect a seq, later ones -1 (the previous entry of the stream in the batch); all or nothing, EV001 if a stream moved';

-- evlog_enqueue writes later, in the background writer's transaction: a
-- check at call time would be stale by then and one at write time could
-- only dead-letter the event.  Refused rather than half-kept.
CREATE FUNCTION @extschema@.evlog_enqueue(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload jsonb, expected_stream text, expected_seq bigint,
    event_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF expected_seq IS NOT NULL THEN
        RAISE EXCEPTION 'evlog_enqueue cannot append conditionally'
            USING ERRCODE = '0A000',
                  DETAIL = 'The event is written later by the background writer, when the stream may have moved.',
                  HINT = 'Use evlog_append(..., expected_stream => ..., expected_seq => ...) for a conditional append.';
    END IF;
    RETURN @extschema@.evlog_enqueue(kind, ts, host_id, rollout_id, payload, event_id);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text) IS
    'refuses an expectation (SQLSTATE 0A000: the background writer appends too late to honour it); with expected_seq NULL, evlog_enqueue';

CREATE FUNCTION @extschema@.evlog_stream_head(stream text, id text)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF stream OPERATOR(pg_catalog.=) 'rollout' THEN
        RETURN COALESCE((SELECT e.seq FROM evlog.event_log e
                          WHERE e.rollout_id OPERATOR(pg_catalog.=) id
                          ORDER BY e.seq DESC LIMIT 1), 0);
    ELSIF stream OPERATOR(pg_catalog.=) 'host' THEN
        RETURN COALESCE((SELECT e.seq FROM evlog.event_log e
                          WHERE e.host_id OPERATOR(pg_catalog.=) id
                          ORDER BY e.seq DESC LIMIT 1), 0);
    END IF;
    RAISE EXCEPTION 'stream must be ''rollout'' or ''host''' USING ERRCODE = '22023';
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_stream_head(text, text) IS
    'the latest seq of a stream (''rollout'' or ''host'', and its id) as the caller''s snapshot sees it, 0 if it has none: the expected_seq of the next conditional append';

CREATE FUNCTION @extschema@.evlog_stream_read(
    stream text, id text, after_seq bigint DEFAULT 0, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    safe bigint := @extschema@.evlog_safe_seq();
BEGIN
    IF stream OPERATOR(pg_catalog.=) 'rollout' THEN
        RETURN QUERY SELECT e.* FROM evlog.event_log e
                      WHERE e.rollout_id OPERATOR(pg_catalog.=) id
                        AND e.seq OPERATOR(pg_catalog.>) after_seq
                        AND e.seq OPERATOR(pg_catalog.<=) safe
                      ORDER BY e.seq LIMIT max_rows;
    ELSIF stream OPERATOR(pg_catalog.=) 'host' THEN
        RETURN QUERY SELECT e.* FROM evlog.event_log e
                      WHERE e.host_id OPERATOR(pg_catalog.=) id
                        AND e.seq OPERATOR(pg_catalog.>) after_seq
                        AND e.seq OPERATOR(pg_catalog.<=) safe
                      ORDER BY e.seq LIMIT max_rows;
    ELSE
        RAISE EXCEPTION 'stream must be ''rollout'' or ''host''' USING ERRCODE = '22023';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_stream_read(text, text, bigint, integer) IS
    'a stream''s events after after_seq in seq order, at most max_rows, up to evlog_safe_seq() so that a late commit is never skipped';

REVOKE ALL ON FUNCTION
    @extschema@.evlog_append(text, timestamptz, text, text, text, text, bigint, text),
    @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text),
    @extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]),
    @extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text),
    @extschema@.evlog_stream_head(text, text),
    @extschema@.evlog_stream_read(text, text, bigint, integer)
FROM PUBLIC;

-- roles already writers get the new functions; kept out of the initial
-- privileges (as in the input limits section) so pg_dump carries them
CREATE TABLE evlog.update_init_privs_occ AS
SELECT i.objoid, i.classoid, i.objsubid, i.initprivs
  FROM pg_catalog.pg_init_privs i
 WHERE i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND i.objoid OPERATOR(pg_catalog.=) ANY (ARRAY[
       '@extschema@.evlog_append(text, timestamptz, text, text, text, text, bigint, text)'::pg_catalog.regprocedure,
       '@extschema@.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text)'::pg_catalog.regprocedure,
       '@extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[])'::pg_catalog.regprocedure,
       '@extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text)'::pg_catalog.regprocedure,
       '@extschema@.evlog_stream_head(text, text)'::pg_catalog.regprocedure,
       '@extschema@.evlog_stream_read(text, text, bigint, integer)'::pg_catalog.regprocedure]::pg_catalog.oid[]);
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee
               FROM pg_catalog.pg_proc p,
                    LATERAL pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.evlog_append(text, timestamptz, text, text, jsonb, text)'::pg_catalog.regprocedure
                AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
                AND a.grantee OPERATOR(pg_catalog.<>) 0
    LOOP
        EXECUTE pg_catalog.format(
            'GRANT EXECUTE ON FUNCTION '
            '%1$I.evlog_append(text, timestamptz, text, text, text, text, bigint, text), '
            '%1$I.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text), '
            '%1$I.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]), '
            '%1$I.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text), '
            '%1$I.evlog_stream_head(text, text), '
            '%1$I.evlog_stream_read(text, text, bigint, integer) TO %2$s',
            '@extschema@', r.grantee::pg_catalog.regrole);
    END LOOP;
END
$$;
UPDATE pg_catalog.pg_init_privs i SET initprivs = u.initprivs
  FROM evlog.update_init_privs_occ u
 WHERE i.objoid OPERATOR(pg_catalog.=) u.objoid AND i.classoid OPERATOR(pg_catalog.=) u.classoid
   AND i.objsubid OPERATOR(pg_catalog.=) u.objsubid;
DROP TABLE evlog.update_init_privs_occ;

-- ==== no stalls ====
/*
 * Retention never drops what a consumer has not read (the C side: prune.c,
 * consumer_hold; the strong locks of prune and rebuild: locks.c):
 *   - evlog_prune keeps every event a named consumer has not acknowledged,
 *     unless the consumer is more than evlog.max_consumer_lag_events seqs
 *     behind (default -1: never); such a consumer is marked in
 *     evlog.consumers.pruned_unread_upto;
 *   - evlog_consumer_next then fails (55000) until the consumer
 *     acknowledges that seq: it never resumes silently after the gap;
 *   - evlog.consumer_lag shows each consumer's pruned_unread_upto and
 *     whether it holds retention back.
 */
ALTER TABLE evlog.consumers ADD COLUMN pruned_unread_upto bigint;
COMMENT ON COLUMN evlog.consumers.pruned_unread_upto IS
    'highest seq evlog_prune removed while this consumer had not acknowledged it (it was more than evlog.max_consumer_lag_events behind); NULL if none';

CREATE OR REPLACE FUNCTION @extschema@.evlog_consumer_next(name text, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pos bigint;
    lost bigint;
BEGIN
    SELECT c.position, c.pruned_unread_upto INTO pos, lost FROM evlog.consumers c
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_next.name
       AND c.owner OPERATOR(pg_catalog.=) evlog.consumer_owner(evlog_consumer_next.name);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with evlog_consumer_create(); a consumer is visible only to the role that created it.';
    END IF;
    IF lost OPERATOR(pg_catalog.>) pos THEN
        RAISE EXCEPTION 'consumer "%" fell behind retention: events after seq % up to seq % were pruned before it read them', name, pos, lost
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It was more than evlog.max_consumer_lag_events seqs behind when evlog_prune ran.',
                  HINT = pg_catalog.format('Acknowledge seq %s with evlog_consumer_ack() to go on after the gap, or drop the consumer and create it anew.', lost);
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.evlog_read(pos, max_rows);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_consumer_next(text, integer) IS
    'the next committed events after the consumer''s acknowledged position (does not move it: acknowledge with evlog_consumer_ack); fails when retention removed events the consumer had not acknowledged (see evlog.max_consumer_lag_events)';

CREATE OR REPLACE VIEW evlog.consumer_lag WITH (security_invoker = true) AS
SELECT c.name, c.position, s.safe_seq,
       (SELECT pg_catalog.count(*) FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position AND e.seq OPERATOR(pg_catalog.<=) s.safe_seq) AS events_behind,
       (SELECT e.ts FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position ORDER BY e.seq LIMIT 1) AS oldest_unread_ts,
       c.acked_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) c.acked_at AS since_ack,
       c.owner,
       c.pruned_unread_upto,
       (pg_catalog.current_setting('evlog.max_consumer_lag_events', true) IS NULL
        OR pg_catalog.current_setting('evlog.max_consumer_lag_events', true)::pg_catalog.int8 OPERATOR(pg_catalog.<) 0
        OR s.safe_seq OPERATOR(pg_catalog.-) c.position
           OPERATOR(pg_catalog.<=) pg_catalog.current_setting('evlog.max_consumer_lag_events', true)::pg_catalog.int8)
         AS holds_retention
  FROM evlog.consumers c, (SELECT @extschema@.evlog_safe_seq() AS safe_seq) s;
COMMENT ON VIEW evlog.consumer_lag IS
    'how far each of the caller''s consumers is behind: in events and in time; whether it holds retention back, and what retention removed unread';
COMMENT ON COLUMN evlog.consumer_lag.owner IS 'role the consumer belongs to';
COMMENT ON COLUMN evlog.consumer_lag.pruned_unread_upto IS
    'highest seq retention removed before this consumer acknowledged it; evlog_consumer_next fails until it acknowledges that seq';
COMMENT ON COLUMN evlog.consumer_lag.holds_retention IS
    'true when evlog_prune keeps this consumer''s unacknowledged events (evlog.max_consumer_lag_events is -1, or the consumer is within it, in this session''s setting)';
