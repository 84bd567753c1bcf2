--
-- copy_load: loading events with COPY into evlog.append_copy (1.4).  Rows
-- land in input order with consecutive seqs and feed the derived tables; a
-- bad row fails the whole statement with evlog_append's error; event_id
-- duplicates as in evlog_append_batch; a rolled-back load leaves nothing
-- behind; more rows than one buffer; INSERT ... SELECT; the INSERT grant is
-- the gate, and evlog's trigger function fires on evlog's view only.
--
CREATE EXTENSION IF NOT EXISTS evlog;
SET client_min_messages = warning;
SET TIME ZONE 'UTC';
\set VERBOSITY default

-- the view is empty when read, and its columns are evlog_append's
SELECT * FROM evlog.append_copy;
SELECT attname, atttypid::regtype FROM pg_attribute
 WHERE attrelid = 'evlog.append_copy'::regclass AND attnum > 0 ORDER BY attnum;

-- good rows: input order, consecutive seqs, every field, derived rows
SELECT evlog_last_seq() AS before \gset
COPY evlog.append_copy FROM STDIN;
agent_event	2026-05-16 01:00:00.123456+00	cl-h1	cl-r1	{"kind":"ProbeResult","probeName":"copy-probe","mode":"enforce","status":"fail","observedAt":"2026-05-16T01:00:00Z"}	\N
plan_action	2026-05-16 03:00:01+02	\N	cl-r1	{"action":"Dispatch","nested":{"a":[1,2,{"b":null}]}}	cl-e1
manifest_poll	2026-05-16 01:00:02+00	cl-h2	\N	{}	\N
\.
SELECT seq - :before AS n, ts, kind, host_id, rollout_id, payload, event_id
  FROM evlog.event_log WHERE seq > :before ORDER BY seq;
SELECT host_id, probe_name, event_log_seq - :before AS n FROM evlog.probe_failures
 WHERE probe_name = 'copy-probe';

-- CSV with a header and a column list: the other columns are NULL
COPY evlog.append_copy (ts, kind, payload) FROM STDIN (FORMAT csv, HEADER true);
ts,kind,payload
2026-05-16T01:00:03Z,effect,"{""csv"": true}"
\.
SELECT seq - :before AS n, kind, host_id, payload FROM evlog.event_log WHERE seq > :before + 3 ORDER BY seq;

