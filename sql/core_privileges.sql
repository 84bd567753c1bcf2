--
-- core_privileges: nothing for PUBLIC; evlog_grant_writer lets a role append
-- and read, evlog_grant_reader only read; nobody may rewrite the log.
--
CREATE EXTENSION IF NOT EXISTS evlog;
\set VERBOSITY terse
CREATE ROLE evlog_app LOGIN;
CREATE ROLE evlog_report LOGIN;
CREATE ROLE evlog_nobody LOGIN;
SELECT evlog_grant_writer('evlog_app');
SELECT evlog_grant_reader('evlog_report');

-- PUBLIC: nothing
SET ROLE evlog_nobody;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '{}');
SELECT count(*) FROM evlog.event_log;
SELECT count(*) FROM evlog_query();
SELECT evlog_last_seq();
SELECT evlog_register_kind('sneaky');
RESET ROLE;

-- writer: append and read, never rewrite
SET ROLE evlog_app;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'app-host', NULL, '{"by":"app"}') > 0 AS appended;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'app-host', NULL, '{"by":"app"}'::jsonb) > 0 AS appended_jsonb;
SELECT count(*) AS visible FROM evlog_query(host_id => 'app-host');
SELECT evlog_last_seq() > 0 AS last_seq_ok;
INSERT INTO evlog.event_log VALUES (999999, now(), 'agent_event', NULL, NULL, '{}', NULL);
UPDATE evlog.event_log SET host_id = 'x';
DELETE FROM evlog.event_log;
TRUNCATE evlog.event_log;
SELECT nextval('evlog.event_log_seq_seq');
SELECT evlog_register_kind('sneaky');
RESET ROLE;

-- reader: read only
SET ROLE evlog_report;
SELECT count(*) AS visible FROM evlog_query(host_id => 'app-host');
SELECT count(*) > 0 AS can_select FROM evlog.event_log;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '{}');
INSERT INTO evlog.event_log VALUES (999999, now(), 'agent_event', NULL, NULL, '{}', NULL);
DELETE FROM evlog.event_log;
RESET ROLE;

SELECT count(*) AS app_rows FROM evlog.event_log WHERE host_id = 'app-host';

-- hostile objects in public do not change what evlog runs: the functions'
-- bodies were bound at CREATE EXTENSION time or pin search_path
CREATE FUNCTION public.coalesce_trap(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT 42::bigint';
CREATE FUNCTION public.max(bigint) RETURNS bigint LANGUAGE sql AS 'SELECT -1::bigint';
SET search_path = public, pg_catalog;
SELECT evlog_last_seq() > 0 AS last_seq_unaffected;
RESET search_path;
DROP FUNCTION public.coalesce_trap(bigint);
DROP FUNCTION public.max(bigint);

DROP OWNED BY evlog_app, evlog_report, evlog_nobody;
DROP ROLE evlog_app, evlog_report, evlog_nobody;
