--
-- hardening_queue (evlog preloaded): evlog.queue_status shows a role its
-- own database's queue only (a superuser every database's), and the
-- writer's last error, which may quote an event, to superusers only; the
-- sentinel kinds cannot be enqueued.
--
\set VERBOSITY terse
SET client_min_messages = warning;
DROP DATABASE IF EXISTS evlog_hq_other;
DROP DATABASE IF EXISTS evlog_hq;
CREATE DATABASE evlog_hq_other;
CREATE DATABASE evlog_hq;
DROP ROLE IF EXISTS evlog_hq_reader;
CREATE ROLE evlog_hq_reader;

-- another database's queue, with an event in it
\c evlog_hq_other
\set VERBOSITY terse
CREATE EXTENSION evlog;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"other": "database"}');
SELECT evlog_flush('60s') AS flushed;

\c evlog_hq
\set VERBOSITY terse
CREATE EXTENSION evlog;
SELECT evlog_grant_writer('evlog_hq_reader');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"this": "database"}');
SELECT evlog_flush('60s') AS flushed;

-- the sentinel kinds are evlog's own, queued or not
SET ROLE evlog_hq_reader;
SELECT evlog_enqueue('gap', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
SELECT evlog_enqueue('retention', '2026-05-16 01:00:00+00', NULL, NULL, '{}'::jsonb);
RESET ROLE;

-- a superuser sees both queues, any other role its own database's
SELECT database, flushed FROM evlog.queue_status WHERE database::text LIKE 'evlog_hq%' ORDER BY 1;
SET ROLE evlog_hq_reader;
SELECT database, flushed FROM evlog.queue_status;
RESET ROLE;

-- the writer fails a batch (its lock on the log times out) and records why
BEGIN;
LOCK TABLE evlog.event_log IN ACCESS EXCLUSIVE MODE;
SET LOCAL evlog.enqueue_mode = 'call';
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"secret": "s3cr3t"}');
DO $$
BEGIN
    FOR i IN 1..1200 LOOP
        EXIT WHEN (SELECT last_error IS NOT NULL FROM evlog.queue_status
                    WHERE database OPERATOR(pg_catalog.=) pg_catalog.current_database());
        PERFORM pg_catalog.pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT last_error IS NOT NULL AS superuser_sees_error FROM evlog.queue_status
 WHERE database = current_database();
SET ROLE evlog_hq_reader;
SELECT last_error FROM evlog.queue_status;
RESET ROLE;
COMMIT;
SELECT evlog_flush('60s') AS flushed;

-- the writer runs as a superuser with its database's settings, which the
-- database's owner (here not a superuser) chooses: its own SQL must not
-- pick up an operator from a search_path that owner set
\c contrib_regression
\set VERBOSITY terse
SET client_min_messages = warning;
DROP DATABASE IF EXISTS evlog_hq_dbo;
DROP ROLE IF EXISTS evlog_hq_dbo;
CREATE ROLE evlog_hq_dbo;
CREATE DATABASE evlog_hq_dbo OWNER evlog_hq_dbo;
SET ROLE evlog_hq_dbo;
ALTER DATABASE evlog_hq_dbo SET search_path = public, pg_catalog;
RESET ROLE;
\c evlog_hq_dbo
\set VERBOSITY terse
CREATE EXTENSION evlog;
SELECT evlog_grant_writer('evlog_hq_dbo');
SET ROLE evlog_hq_dbo;
CREATE TABLE public.dbo_ran (who name);
GRANT INSERT ON public.dbo_ran TO PUBLIC;
CREATE FUNCTION public.dbo_plus(a bigint, b bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.dbo_ran VALUES (current_user);
    BEGIN
        ALTER ROLE evlog_hq_dbo SUPERUSER;
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN a OPERATOR(pg_catalog.+) b;
END $$;
CREATE OPERATOR public.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.dbo_plus);
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"n": 1}') IS NOT NULL AS queued;
SELECT evlog_flush('60s') AS flushed;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"n": 2}') IS NOT NULL AS queued;
SELECT evlog_flush('60s') AS flushed;
RESET ROLE;
SELECT count(*) AS events FROM evlog.event_log;
SELECT flushed_in_epoch > 0 AS accounted FROM evlog.queue_state;
SELECT who AS operator_ran_as FROM public.dbo_ran;
SELECT rolsuper AS dbo_is_superuser FROM pg_roles WHERE rolname = 'evlog_hq_dbo';
-- a handler's own search_path clause still applies in the writer
CREATE TABLE public.hq_target (seq bigint);
CREATE FUNCTION public.hq_handler(e evlog.event_log) RETURNS void LANGUAGE plpgsql
  SET search_path = public, pg_temp AS $$ BEGIN INSERT INTO hq_target VALUES (e.seq); END $$;
SELECT evlog_register_view('hq_view', 'public.hq_handler(evlog.event_log)', 'public.hq_target', false);
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"n": 3}') IS NOT NULL AS queued;
SELECT evlog_flush('60s') AS flushed;
SELECT count(*) AS handler_rows FROM public.hq_target;
SELECT count(*) AS dead_lettered FROM evlog.dead_letter;

\c contrib_regression
DROP DATABASE evlog_hq_other WITH (FORCE);
DROP DATABASE evlog_hq WITH (FORCE);
DROP DATABASE evlog_hq_dbo WITH (FORCE);
DROP ROLE evlog_hq_reader;
DROP ROLE evlog_hq_dbo;