-- a bad row fails the whole COPY with the error evlog_append gives for it;
-- nothing of the statement is written, the rows before it included
SELECT evlog_last_seq() AS before \gset
COPY evlog.append_copy FROM STDIN;
agent_event	2026-05-16 01:01:00+00	cl-h1	\N	{"ok":1}	\N
no_such_kind	2026-05-16 01:01:01+00	cl-h1	\N	{"ok":2}	\N
\.
SELECT evlog_append('no_such_kind', '2026-05-16 01:01:01+00', 'cl-h1', NULL, '{"ok":2}'::jsonb);
\echo :LAST_ERROR_SQLSTATE
COPY evlog.append_copy FROM STDIN;
agent_event	2026-05-16 01:01:00+00	cl-h1	\N	[1, 2]	\N
\.
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'cl-h1', NULL, '[1, 2]'::jsonb);
\echo :LAST_ERROR_SQLSTATE
COPY evlog.append_copy FROM STDIN;
agent_event	2026-05-16 01:01:00+00	cl-h1	\N	\N	\N
\.
COPY evlog.append_copy FROM STDIN;
agent_event	infinity	cl-h1	\N	{}	\N
\.
COPY evlog.append_copy FROM STDIN;
gap	2026-05-16 01:01:00+00	\N	\N	{}	\N
\.
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', repeat('h', 1025), NULL, '{}'::jsonb);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO evlog.append_copy (kind, ts, host_id, payload)
VALUES ('agent_event', '2026-05-16 01:01:00+00', 'cl-h1', '{}'),
       ('agent_event', '2026-05-16 01:01:00+00', repeat('h', 1025), '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT evlog_last_seq() = :before AS nothing_written;
-- the same SQLSTATE, message and detail as evlog_append, case by case
CREATE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE m text; d text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ' ' || left(m, 45) || coalesce(' / ' || left(nullif(d, ''), 40), '');
END $$;
SELECT c.what, via_view = via_append AS same, via_view AS error
  FROM (VALUES
    ('unknown kind', 'no_such_kind', '2026-05-16 01:01:00+00', NULL, NULL, '{}', NULL),
    ('empty kind', '', '2026-05-16 01:01:00+00', NULL, NULL, '{}', NULL),
    ('reserved kind', 'retention', '2026-05-16 01:01:00+00', NULL, NULL, '{}', NULL),
    ('null kind', NULL, '2026-05-16 01:01:00+00', NULL, NULL, '{}', NULL),
    ('null ts', 'effect', NULL, NULL, NULL, '{}', NULL),
    ('infinite ts', 'effect', '-infinity', NULL, NULL, '{}', NULL),
    ('null payload', 'effect', '2026-05-16 01:01:00+00', NULL, NULL, NULL, NULL),
    ('array payload', 'effect', '2026-05-16 01:01:00+00', NULL, NULL, '[{}]', NULL),
    ('scalar payload', 'effect', '2026-05-16 01:01:00+00', NULL, NULL, '"x"', NULL),
    ('huge number', 'effect', '2026-05-16 01:01:00+00', NULL, NULL, '{"n": 1' || repeat('0', 1000) || '}', NULL),
    ('long host_id', 'effect', '2026-05-16 01:01:00+00', repeat('h', 1025), NULL, '{}', NULL),
    ('long rollout_id', 'effect', '2026-05-16 01:01:00+00', NULL, repeat('r', 1025), '{}', NULL),
    ('long event_id', 'effect', '2026-05-16 01:01:00+00', NULL, NULL, '{}', repeat('e', 1025)),
    ('good', 'effect', '2026-05-16 01:01:00+00', NULL, NULL, '{}', 'cl-good')
  ) c(what, k, t, h, r, p, e),
  LATERAL (SELECT pg_temp.error_of(format(
      'INSERT INTO evlog.append_copy VALUES (%L, %L, %L, %L, %L, %L)', k, t, h, r, p, e)) AS via_view,
                  pg_temp.error_of(format(
      'SELECT evlog_append(%L, %L::timestamptz, %L, %L, %L::jsonb, %L)', k, t, h, r, p, e)) AS via_append) x;
SELECT count(*) AS good_once FROM evlog.event_log WHERE event_id = 'cl-good';
SELECT evlog_last_seq() AS before \gset
-- the derived tables' payload rules: a ProbeResult without probeName
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'cl-h1', NULL,
                    '{"kind":"ProbeResult","mode":"enforce","status":"fail"}'::jsonb);
COPY evlog.append_copy FROM STDIN;
agent_event	2026-05-16 01:01:00+00	cl-h1	\N	{"kind":"ProbeResult","mode":"enforce","status":"fail"}	\N
\.
SELECT evlog_last_seq() = :before AS nothing_written,
       (SELECT count(*) FROM evlog.event_log WHERE seq > :before) AS rows_after;

