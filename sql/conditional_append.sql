--
-- conditional_append: evlog_append / evlog_append_batch with an expected
-- stream head.  The API and its errors (SQLSTATE EV001 with the actual head
-- in the detail), no seq spent on a mismatch, event_id retries, batches of
-- one and several streams, the enqueue refusal, stream reads by index,
-- grants.  Concurrency is specs/conditional_concurrent.spec's.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS evlog;

-- runs a statement, shows its SQLSTATE and detail instead of failing
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE st text; d text; m text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || m || COALESCE(' / ' || NULLIF(d, ''), '');
END $$;

-- seqs relative to where this test starts: deterministic output
SELECT evlog_last_seq() AS base \gset

-- an empty stream: expected_seq 0
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'occ-h1', 'occ-r1', '{"n":1}', 'rollout', 0) - :base AS r1_first;
SELECT evlog_stream_head('rollout', 'occ-r1') - :base AS r1_head;
-- the head it returned: the next append expects it
SELECT evlog_append('effect', '2026-05-16 01:00:01+00', 'occ-h1', 'occ-r1', '{"n":2}'::jsonb,
                    expected_stream => 'rollout', expected_seq => :base + 1) - :base AS r1_second;
-- a stale expectation: EV001, the actual head in the detail, nothing written, no seq spent
SELECT evlog_last_seq() AS before \gset
SELECT regexp_replace(regexp_replace(pg_temp.try(format($$SELECT evlog_append('effect', now(), 'occ-h1', 'occ-r1', '{}', 'rollout', %s)$$, :base + 1)),
               '\m' || (:base + 2) || '\M', 'HEAD'), '\m' || (:base + 1) || '\M', 'SEEN') AS stale;
SELECT pg_temp.try($$SELECT evlog_append('effect', now(), 'occ-h1', 'occ-r1', '{}', 'rollout', 0)$$) LIKE 'EV001: rollout stream "occ-r1" is not at the expected seq%' AS empty_expected_refused;
SELECT evlog_last_seq() = :before AS no_seq_spent,
       (SELECT count(*) FROM evlog.event_log WHERE rollout_id = 'occ-r1') AS r1_events;

-- the host stream: occ-h1 has the two events above
SELECT evlog_stream_head('host', 'occ-h1') - :base AS h1_head;
SELECT evlog_append('effect', '2026-05-16 01:00:02+00', 'occ-h1', NULL, '{}', 'host', :base + 2) - :base AS h1_third;
SELECT regexp_replace(regexp_replace(pg_temp.try(format($$SELECT evlog_append('effect', now(), 'occ-h1', 'occ-r9', '{}', 'host', %s)$$, :base + 2)),
               '\m' || (:base + 3) || '\M', 'HEAD'), '\m' || (:base + 2) || '\M', 'SEEN') AS host_stale;
-- the rollout stream is untouched by a host-stream append
SELECT evlog_stream_head('rollout', 'occ-r1') - :base AS r1_head_still;

-- expected_seq NULL: no check
SELECT evlog_append('effect', now(), 'occ-h2', 'occ-r1', '{}', 'rollout', NULL) - :base AS unchecked;

-- bad expectations, refused before anything is written
SELECT evlog_last_seq() AS before \gset
SELECT pg_temp.try($$SELECT evlog_append('effect', now(), 'h', 'r', '{}', NULL, 0)$$) AS stream_null;
SELECT pg_temp.try($$SELECT evlog_append('effect', now(), 'h', 'r', '{}', 'kind', 0)$$) AS stream_unknown;
SELECT pg_temp.try($$SELECT evlog_append('effect', now(), 'h', NULL, '{}', 'rollout', 0)$$) AS no_rollout_id;
SELECT pg_temp.try($$SELECT evlog_append('effect', now(), NULL, 'r', '{}', 'host', 0)$$) AS no_host_id;
SELECT pg_temp.try($$SELECT evlog_append('effect', now(), 'h', 'r', '{}', 'rollout', -1)$$) AS negative;
SELECT pg_temp.try($$SELECT evlog_append('nokind', now(), 'h', 'r', '{}', 'rollout', 0)$$) LIKE '22023%' AS kind_checked;
SELECT evlog_last_seq() = :before AS no_seq_spent_on_bad_input;

