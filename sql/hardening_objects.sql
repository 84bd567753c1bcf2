--
-- hardening_objects: no code a role owns runs with the rights of evlog's
-- owner, and readers and writers touch only what is theirs.  Every place
-- where evlog runs SQL on someone else's behalf meets a hostile object of
-- an application role: a trigger, a table turned into a view, a cast, an
-- operator in public, a handler whose owner changes, a DROP.  The payload
-- tries to make the role superuser and reports (a WARNING, which survives
-- the rollback of evlog_verify's subtransaction) and records the role it
-- ran as: rolsuper must stay false, the role must be the attacker's own.
--
\set VERBOSITY terse
SET client_min_messages = warning;
DROP DATABASE IF EXISTS evlog_hardobj;
CREATE DATABASE evlog_hardobj;
\c evlog_hardobj
SET client_min_messages = warning;
\set VERBOSITY terse
SET TIME ZONE 'UTC';
CREATE EXTENSION evlog;
SET evlog.partition_size = 16;

DROP ROLE IF EXISTS evlog_mallory;
DROP ROLE IF EXISTS evlog_boss;
CREATE ROLE evlog_mallory;
CREATE ROLE evlog_boss SUPERUSER;
GRANT CREATE ON SCHEMA public TO evlog_mallory;
SELECT evlog_grant_writer('evlog_mallory');

-- the attacker's payload: who ran it, and an attempt at superuser
SET ROLE evlog_mallory;
CREATE TABLE public.m_ran (who name, what text);
GRANT INSERT ON public.m_ran TO PUBLIC;
CREATE FUNCTION public.m_evil(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE WARNING 'payload (%) ran as %', what, current_user;
    INSERT INTO public.m_ran VALUES (current_user, what);
    BEGIN
        ALTER ROLE evlog_mallory SUPERUSER;
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
END $$;
-- a registered view of its own: target and handler
CREATE TABLE public.m_target (event_log_seq bigint, kind text);
CREATE FUNCTION public.m_handler(e evlog.event_log) RETURNS void LANGUAGE sql AS
  $$ INSERT INTO public.m_target VALUES (e.seq, e.kind) $$;
RESET ROLE;
CREATE VIEW attack_result AS
  SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = 'evlog_mallory') AS mallory_is_superuser,
         (SELECT string_agg(DISTINCT who || ':' || what, ', ') FROM public.m_ran) AS payload_ran_as;
SELECT evlog_register_view('m_view', 'public.m_handler(evlog.event_log)', 'public.m_target');

-- 40 events, one a day from 2026-01-01
SELECT count(*) AS appended FROM (
  SELECT evlog_append('agent_event', '2026-01-01'::timestamptz + (i - 1) * interval '1 day', 'h' || i, NULL,
                      '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-01-01T00:00:00Z"}')
    FROM generate_series(1, 40) i) s;
SELECT evlog_seal() AS sealed;

-- 1. retention deletes from the target: a BEFORE DELETE trigger there
SET ROLE evlog_mallory;
CREATE FUNCTION public.m_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.m_evil('prune trigger');
    -- while the append-only bypass is open, this would remove chain links
    BEGIN
        DELETE FROM evlog.chain WHERE seq > 16;
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN NULL;
END $$;
CREATE TRIGGER m_trig BEFORE DELETE ON public.m_target
    FOR EACH STATEMENT EXECUTE FUNCTION public.m_trig();
RESET ROLE;
SELECT evlog_prune('2026-01-20') AS pruned;
SELECT * FROM attack_result;
SELECT min(event_log_seq) AS target_lowest FROM public.m_target;
SELECT first_bad_seq, events_checked AS events_checked FROM evlog_verify_chain();
TRUNCATE public.m_ran;
SET ROLE evlog_mallory;
DROP TRIGGER m_trig ON public.m_target;
RESET ROLE;

-- 2. verify copies and compares the target: a cast to json on a column
-- type of its own (to_jsonb of the differing row calls it)
SET ROLE evlog_mallory;
CREATE TYPE public.m_mood AS ENUM ('calm', 'angry');
CREATE FUNCTION public.m_mood_json(public.m_mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.m_evil('cast to json');
    RETURN to_json($1::text);
END $$;
CREATE CAST (public.m_mood AS json) WITH FUNCTION public.m_mood_json(public.m_mood);
ALTER TABLE public.m_target ADD COLUMN mood public.m_mood;
INSERT INTO public.m_target VALUES (1000, 'forged', 'angry');
RESET ROLE;
SELECT view, difference, "row" FROM evlog_verify('m_view');
SELECT * FROM attack_result;
TRUNCATE public.m_ran;

-- 3. verify and rebuild of a target the owner turned into a view
SET ROLE evlog_mallory;
CREATE TABLE public.m_target2 (event_log_seq bigint);
CREATE FUNCTION public.m_noop(e evlog.event_log) RETURNS void LANGUAGE sql AS $$ SELECT $$;
RESET ROLE;
SELECT evlog_register_view('m_view2', 'public.m_noop(evlog.event_log)', 'public.m_target2', false);
SET ROLE evlog_mallory;
CREATE FUNCTION public.m_rows() RETURNS SETOF bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.m_evil('_RETURN rule');
    RETURN;
END $$;
CREATE RULE "_RETURN" AS ON SELECT TO public.m_target2 DO INSTEAD SELECT public.m_rows() AS event_log_seq;
CREATE RULE m_nodelete AS ON DELETE TO public.m_target2 DO INSTEAD NOTHING;
RESET ROLE;
SELECT relkind FROM pg_class WHERE oid = 'public.m_target2'::regclass;
SELECT * FROM evlog_verify('m_view2');
SELECT evlog_rebuild('m_view2');
SELECT * FROM attack_result;
SELECT evlog_unregister_view('m_view2');

-- 4. an operator in public, on the caller's search_path, during a rebuild
-- that has rows to delete
SET ROLE evlog_mallory;
CREATE FUNCTION public.m_receq(record, record) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.m_evil('operator =(record, record)');
    RETURN false;
END $$;
CREATE OPERATOR public.= (LEFTARG = record, RIGHTARG = record, FUNCTION = public.m_receq);
RESET ROLE;
INSERT INTO evlog.probe_failures (event_log_seq, probe_name, observed_at)
  SELECT min(seq), 'forged', '2026-01-01' FROM evlog.event_log;
SET search_path = public, pg_catalog;
SELECT evlog_rebuild('probe_failures') > 0 AS rebuilt;
SELECT count(*) AS forged_left FROM evlog.probe_failures WHERE probe_name = 'forged';
SELECT count(*) AS differences FROM evlog_verify('probe_failures');
RESET search_path;
SELECT * FROM attack_result;

-- 5. a handler's owner changes in a long-lived session: the new owner's
-- body runs as the new owner, not as the old one (a superuser)
CREATE TABLE public.boss_target (event_log_seq bigint);
GRANT ALL ON public.boss_target TO PUBLIC;
CREATE FUNCTION public.boss_handler(e evlog.event_log) RETURNS void LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.boss_target VALUES (e.seq); END $$;
ALTER FUNCTION public.boss_handler(evlog.event_log) OWNER TO evlog_boss;
SELECT evlog_register_view('boss_view', 'public.boss_handler(evlog.event_log)', 'public.boss_target', false);
-- this session caches the handler and its owner
SELECT evlog_append('agent_event', '2026-03-01', 'h', NULL, '{"kind":"X"}') > 0 AS appended;
ALTER FUNCTION public.boss_handler(evlog.event_log) OWNER TO evlog_mallory;
SET ROLE evlog_mallory;
CREATE OR REPLACE FUNCTION public.boss_handler(e evlog.event_log) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.m_evil('handler after owner change');
END $$;
RESET ROLE;
SELECT evlog_append('agent_event', '2026-03-02', 'h', NULL, '{"kind":"X"}') > 0 AS appended;
SELECT * FROM attack_result;
SELECT evlog_unregister_view('boss_view');

-- 6. a registered handler or target cannot be dropped; appends go on
SET ROLE evlog_mallory;
DROP FUNCTION public.m_handler(evlog.event_log);
DROP TABLE public.m_target;
RESET ROLE;
SELECT evlog_append('agent_event', '2026-03-03', 'h', NULL, '{"kind":"X"}') > 0 AS appended;
SELECT count(*) AS target_rows_for_it FROM public.m_target
 WHERE event_log_seq = (SELECT max(seq) FROM evlog.event_log);
SELECT evlog_unregister_view('m_view');
SET ROLE evlog_mallory;
DROP FUNCTION public.m_handler(evlog.event_log);
RESET ROLE;

-- 7. the sentinel kinds are evlog's own
SET ROLE evlog_mallory;
SELECT evlog_append('gap', '2026-03-04', NULL, NULL, '{"from_seq": 1, "to_seq": 100}');
SELECT evlog_append('retention', '2026-03-04', NULL, NULL, '{"from_seq": 1}'::jsonb);
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-03-04", "payload": {}},
                            {"kind": "gap", "ts": "2026-03-04", "payload": {}}]'::jsonb);
SELECT evlog_append_batch(ARRAY['retention'], ARRAY['2026-03-04'::timestamptz], NULL, NULL, ARRAY['{}'::jsonb], NULL);
RESET ROLE;
-- the one sentinel is the retention event of the prune above
SELECT kind, count(*) FROM evlog.event_log WHERE kind IN ('gap', 'retention') GROUP BY kind;

-- 8. partitions go where evlog puts them, not where an appender's
-- default_tablespace says
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE evlog_hardobj_ts LOCATION '';
RESET allow_in_place_tablespaces;
SET ROLE evlog_mallory;
SET default_tablespace = evlog_hardobj_ts;
SELECT count(*) AS appended FROM (
  SELECT evlog_append('agent_event', '2026-04-01', 'h', NULL, '{"kind":"X"}') FROM generate_series(1, 40)) s;
RESET default_tablespace;
RESET ROLE;
SELECT count(*) AS partitions_in_its_tablespace FROM pg_class
 WHERE reltablespace = (SELECT oid FROM pg_tablespace WHERE spcname = 'evlog_hardobj_ts');
SELECT count(*) > 3 AS partitions FROM evlog.partitions;

-- 9. consumers belong to the role that created them
DROP ROLE IF EXISTS evlog_billing;
DROP ROLE IF EXISTS evlog_snoop;
CREATE ROLE evlog_billing;
CREATE ROLE evlog_snoop;
SELECT evlog_grant_reader('evlog_billing');
SELECT evlog_grant_reader('evlog_snoop');
SET ROLE evlog_billing;
SELECT evlog_consumer_create('billing');
SELECT count(*) AS read FROM evlog_consumer_next('billing', 5);
SELECT name, position, owner FROM evlog.consumer_lag;
SET ROLE evlog_snoop;
SELECT evlog_consumer_ack('billing', evlog_safe_seq());
SELECT count(*) FROM evlog_consumer_next('billing');
SELECT evlog_consumer_drop('billing') AS dropped;
UPDATE evlog.consumers SET position = 1000 WHERE name = 'billing';
SELECT count(*) AS consumers_seen FROM evlog.consumers;
SELECT count(*) AS lag_rows FROM evlog.consumer_lag;
INSERT INTO evlog.consumers (name, owner) VALUES ('planted', 'evlog_billing');
SELECT evlog_consumer_create(repeat('x', 64));
SELECT count(*) AS created FROM (SELECT evlog_consumer_create('snoop_' || i) FROM generate_series(1, 100) i) s;
SELECT evlog_consumer_create('snoop_101');
RESET ROLE;
SELECT owner, count(*) FROM evlog.consumers GROUP BY 1 ORDER BY 1;
SELECT position FROM evlog.consumers WHERE name = 'billing';
-- reading through a consumer needs the caller's own SELECT on the log
REVOKE SELECT ON evlog.event_log FROM evlog_billing;
SET ROLE evlog_billing;
SELECT count(*) FROM evlog_consumer_next('billing');
SELECT evlog_consumer_drop('billing') AS dropped;
RESET ROLE;

-- 10. a handler (or a target's trigger) runs a plain SET: the setting
-- must not outlive the call, or the caller's session (a superuser's, a
-- background worker's) goes on with the search_path the handler chose and
-- resolves its next now() to the attacker's function
TRUNCATE public.m_ran;
SET ROLE evlog_mallory;
CREATE TABLE public.m_target3 (event_log_seq bigint);
CREATE FUNCTION public.m_set_handler(e evlog.event_log) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.m_target3 VALUES (e.seq);
    PERFORM pg_catalog.set_config('search_path', 'public, pg_catalog', false);
    PERFORM pg_catalog.set_config('statement_timeout', '1234', false);
END $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.m_evil('now() on a search_path a handler set');
    RETURN pg_catalog.now();
END $$;
CREATE FUNCTION public.m_set_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'public, pg_catalog', false);
    RETURN NULL;
END $$;
CREATE TRIGGER m_set_trig BEFORE DELETE ON public.m_target3
    FOR EACH STATEMENT EXECUTE FUNCTION public.m_set_trig();
RESET ROLE;
SELECT evlog_register_view('m_view3', 'public.m_set_handler(evlog.event_log)', 'public.m_target3', false);
SHOW search_path;
SELECT evlog_append('agent_event', '2026-05-01', 'h', NULL, '{"kind":"X"}') > 0 AS appended;
SHOW search_path;
SHOW statement_timeout;
SELECT now() IS NOT NULL AS called_now;
SELECT * FROM attack_result;
RESET search_path;
RESET statement_timeout;
TRUNCATE public.m_ran;
-- rebuild empties the target as its owner: its trigger's SET is undone too
SELECT evlog_rebuild('m_view3') > 0 AS rebuilt;
SHOW search_path;
SELECT now() IS NOT NULL AS called_now;
SELECT * FROM attack_result;
RESET search_path;
SELECT evlog_unregister_view('m_view3');
DROP FUNCTION public.now();

-- 11. consumer names are per role: a reader cannot take the name another
-- role's application will create, nor learn that another role uses a name
DROP ROLE IF EXISTS evlog_squat;
CREATE ROLE evlog_squat;
SELECT evlog_grant_reader('evlog_squat');
GRANT SELECT ON evlog.event_log TO evlog_billing;
SET ROLE evlog_squat;
SELECT evlog_consumer_create('invoices', 5);
SET ROLE evlog_billing;
SELECT evlog_consumer_create('invoices');
SELECT evlog_consumer_create('invoices');
SELECT evlog_consumer_ack('invoices', 3) AS acked;
SELECT count(*) AS read FROM evlog_consumer_next('invoices', 2);
SELECT name, position, owner FROM evlog.consumer_lag;
SET ROLE evlog_squat;
SELECT name, position, owner FROM evlog.consumer_lag;
SELECT evlog_consumer_drop('invoices') AS dropped;
SELECT evlog_consumer_drop('invoices') AS dropped_twice;
SET ROLE evlog_billing;
SELECT name, position, owner FROM evlog.consumers;
SET ROLE evlog_squat;
SELECT evlog_consumer_create('invoices', 7);
RESET ROLE;
-- a superuser sees both: the name is ambiguous unless it is its own
SELECT count(*) FROM evlog_consumer_next('invoices');
SELECT name, position, owner FROM evlog.consumers WHERE name = 'invoices' ORDER BY owner::text;

-- 12. the views over the log read with the caller's rights: without its
-- SELECT on the log a role reads no event through them
SELECT evlog_seal() >= 0 AS sealed;
REVOKE SELECT ON evlog.event_log FROM evlog_snoop;
SET ROLE evlog_snoop;
SELECT count(*) FROM evlog.chain_export WHERE NOT anchor;
SELECT count(*) FROM evlog.gaps;
SELECT events_behind FROM evlog.chain_status;
RESET ROLE;
SET ROLE evlog_billing;
SELECT count(*) > 0 AS billing_reads_export FROM evlog.chain_export WHERE NOT anchor;
RESET ROLE;

-- 13. a payload that stores small and prints huge: the chain hashes
-- payload::text, readers and pg_dump receive it; a writer must not be able
-- to store an event that no one can print (evlog_seal would fail on it for
-- ever).  Numbers are bounded (at most 1000 digits each side of the
-- point) and the payload's printed size is held to the limit.
SET evlog.max_payload_bytes = '8kB';
SET ROLE evlog_mallory;
SELECT evlog_append('agent_event', '2026-06-01', 'h', NULL, '{"n": 1e100000}');
SELECT evlog_append('agent_event', '2026-06-01', 'h', NULL, '{"n": 1e-10000}'::jsonb);
SELECT evlog_append('agent_event', '2026-06-01', 'h', NULL,
                    ('{"n": [1, {"m": [' || repeat('1e1000,', 9) || '1e1000]}]}')::jsonb);
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-06-01", "payload": {"n": 1e100000}}]'::jsonb);
SELECT evlog_append_batch(ARRAY['agent_event'], ARRAY['2026-06-01'::timestamptz], NULL, NULL,
                          ARRAY['{"n": 1e100000}'::jsonb], NULL);
-- ordinary numbers still go in
SELECT evlog_append('agent_event', '2026-06-01', 'h', NULL,
                    '{"n": 12345678901234567890.5, "m": -1.5e3, "z": 0, "f": 0.000001}') > 0 AS appended;
RESET ROLE;
RESET evlog.max_payload_bytes;
SELECT max(length(payload::text)) < 8192 AS every_payload_prints_small FROM evlog.event_log;
SELECT evlog_seal() >= 0 AS sealed;

-- 14. a writer's session settings do not decide derived rows: only RFC 3339
-- times with an offset or Z are read (parsed by evlog, not by the session's
-- TimeZone and DateStyle); a time without a zone, a DateStyle-dependent
-- one and a time relative to the moment it is read are refused, so that a
-- replay finds the same rows and evlog_verify stays clean
SET ROLE evlog_mallory;
SET TimeZone = 'Pacific/Kiritimati';
SET DateStyle = 'SQL, DMY';
SELECT evlog_append('agent_event', '2026-06-02', 'h', NULL,
  '{"kind":"ProbeResult","probeName":"zoneless","mode":"enforce","status":"fail","observedAt":"2026-01-02 00:00:00"}') > 0 AS appended;
SELECT evlog_append('agent_event', '2026-06-02', 'h', NULL,
  '{"kind":"ProbeResult","probeName":"dmy","mode":"enforce","status":"fail","observedAt":"03/04/2026 05:06"}') > 0 AS appended;
SELECT evlog_append('agent_event', '2026-06-02', 'h', NULL,
  '{"kind":"ProbeResult","probeName":"relative","mode":"enforce","status":"fail","observedAt":"now"}');
SELECT evlog_append('agent_event', '2026-06-02', 'h', NULL,
  '{"kind":"ProbeResult","probeName":"relative","mode":"enforce","status":"fail","observedAt":"Tomorrow 10:00"}');
RESET TimeZone;
RESET DateStyle;
RESET ROLE;
SELECT probe_name, observed_at AT TIME ZONE 'UTC' AS observed_utc FROM evlog.probe_failures
 WHERE probe_name IN ('zoneless', 'dmy', 'relative') ORDER BY 1;
SELECT view, difference FROM evlog_verify('probe_failures');

-- 15. a handler runs in the appending session: one whose own search_path
-- does not end with pg_temp finds an appender's temporary table before its
-- own, and that table's trigger runs as the handler's owner (here a
-- superuser).  Such a handler is refused at registration and at the append.
TRUNCATE public.m_ran;
CREATE TABLE public.boss_t2 (seq bigint);
CREATE FUNCTION public.boss_h2(e evlog.event_log) RETURNS void LANGUAGE plpgsql
  SET search_path = public AS $$ BEGIN INSERT INTO boss_t2 VALUES (e.seq); END $$;
ALTER FUNCTION public.boss_h2(evlog.event_log) OWNER TO evlog_boss;
SELECT evlog_register_view('boss_view2', 'public.boss_h2(evlog.event_log)', 'public.boss_t2', false);
ALTER FUNCTION public.boss_h2(evlog.event_log) SET search_path = public, pg_temp;
SELECT evlog_register_view('boss_view2', 'public.boss_h2(evlog.event_log)', 'public.boss_t2', false);
-- its owner changes the clause after registration
ALTER FUNCTION public.boss_h2(evlog.event_log) SET search_path = public;
SET ROLE evlog_mallory;
CREATE FUNCTION public.m_temp_trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.m_evil('trigger on an appender''s temporary table');
    RETURN NULL;
END $$;
CREATE TEMP TABLE boss_t2 (seq bigint);
CREATE TRIGGER m_temp_trig BEFORE INSERT ON pg_temp.boss_t2
    FOR EACH ROW EXECUTE FUNCTION public.m_temp_trig();
SELECT evlog_append('agent_event', '2026-06-03', 'h', NULL, '{"kind":"X"}') > 0 AS appended;
RESET ROLE;
SELECT * FROM attack_result;
-- with pg_temp last, the handler's own table is found and appends go on
ALTER FUNCTION public.boss_h2(evlog.event_log) SET search_path = public, pg_temp;
SET ROLE evlog_mallory;
SELECT evlog_append('agent_event', '2026-06-03', 'h', NULL, '{"kind":"X"}') > 0 AS appended;
DROP TABLE pg_temp.boss_t2;
RESET ROLE;
SELECT count(*) AS handler_rows FROM public.boss_t2;
SELECT * FROM attack_result;
SELECT evlog_unregister_view('boss_view2');

\c contrib_regression
DROP DATABASE evlog_hardobj WITH (FORCE);
DROP TABLESPACE evlog_hardobj_ts;
DROP ROLE evlog_mallory;
DROP ROLE evlog_boss;
DROP ROLE evlog_billing;
DROP ROLE evlog_snoop;
DROP ROLE evlog_squat;
