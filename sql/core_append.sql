--
-- core_append: the canonical log, single-row append, idempotency,
-- append-only refusals.  Restates seed 001's unit tests in SQL.
--
CREATE EXTENSION evlog;
\dx evlog

-- the eight built-in kinds
SELECT kind FROM evlog.kinds ORDER BY kind;

-- seed 001: append_assigns_monotonic_seqs
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"kind":"DispatchAck"}') AS s1 \gset
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"kind":"DispatchAck"}') AS s2 \gset
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"kind":"DispatchAck"}') AS s3 \gset
SELECT :s2 > :s1 AS s2_after_s1, :s3 > :s2 AS s3_after_s2, evlog_last_seq() = :s3 AS last_is_s3;

-- seed 001: query_by_host_returns_only_matching_host
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h2', 'r1', '{"k":"b"}') IS NOT NULL AS appended;
SELECT count(*) AS h1_rows, bool_and(host_id = 'h1') AS all_h1 FROM evlog_query(host_id => 'h1');
SELECT count(*) AS h2_rows FROM evlog_query(host_id => 'h2');

-- seed 001: query_by_kind_filters_correctly
SELECT evlog_append('plan_action', '2026-05-16 01:00:00+00', NULL, 'r1', '{}') IS NOT NULL AS appended;
SELECT kind, count(*) FROM evlog_query(kinds => ARRAY['plan_action']) GROUP BY kind;

-- seed 001: entries_with_null_host_and_rollout_round_trip
SELECT evlog_append('manifest_poll', '2026-05-16 01:00:00+00', NULL, NULL,
                    '{"channel":"stable","outcome":"304"}') > 0 AS seq_positive;
SELECT host_id IS NULL AS host_null, rollout_id IS NULL AS rollout_null, payload
  FROM evlog_query(kinds => ARRAY['manifest_poll']);

-- seed 001: caller_supplied_ts_round_trips, to the microsecond
SELECT evlog_append('agent_event', '2026-05-16 01:00:42.123456+00', 'h9', NULL, '{}') AS s \gset
SELECT ts = '2026-05-16 01:00:42.123456+00'::timestamptz AS exact_ts FROM evlog.event_log WHERE seq = :s;

-- the jsonb overload, and a string literal still resolves to the text form
SELECT pg_typeof(evlog_append('effect', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"effect":"Noop"}'::jsonb));
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h1', 'r1', '{"effect":"Noop"}') > 0 AS literal_ok;
SELECT payload FROM evlog.event_log WHERE seq = evlog_last_seq();

-- idempotent event_id: the retry returns the stored seq and writes nothing
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'h1', 'r1', '{"kind":"DispatchAck","n":1}', 'ack-1') AS first \gset
SELECT count(*) AS before_retry FROM evlog.event_log \gset
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'h1', 'r1', '{"n":1, "kind":"DispatchAck"}', 'ack-1') = :first AS same_seq;
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'h1', 'r1', '{"n":1, "kind":"DispatchAck"}'::jsonb, 'ack-1') = :first AS same_seq_jsonb;
SELECT count(*) = :before_retry AS nothing_written FROM evlog.event_log;
-- the same key with different content is an error, whichever field differs
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'h1', 'r1', '{"kind":"DispatchAck","n":2}', 'ack-1');
SELECT evlog_append('effect', '2026-05-16 01:01:00+00', 'h1', 'r1', '{"kind":"DispatchAck","n":1}', 'ack-1');
SELECT evlog_append('agent_event', '2026-05-16 01:01:01+00', 'h1', 'r1', '{"kind":"DispatchAck","n":1}', 'ack-1');
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'h2', 'r1', '{"kind":"DispatchAck","n":1}', 'ack-1');
SELECT evlog_append('agent_event', '2026-05-16 01:01:00+00', 'h1', NULL, '{"kind":"DispatchAck","n":1}', 'ack-1');
SELECT count(*) = :before_retry AS still_nothing_written FROM evlog.event_log;
-- an event_id appended and rolled back is free again
BEGIN;
SELECT evlog_append('agent_event', '2026-05-16 01:02:00+00', 'h1', 'r1', '{}', 'rolled-back') > 0 AS appended;
ROLLBACK;
SELECT evlog_append('agent_event', '2026-05-16 01:02:00+00', 'h1', 'r1', '{"other":true}', 'rolled-back') > 0 AS reused;
-- in one transaction, the second call sees the first
BEGIN;
SELECT evlog_append('agent_event', '2026-05-16 01:03:00+00', 'h1', 'r1', '{}', 'same-xact') AS a \gset
SELECT evlog_append('agent_event', '2026-05-16 01:03:00+00', 'h1', 'r1', '{}', 'same-xact') = :a AS same_seq_same_xact;
COMMIT;

-- registering a kind
SELECT evlog_append('deploy_note', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
SELECT evlog_register_kind('deploy_note', 'free-text notes from operators');
SELECT evlog_register_kind('deploy_note');  -- idempotent, keeps the description
SELECT description FROM evlog.kinds WHERE kind = 'deploy_note';
SELECT evlog_append('deploy_note', '2026-05-16 01:00:00+00', NULL, NULL, '{"text":"hi"}') > 0 AS appended;
SELECT evlog_register_kind('Bad Kind');
SELECT evlog_register_kind(NULL);

-- append-only, for the owner (and superuser) too
\set VERBOSITY terse
SELECT count(*) AS rows_before FROM evlog.event_log \gset
UPDATE evlog.event_log SET kind = 'effect' WHERE seq = :s1;
DELETE FROM evlog.event_log WHERE seq = :s1;
TRUNCATE evlog.event_log;
SET session_replication_role = replica;
DELETE FROM evlog.event_log;
RESET session_replication_role;
SELECT count(*) = :rows_before AS log_intact FROM evlog.event_log;
\set VERBOSITY default

-- seqs strictly increase in append order over the whole log
SELECT bool_and(seq > prev) AS strictly_increasing
  FROM (SELECT seq, lag(seq, 1, 0::bigint) OVER (ORDER BY seq) AS prev FROM evlog.event_log) s;

-- every object has a comment (partitions of the log, created at run time,
-- carry a table comment; their columns and indexes are the parent's)
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'evlog' AND obj_description(c.oid, 'pg_class') IS NULL
   AND NOT (c.relkind = 'i' AND c.relispartition);
SELECT a.attrelid::regclass, a.attname FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'evlog' AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition
   AND a.attnum > 0 AND NOT a.attisdropped
   AND col_description(a.attrelid, a.attnum) IS NULL;
SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'evlog') AND d.deptype = 'e'
   AND obj_description(p.oid, 'pg_proc') IS NULL;