-- every existing call form still resolves (to the unconditional functions)
SELECT evlog_append('effect', now(), 'occ-h3', 'occ-r3', '{}') > 0 AS five_args_literal,
       evlog_append('effect', now(), 'occ-h3', 'occ-r3', '{}'::jsonb) > 0 AS five_args_jsonb,
       evlog_append('effect', now(), 'occ-h3', 'occ-r3', '{}', 'occ-e0') > 0 AS six_args,
       evlog_append(kind => 'effect', ts => now(), host_id => NULL, rollout_id => NULL,
                    payload => '{}', event_id => 'occ-e00') > 0 AS named;
SELECT evlog_append_batch(ARRAY['effect'], ARRAY[now()], NULL, NULL, ARRAY['{}'::jsonb]) IS NOT NULL AS typed_batch;

-- an event_id retry of a conditional append that landed returns its seq,
-- though the stream has moved since
SELECT evlog_append('effect', '2026-05-16 02:00:00+00', NULL, 'occ-r4', '{"k":1}', 'rollout', 0, 'occ-e1') - :base AS first_try \gset
SELECT evlog_append('effect', '2026-05-16 02:00:01+00', NULL, 'occ-r4', '{"k":2}', 'rollout', :base + :first_try) > 0 AS moved;
SELECT evlog_append('effect', '2026-05-16 02:00:00+00', NULL, 'occ-r4', '{"k":1}', 'rollout', 0, 'occ-e1') - :base = :first_try AS retry_returns_seq;
-- a new event under that expectation is refused
SELECT pg_temp.try($$SELECT evlog_append('effect', now(), NULL, 'occ-r4', '{}', 'rollout', 0, 'occ-e2')$$) LIKE 'EV001%' AS new_event_refused;

-- batches, jsonb form: the first entry of a stream expects its head, later
-- ones -1 (the previous entry of the stream in this batch); several streams
SELECT evlog_last_seq() AS before \gset
SELECT array(SELECT s - :before FROM unnest(evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T03:00:00Z', 'rollout_id', 'occ-b1', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', 0),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T03:00:00Z', 'host_id', 'occ-bh', 'rollout_id', 'occ-b2', 'payload', '{}'::jsonb,
                       'expected_stream', 'host', 'expected_seq', 0),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T03:00:00Z', 'rollout_id', 'occ-b1', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', -1),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T03:00:00Z', 'rollout_id', 'occ-b1', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', null),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T03:00:00Z', 'rollout_id', 'occ-b1', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', -1)))) s) AS batch_offsets;
SELECT evlog_stream_head('rollout', 'occ-b1') - :before AS b1_head, evlog_stream_head('host', 'occ-bh') - :before AS bh_head;

-- typed form: the same rules, expected_seqs as bigint[]
SELECT array(SELECT s - :before FROM unnest(evlog_append_batch(
    ARRAY['effect', 'effect', 'effect'], ARRAY['2026-05-16 03:00:00+00'::timestamptz, '2026-05-16 03:00:00+00', '2026-05-16 03:00:00+00'],
    NULL, ARRAY['occ-b1', 'occ-b1', 'occ-b3'], ARRAY['{}', '{}', '{}']::jsonb[],
    ARRAY['rollout', 'rollout', 'rollout'], ARRAY[:before + 5, -1, 0]::bigint[])) s) AS typed_offsets;

-- a stale entry refuses the whole batch: nothing written, no seq spent
SELECT evlog_last_seq() AS before \gset
SELECT replace(pg_temp.try($$SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b9', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', 0),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b1', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', 0)))$$),
    evlog_stream_head('rollout', 'occ-b1')::text, 'HEAD') AS batch_stale;
SELECT evlog_last_seq() = :before AS batch_no_seq_spent,
       (SELECT count(*) FROM evlog.event_log WHERE rollout_id = 'occ-b9') AS b9_events;

-- batch rules
SELECT pg_temp.try($$SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b8', 'payload', '{}'::jsonb),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b8', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', 0)))$$) AS later_entry_expects_seq;
SELECT pg_temp.try($$SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b8', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', -1)))$$) AS previous_without_one;
SELECT pg_temp.try($$SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b8', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', 1.5)))$$) AS fractional;
SELECT pg_temp.try($$SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b8', 'payload', '{}'::jsonb,
                       'expected_seq', 0)))$$) AS stream_missing;
SELECT pg_temp.try($$SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T04:00:00Z', 'rollout_id', 'occ-b8', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', -2)))$$) AS below_minus_one;
SELECT pg_temp.try($$SELECT evlog_append_batch(ARRAY['effect'], ARRAY[now()], NULL, ARRAY['occ-b8'], ARRAY['{}'::jsonb],
    ARRAY['host'], ARRAY[0]::bigint[])$$) AS typed_no_host_id;