-- event_id duplicates as in evlog_append_batch: a later row with the same
-- id and the same event is not written again (in the same COPY, or already
-- in the log); the same id with another event is refused
SELECT evlog_last_seq() AS before \gset
COPY evlog.append_copy FROM STDIN;
effect	2026-05-16 01:02:00+00	\N	\N	{"a":1,"b":2}	cl-d1
effect	2026-05-16 01:02:01+00	\N	\N	{"n":2}	\N
effect	2026-05-16 01:02:00+00	\N	\N	{"b":2,"a":1}	cl-d1
plan_action	2026-05-16 03:00:01+02	\N	cl-r1	{"action":"Dispatch","nested":{"a":[1,2,{"b":null}]}}	cl-e1
effect	2026-05-16 01:02:02+00	\N	\N	{"n":3}	\N
\.
SELECT seq - :before AS n, payload, event_id FROM evlog.event_log WHERE seq > :before ORDER BY seq;
COPY evlog.append_copy FROM STDIN;
effect	2026-05-16 01:02:03+00	\N	\N	{"n":4}	cl-d2
effect	2026-05-16 01:02:00+00	\N	\N	{"a":1,"b":3}	cl-d2
\.
COPY evlog.append_copy FROM STDIN;
effect	2026-05-16 01:02:00+00	\N	\N	{"a":1,"b":3}	cl-d1
\.
SELECT evlog_last_seq() - :before AS written;
-- across buffers: row 1,200 repeats row 1 (not written again); row 1,300
-- repeats row 1,100's event_id with another payload (refused; the context
-- names the rows of the write)
SELECT evlog_last_seq() AS before \gset
INSERT INTO evlog.append_copy (kind, ts, payload, event_id)
SELECT 'effect', '2026-05-16 01:02:10+00', jsonb_build_object('i', CASE WHEN g = 1200 THEN 1 ELSE g END),
       CASE WHEN g IN (1, 1200) THEN 'cl-x1' END
  FROM generate_series(1, 1500) g;
SELECT count(*) AS rows, count(*) FILTER (WHERE event_id = 'cl-x1') AS x1_rows
  FROM evlog.event_log WHERE seq > :before;
INSERT INTO evlog.append_copy (kind, ts, payload, event_id)
SELECT 'effect', '2026-05-16 01:02:11+00', jsonb_build_object('i', g),
       CASE WHEN g IN (1100, 1300) THEN 'cl-x2' END
  FROM generate_series(1, 1500) g;
SELECT count(*) AS x2_rows FROM evlog.event_log WHERE event_id = 'cl-x2';

-- a COPY that fails and is rolled back to a savepoint leaves nothing for
-- the next one: only the good rows are loaded
SELECT evlog_last_seq() AS before \gset
BEGIN;
SAVEPOINT s;
COPY evlog.append_copy FROM STDIN;
effect	2026-05-16 01:03:00+00	\N	\N	{"sp":"bad-1"}	\N
effect	2026-05-16 01:03:00+00	\N	\N	"not an object"	\N
\.
ROLLBACK TO s;
COPY evlog.append_copy FROM STDIN;
effect	2026-05-16 01:03:01+00	\N	\N	{"sp":"good"}	\N
\.
COMMIT;
SELECT payload FROM evlog.event_log WHERE seq > :before ORDER BY seq;
-- the same in a PL/pgSQL exception block, which rolls back its own
-- subtransaction; and a whole transaction rolled back
DO $$
BEGIN
    BEGIN
        INSERT INTO evlog.append_copy (kind, ts, payload)
        VALUES ('effect', '2026-05-16 01:03:02+00', '{"sp":"bad-2"}'),
               ('effect', '2026-05-16 01:03:02+00', '[]');
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE NOTICE 'refused: %', SQLERRM;
    END;
    INSERT INTO evlog.append_copy (kind, ts, payload)
    VALUES ('effect', '2026-05-16 01:03:03+00', '{"sp":"good-2"}');
END $$;
BEGIN;
INSERT INTO evlog.append_copy (kind, ts, payload)
VALUES ('effect', '2026-05-16 01:03:04+00', '{"sp":"bad-3"}'), ('effect', '2026-05-16 01:03:04+00', '1');
ROLLBACK;
SELECT payload FROM evlog.event_log WHERE seq > :before ORDER BY seq;

