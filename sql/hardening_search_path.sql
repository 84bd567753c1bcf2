--
-- hardening_search_path: hostile objects in public that shadow what evlog
-- uses are never run, and an install never adopts a pre-existing object.
--
\set VERBOSITY terse
CREATE DATABASE evlog_hostile;
\c evlog_hostile
CREATE ROLE evlog_attacker;
GRANT CREATE ON SCHEMA public TO evlog_attacker;
SET ROLE evlog_attacker;
-- traps: any call raises, so a trap that fires shows up as an error below
CREATE FUNCTION public.trap(text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'trap fired: %', $1; END $$;
CREATE FUNCTION public.texteq_trap(text, text) RETURNS boolean LANGUAGE sql AS
  $$ SELECT public.trap('= on text') $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_trap);
CREATE FUNCTION public.bigint_gt_trap(bigint, bigint) RETURNS boolean LANGUAGE sql AS
  $$ SELECT public.trap('> on bigint') $$;
CREATE OPERATOR public.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.bigint_gt_trap);
CREATE FUNCTION public.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS
  $$ SELECT public.trap('jsonb_typeof')::text $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS
  $$ SELECT CASE WHEN public.trap('now') THEN NULL END::timestamptz $$;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE sql AS
  $$ SELECT public.trap('format')::text $$;
CREATE FUNCTION public.quote_nullable(anyelement) RETURNS text LANGUAGE sql AS
  $$ SELECT public.trap('quote_nullable')::text $$;
CREATE FUNCTION public.int8larger(bigint, bigint) RETURNS bigint LANGUAGE sql AS
  $$ SELECT CASE WHEN public.trap('int8larger') THEN 0 END::bigint $$;
RESET ROLE;

-- the traps work when called as the attacker intends
SET search_path = public, pg_catalog;
SELECT 'a'::text = 'a'::text;
SELECT 2::bigint > 1::bigint;
RESET search_path;

-- installing with the traps present: nothing of them is adopted or run
CREATE EXTENSION evlog;
SELECT evlog_grant_writer('evlog_attacker');

-- every evlog function, called with the attacker's search_path first
SET search_path = public, pg_catalog;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"kind":"X"}', 'id-1') > 0 AS append_text;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"kind":"X"}', 'id-1') > 0 AS append_retry;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"kind":"Y"}'::pg_catalog.jsonb) > 0 AS append_jsonb;
SELECT evlog_last_seq() > 0 AS last_seq;
SELECT count(*) AS queried FROM evlog_query(host_id => 'h1', rollout_id => 'r1', kinds => ARRAY['agent_event'], after_seq => 0, since => '2026-01-01', until => '2027-01-01');
SELECT count(*) AS read FROM evlog_read(0);
SELECT evlog_safe_seq() > 0 AS safe_seq;
SELECT count(*) AS inflight FROM evlog.inflight;
SELECT evlog_register_kind('hostile_test', 'registered under a hostile search_path');
SELECT evlog_consumer_create('c1');
SELECT count(*) AS next FROM evlog_consumer_next('c1');
SELECT evlog_consumer_ack('c1', 1) AS acked;
SELECT count(*) AS lag_rows FROM evlog.consumer_lag;
SELECT evlog_consumer_drop('c1') AS dropped;
SELECT evlog_grant_reader('evlog_attacker');
-- as the attacker too
SET ROLE evlog_attacker;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h2', NULL, '{}') > 0 AS attacker_append;
SELECT count(*) AS attacker_query FROM evlog_query(host_id => 'h2');
RESET ROLE;
RESET search_path;

-- pre-existing objects make the install fail instead of being adopted
DROP EXTENSION evlog;
CREATE SCHEMA evlog;
CREATE EXTENSION evlog;
DROP SCHEMA evlog;
SET ROLE evlog_attacker;
CREATE FUNCTION public.evlog_append(kind text, ts timestamptz, host_id text, rollout_id text,
    payload text, event_id text DEFAULT NULL) RETURNS bigint LANGUAGE sql AS $$ SELECT 0::bigint $$;
RESET ROLE;
CREATE EXTENSION evlog;
SELECT count(*) AS not_installed FROM pg_extension WHERE extname = 'evlog';
DROP FUNCTION public.evlog_append(text, timestamptz, text, text, text, text);
CREATE EXTENSION evlog;
SELECT extname FROM pg_extension WHERE extname = 'evlog';

\c contrib_regression
DROP DATABASE evlog_hostile;
DROP ROLE evlog_attacker;