SELECT pg_temp.try($$SELECT evlog_append_batch(ARRAY['effect'], ARRAY[now()], NULL, ARRAY['occ-b8'], ARRAY['{}'::jsonb],
    ARRAY['rollout', 'rollout'], ARRAY[0]::bigint[])$$) AS typed_lengths;
SELECT evlog_last_seq() = :before AS rules_no_seq_spent;

-- a retried batch: its stored entries are not checked again
SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T05:00:00Z', 'rollout_id', 'occ-b7', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', 0, 'event_id', 'occ-be1'),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T05:00:00Z', 'rollout_id', 'occ-b7', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', -1, 'event_id', 'occ-be2'))) AS first_batch \gset
SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T05:00:00Z', 'rollout_id', 'occ-b7', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', 0, 'event_id', 'occ-be1'),
    jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T05:00:00Z', 'rollout_id', 'occ-b7', 'payload', '{}'::jsonb,
                       'expected_stream', 'rollout', 'expected_seq', -1, 'event_id', 'occ-be2'))) = :'first_batch'::bigint[] AS batch_retry_same_seqs;

-- evlog_enqueue refuses an expectation: its writer appends too late to honour it
SELECT pg_temp.try($$SELECT evlog_enqueue('effect', now(), 'h', 'r', '{}', 'rollout', 0)$$) AS enqueue_refused;

-- reading a stream: after a seq, in seq order, up to the safe seq
SELECT seq - :base AS seq, payload FROM evlog_stream_read('rollout', 'occ-r1', :base + 1);
SELECT count(*) AS limited FROM evlog_stream_read('rollout', 'occ-b1', 0, 2);
SELECT count(*) AS host_read FROM evlog_stream_read('host', 'occ-h1');
SELECT pg_temp.try($$SELECT evlog_stream_head('kind', 'x')$$) AS head_bad_stream;
SELECT pg_temp.try($$SELECT * FROM evlog_stream_read('kind', 'x')$$) AS read_bad_stream;
-- evlog_stream_head reads the partitions itself (1.6), with the caller's
-- snapshot and privileges: what the query on the log returns; so does
-- evlog_stream_read, with its own snapshot (specs/stream_read_late_commit).  Its own
-- transaction's append is seen, a rolled-back one is not, a NULL id has no
-- events.
BEGIN;
SELECT evlog_append('effect', '2026-05-16T06:00:00Z', 'occ-hh', 'occ-rr', '{}') AS own \gset
SELECT evlog_stream_head('rollout', 'occ-rr') = :own AS sees_own_append,
       evlog_stream_head('host', 'occ-hh') = :own AS sees_own_append_host,
       evlog_stream_head('rollout', NULL) AS null_id;
ROLLBACK;
SELECT evlog_stream_head('rollout', 'occ-rr') AS rolled_back, evlog_stream_head('host', 'occ-hh') AS rolled_back_host;
-- SELECT on the log, or on seq and the stream's column, as the query needed
CREATE ROLE evlog_occ_cols;
GRANT USAGE ON SCHEMA evlog TO evlog_occ_cols;
GRANT SELECT (seq, rollout_id) ON evlog.event_log TO evlog_occ_cols;
GRANT EXECUTE ON FUNCTION evlog_stream_head(text, text) TO evlog_occ_cols;
GRANT EXECUTE ON FUNCTION evlog_stream_read(text, text, bigint, integer) TO evlog_occ_cols;
SET ROLE evlog_occ_cols;
SELECT evlog_stream_head('rollout', 'occ-r1') - :base AS cols_rollout_head;
SELECT pg_temp.try($$SELECT evlog_stream_head('host', 'occ-h1')$$) AS cols_host_head;
SELECT pg_temp.try($$SELECT count(*) FROM evlog_stream_read('rollout', 'occ-r1')$$) AS cols_read_rows;
RESET ROLE;
REVOKE USAGE ON SCHEMA evlog FROM evlog_occ_cols;
SET ROLE evlog_occ_cols;
SELECT pg_temp.try($$SELECT evlog_stream_head('rollout', 'occ-r1')$$) AS no_schema_usage;
RESET ROLE;
GRANT USAGE ON SCHEMA evlog TO evlog_occ_cols;
-- with row-level security in force, the head the caller's policies show
ALTER TABLE evlog.event_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY occ_cols_early ON evlog.event_log FOR SELECT TO evlog_occ_cols USING (seq <= :base + 1);
GRANT SELECT ON evlog.event_log TO evlog_occ_cols;
GRANT EXECUTE ON FUNCTION evlog_stream_read(text, text, bigint, integer) TO evlog_occ_cols;
SET ROLE evlog_occ_cols;
SELECT evlog_stream_head('rollout', 'occ-r1') - :base AS rls_rollout_head;
SELECT array_agg(seq - :base) AS rls_rows FROM evlog_stream_read('rollout', 'occ-r1');
RESET ROLE;
SELECT evlog_stream_head('rollout', 'occ-r1') - :base AS owner_rollout_head;
SELECT array_agg(seq - :base) AS owner_rows FROM evlog_stream_read('rollout', 'occ-r1');
DROP POLICY occ_cols_early ON evlog.event_log;
ALTER TABLE evlog.event_log DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON evlog.event_log FROM evlog_occ_cols;
REVOKE ALL ON FUNCTION evlog_stream_head(text, text) FROM evlog_occ_cols;
REVOKE ALL ON FUNCTION evlog_stream_read(text, text, bigint, integer) FROM evlog_occ_cols;
REVOKE USAGE ON SCHEMA evlog FROM evlog_occ_cols;
DROP ROLE evlog_occ_cols;

