/*
 * evlog--1.1--1.2.sql — update evlog 1.1 to 1.2.  A fresh CREATE EXTENSION
 * evlog runs evlog--1.0.sql, evlog--1.0--1.1.sql and then this script.
 *
 * What changes (one section per concern below).
 *   - security boundary: a registered handler or target cannot be dropped
 *     (event trigger evlog_guard_drop); named consumers have an owner and
 *     row-level security, their functions run with the caller's rights,
 *     at most 100 per role with 1-to-63-character names; evlog.queue_status
 *     shows a role its own database's queue only, errors to superusers.
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
 *     role holds at most 100 of them, names are 1 to 63 characters, and a
 *     position never moves back (for its owner either);
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
CREATE INDEX consumers_owner_idx ON evlog.consumers (owner);
COMMENT ON INDEX evlog.consumers_owner_idx IS 'counting a role''s consumers (at most 100 each)';

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

CREATE OR REPLACE FUNCTION @extschema@.evlog_consumer_next(name text, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pos bigint;
BEGIN
    SELECT c.position INTO pos FROM evlog.consumers c
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_next.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with evlog_consumer_create(); a consumer is visible only to the role that created it.';
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.evlog_read(pos, max_rows);
END
$$;

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
    RETURNING c.position INTO pos;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'A consumer is visible only to the role that created it.';
    END IF;
    RETURN pos;
END
$$;

CREATE OR REPLACE VIEW evlog.consumer_lag WITH (security_invoker = true) AS
SELECT c.name, c.position, s.safe_seq,
       (SELECT pg_catalog.count(*) FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position AND e.seq OPERATOR(pg_catalog.<=) s.safe_seq) AS events_behind,
       (SELECT e.ts FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position ORDER BY e.seq LIMIT 1) AS oldest_unread_ts,
       c.acked_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) c.acked_at AS since_ack,
       c.owner
  FROM evlog.consumers c, (SELECT @extschema@.evlog_safe_seq() AS safe_seq) s;
COMMENT ON VIEW evlog.consumer_lag IS 'how far each of the caller''s consumers is behind: in events and in time';
COMMENT ON COLUMN evlog.consumer_lag.owner IS 'role the consumer belongs to';

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
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.inflight, evlog.consumer_lag, evlog.queue_status, evlog.gaps TO %s', role);
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

COMMENT ON VIEW evlog.queue_status IS
    'the queue of this database (a superuser: of every database using evlog_enqueue): size and use, counters since server start, the writer';
COMMENT ON COLUMN evlog.queue_status.last_error IS
    'error of the last failed batch, until a batch succeeds (superusers only: it may quote an event; NULL for other roles)';

UPDATE pg_catalog.pg_init_privs i SET initprivs = u.initprivs
  FROM evlog.update_init_privs_sec u
 WHERE i.objoid OPERATOR(pg_catalog.=) u.objoid AND i.classoid OPERATOR(pg_catalog.=) u.classoid
   AND i.objsubid OPERATOR(pg_catalog.=) u.objsubid;
DROP TABLE evlog.update_init_privs_sec;

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
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_next.name;
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
COMMENT ON COLUMN evlog.consumer_lag.pruned_unread_upto IS
    'highest seq retention removed before this consumer acknowledged it; evlog_consumer_next fails until it acknowledges that seq';
COMMENT ON COLUMN evlog.consumer_lag.holds_retention IS
    'true when evlog_prune keeps this consumer''s unacknowledged events (evlog.max_consumer_lag_events is -1, or the consumer is within it, in this session''s setting)';