-- more rows than one buffer (1,000 events), by INSERT ... SELECT: input
-- order, consecutive seqs (nothing else appends meanwhile), the reported
-- row count
SELECT evlog_last_seq() AS before \gset
INSERT INTO evlog.append_copy (kind, ts, host_id, payload)
SELECT 'effect', '2026-05-16 01:04:00+00'::timestamptz + g * interval '1 ms', 'cl-big', jsonb_build_object('i', g)
  FROM generate_series(1, 2500) g;
SELECT count(*) AS rows, min(seq) - :before AS first, max(seq) - :before AS last,
       bool_and((payload->>'i')::int = seq - :before) AS in_input_order
  FROM evlog.event_log WHERE seq > :before;
-- a failure in the third buffer takes back the two already written (their
-- seqs are spent, as by any rolled-back append)
SELECT evlog_last_seq() AS before \gset
INSERT INTO evlog.append_copy (kind, ts, host_id, payload)
SELECT CASE WHEN g = 2400 THEN 'no_such_kind' ELSE 'effect' END, '2026-05-16 01:05:00+00', 'cl-big', '{}'
  FROM generate_series(1, 2500) g;
SELECT evlog_last_seq() = :before AS nothing_written;
-- a smaller evlog.max_batch_entries makes smaller writes, the same result
SET evlog.max_batch_entries = 7;
INSERT INTO evlog.append_copy (kind, ts, payload)
SELECT 'effect', '2026-05-16 01:05:00+00', jsonb_build_object('i', g) FROM generate_series(1, 20) g;
RESET evlog.max_batch_entries;
SELECT evlog_last_seq() - 20 AS before \gset
SELECT count(*) AS rows, bool_and((payload->>'i')::int = seq - :before) AS in_input_order
  FROM evlog.event_log WHERE seq > :before;
-- large rows: a write per 1 MB of rows, whatever their number
SELECT evlog_last_seq() AS before \gset
INSERT INTO evlog.append_copy (kind, ts, payload)
SELECT 'effect', '2026-05-16 01:05:30+00', jsonb_build_object('i', g, 'pad', repeat('x', 400000))
  FROM generate_series(1, 7) g;
SELECT count(*) AS rows, bool_and((payload->>'i')::int = seq - :before) AS in_input_order
  FROM evlog.event_log WHERE seq > :before;
-- RETURNING shows the rows as given; a statement inserting no row writes none
INSERT INTO evlog.append_copy VALUES ('effect', '2026-05-16 01:06:00+00', NULL, NULL, '{"r":1}', NULL) RETURNING *;
INSERT INTO evlog.append_copy SELECT * FROM evlog.append_copy;

-- two inserts into the view in one query make one load
SELECT evlog_last_seq() AS before \gset
WITH a AS (INSERT INTO evlog.append_copy (kind, ts, payload) VALUES ('effect', '2026-05-16 01:07:00+00', '{"w":"cte"}'))
INSERT INTO evlog.append_copy (kind, ts, payload) VALUES ('effect', '2026-05-16 01:07:00+00', '{"w":"outer"}');
SELECT seq - :before AS n, payload FROM evlog.event_log WHERE seq > :before ORDER BY seq;

-- loads do not nest: a derived-view handler that loads while the rows of
-- a load are being written is refused
CREATE TABLE cl_target (event_log_seq bigint);
CREATE FUNCTION cl_nesting_handler(e evlog.event_log) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.payload ? 'nest' THEN
        INSERT INTO evlog.append_copy (kind, ts, payload) VALUES ('effect', e.ts, '{"nested":true}');
    END IF;
END $$;
SELECT evlog_register_view('cl_nesting', 'cl_nesting_handler(evlog.event_log)', 'cl_target');
SELECT evlog_last_seq() AS before \gset
INSERT INTO evlog.append_copy (kind, ts, payload) VALUES ('effect', '2026-05-16 01:08:00+00', '{"nest":1}');
SELECT evlog_last_seq() = :before AS nothing_written;
SELECT evlog_unregister_view('cl_nesting');
DROP FUNCTION cl_nesting_handler(evlog.event_log);
DROP TABLE cl_target;