-- the queries evlog_stream_read runs, and evlog_stream_head under
-- row-level security, are index scans (the tables here are tiny, so the
-- planner is told that a seq scan is expensive, as on a real log).  The
-- scan lines of each plan, partition names normalised: one line per kind
-- of scan, however many partitions earlier tests left.  ANALYZE first: which
-- index wins must not depend on whether autovacuum has analyzed the
-- partition yet (it had, in a slow run under valgrind, and the planner then
-- picked another index).
ANALYZE evlog.event_log;
CREATE FUNCTION pg_temp.scans(q text) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        IF l ~ 'Scan' THEN
            RETURN NEXT regexp_replace(regexp_replace(l, 'event_log_p\d+', 'event_log_pN', 'g'), '^\s*(->\s*)?', '');
        END IF;
    END LOOP;
END $$;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT DISTINCT s AS head_rollout FROM pg_temp.scans($$SELECT e.seq FROM evlog.event_log e WHERE e.rollout_id = 'occ-r1' ORDER BY e.seq DESC LIMIT 1$$) s;
SELECT DISTINCT s AS head_host FROM pg_temp.scans($$SELECT e.seq FROM evlog.event_log e WHERE e.host_id = 'occ-h1' ORDER BY e.seq DESC LIMIT 1$$) s;
SELECT DISTINCT s AS read_rollout FROM pg_temp.scans($$SELECT e.* FROM evlog.event_log e WHERE e.rollout_id = 'occ-r1' AND e.seq > 5 AND e.seq <= 100 ORDER BY e.seq LIMIT 1000$$) s;
SELECT DISTINCT s AS read_host FROM pg_temp.scans($$SELECT e.* FROM evlog.event_log e WHERE e.host_id = 'occ-h1' AND e.seq > 5 AND e.seq <= 100 ORDER BY e.seq LIMIT 1000$$) s;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- writers get the new functions; nobody else does
CREATE ROLE evlog_occ_writer;
CREATE ROLE evlog_occ_nobody;
SELECT evlog_grant_writer('evlog_occ_writer');
SELECT p::regprocedure AS fn,
       has_function_privilege('evlog_occ_writer', p, 'EXECUTE') AS writer,
       has_function_privilege('evlog_occ_nobody', p, 'EXECUTE') AS nobody
  FROM unnest(ARRAY['evlog_append(text, timestamptz, text, text, text, text, bigint, text)'::regprocedure,
                    'evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text)',
                    'evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[])',
                    'evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text)',
                    'evlog_stream_head(text, text)',
                    'evlog_stream_read(text, text, bigint, integer)']) p
 ORDER BY 1;
-- and not in the extension's initial privileges
SELECT count(*) AS init_privs_mention_writer
  FROM pg_init_privs i, aclexplode(i.initprivs) a
 WHERE a.grantee = 'evlog_occ_writer'::regrole;
REVOKE ALL ON FUNCTION evlog_append(text, timestamptz, text, text, text, text, bigint, text),
    evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text),
    evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]),
    evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text),
    evlog_stream_head(text, text), evlog_stream_read(text, text, bigint, integer) FROM evlog_occ_writer;
DROP OWNED BY evlog_occ_writer;
DROP ROLE evlog_occ_writer, evlog_occ_nobody;
