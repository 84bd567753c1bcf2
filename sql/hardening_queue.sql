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

\c contrib_regression
DROP DATABASE evlog_hq_other WITH (FORCE);
DROP DATABASE evlog_hq WITH (FORCE);
DROP ROLE evlog_hq_reader;