-- the trigger function outside a trigger
SELECT evlog.append_copy_trigger();

-- privileges: INSERT on the view is the gate, evlog_grant_writer grants it
DROP ROLE IF EXISTS evlog_cl_loader;
DROP ROLE IF EXISTS evlog_cl_thief;
CREATE ROLE evlog_cl_loader;
CREATE ROLE evlog_cl_thief;
GRANT CREATE ON SCHEMA public TO evlog_cl_thief;
SELECT evlog_last_seq() AS before \gset
-- a reader may use the schema, not load
SELECT evlog_grant_reader('evlog_cl_loader');
SET ROLE evlog_cl_loader;
COPY evlog.append_copy FROM STDIN;
effect	2026-05-16 01:09:00+00	\N	\N	{"who":"loader"}	\N
\.
INSERT INTO evlog.append_copy (kind, ts, payload) VALUES ('effect', '2026-05-16 01:09:01+00', '{"who":"loader"}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT evlog_grant_writer('evlog_cl_loader');
SELECT has_table_privilege('evlog_cl_loader', 'evlog.append_copy', 'INSERT') AS may_load,
       has_table_privilege('evlog_cl_loader', 'evlog.event_log', 'INSERT') AS may_insert_log;
SET ROLE evlog_cl_loader;
COPY evlog.append_copy FROM STDIN;
effect	2026-05-16 01:09:00+00	\N	\N	{"who":"loader"}	\N
\.
INSERT INTO evlog.append_copy (kind, ts, payload) VALUES ('effect', '2026-05-16 01:09:01+00', '{"who":"loader"}');
RESET ROLE;
SELECT seq - :before AS n, payload FROM evlog.event_log WHERE seq > :before ORDER BY seq;

-- a role's own view with evlog's trigger function attached: without EXECUTE
-- on the function it cannot attach it; granted EXECUTE by mistake, the
-- function refuses to fire on any relation but evlog.append_copy
GRANT USAGE ON SCHEMA evlog TO evlog_cl_thief;
SET ROLE evlog_cl_thief;
CREATE VIEW public.cl_stolen AS SELECT * FROM (VALUES (NULL::text, NULL::timestamptz, NULL::text, NULL::text,
    NULL::jsonb, NULL::text)) v(kind, ts, host_id, rollout_id, payload, event_id) WHERE false;
CREATE TRIGGER cl_stolen_row INSTEAD OF INSERT ON public.cl_stolen
    FOR EACH ROW EXECUTE FUNCTION evlog.append_copy_trigger();
RESET ROLE;
GRANT EXECUTE ON FUNCTION evlog.append_copy_trigger() TO evlog_cl_thief;
SET ROLE evlog_cl_thief;
CREATE TRIGGER cl_stolen_begin BEFORE INSERT ON public.cl_stolen
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.append_copy_trigger();
CREATE TRIGGER cl_stolen_row INSTEAD OF INSERT ON public.cl_stolen
    FOR EACH ROW EXECUTE FUNCTION evlog.append_copy_trigger();
CREATE TRIGGER cl_stolen_end AFTER INSERT ON public.cl_stolen
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.append_copy_trigger();
COPY public.cl_stolen FROM STDIN;
effect	2026-05-16 01:10:00+00	\N	\N	{"who":"thief"}	\N
\.
INSERT INTO public.cl_stolen (kind, ts, payload) VALUES ('effect', '2026-05-16 01:10:00+00', '{"who":"thief"}');
\echo :LAST_ERROR_SQLSTATE
-- nor as a row trigger alone
DROP TRIGGER cl_stolen_begin ON public.cl_stolen;
DROP TRIGGER cl_stolen_end ON public.cl_stolen;
INSERT INTO public.cl_stolen (kind, ts, payload) VALUES ('effect', '2026-05-16 01:10:00+00', '{"who":"thief"}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS thief_rows FROM evlog.event_log WHERE payload->>'who' = 'thief';
DROP VIEW public.cl_stolen;
REVOKE ALL ON FUNCTION evlog.append_copy_trigger() FROM evlog_cl_thief;
REVOKE ALL ON SCHEMA evlog FROM evlog_cl_thief;
REVOKE CREATE ON SCHEMA public FROM evlog_cl_thief;
DROP OWNED BY evlog_cl_loader;
DROP ROLE evlog_cl_loader, evlog_cl_thief;

-- memory stays flat however many rows one statement loads: the row
-- trigger returns a copy of its row, which the trigger manager frees with
-- its own (given back the row itself, it keeps every row of the input
-- until the statement ends).  A trigger on the log samples the backend's
-- memory once per 1,000 rows of a 20,000-row load.
CREATE TABLE cl_mem (bytes bigint);
CREATE FUNCTION cl_mem_sample() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.payload->>'m')::int % 1000 = 0 THEN
        INSERT INTO cl_mem SELECT sum(total_bytes) FROM pg_backend_memory_contexts;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER cl_mem AFTER INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION cl_mem_sample();
INSERT INTO evlog.append_copy (kind, ts, payload)
SELECT 'effect', '2026-05-16 01:00:00+00', jsonb_build_object('m', g, 'pad', repeat('x', 200))
  FROM generate_series(1, 20000) g;
DROP TRIGGER cl_mem ON evlog.event_log;
DROP FUNCTION cl_mem_sample();
SELECT count(*) AS samples, max(bytes) - min(bytes) < 1048576 AS under_1mb_growth FROM cl_mem;
DROP TABLE cl_mem;

-- the 1 MB budget of a write counts the values as buffered (detoasted),
-- not the row as stored: 100 payloads of 96 kB, compressed to little in
-- the table they come from, are written about ten at a time, never all at
-- once (memory sampled at each row of the log as it is written)
CREATE TABLE cl_big AS
SELECT 'effect'::text AS kind, '2026-05-16 01:00:00+00'::timestamptz AS ts,
       jsonb_build_object('big', g, 'a', repeat(md5(g::text), 3000)) AS payload
  FROM generate_series(1, 100) g;
CREATE TABLE cl_mem (bytes bigint);
CREATE FUNCTION cl_mem_sample() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cl_mem SELECT sum(total_bytes) FROM pg_backend_memory_contexts;
    RETURN NULL;
END $$;
INSERT INTO cl_mem SELECT sum(total_bytes) FROM pg_backend_memory_contexts;
CREATE TRIGGER cl_mem AFTER INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION cl_mem_sample();
INSERT INTO evlog.append_copy (kind, ts, payload) SELECT kind, ts, payload FROM cl_big;
DROP TRIGGER cl_mem ON evlog.event_log;
DROP FUNCTION cl_mem_sample();
SELECT count(*) AS samples,
       max(bytes) - (SELECT bytes FROM cl_mem ORDER BY ctid LIMIT 1) < 4194304 AS under_4mb_growth
  FROM cl_mem;
SELECT count(*) AS big_rows FROM evlog.event_log WHERE payload ? 'big';
DROP TABLE cl_mem, cl_big;

-- under session_replication_role = replica the view's triggers would not
-- fire and the rows would be dropped: the load is refused instead
SELECT count(*) AS before_replica FROM evlog.event_log WHERE payload ? 'replica' \gset
SET session_replication_role = replica;
INSERT INTO evlog.append_copy (kind, ts, payload) VALUES ('effect', '2026-05-16 01:00:00+00', '{"replica": 1}');
COPY evlog.append_copy (kind, ts, payload) FROM STDIN;
effect	2026-05-16 01:00:00+00	{"replica": 2}
\.
RESET session_replication_role;
SELECT count(*) - :before_replica AS replica_rows FROM evlog.event_log WHERE payload ? 'replica';
