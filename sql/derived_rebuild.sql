--
-- derived_rebuild: on a log of a few thousand mixed events, the tables the
-- trigger maintained incrementally equal a rebuild from the log; evlog_verify
-- is clean, detects corruption, and rebuild repairs it.
--
CREATE EXTENSION IF NOT EXISTS evlog;

-- 4000 mixed events: probe results (evidence and not, pass/fail,
-- enforce/observe), rollouts opened, waves, rollout and host transitions,
-- events for unknown rollouts, and noise
SELECT count(*) AS appended FROM (
  SELECT evlog_append(
    CASE i % 8 WHEN 0 THEN 'agent_event' WHEN 1 THEN 'agent_event' WHEN 2 THEN 'rollout_event'
               WHEN 3 THEN 'effect' WHEN 4 THEN 'effect' WHEN 5 THEN 'rollout_event'
               WHEN 6 THEN 'plan_action' ELSE 'agent_event' END,
    '2026-06-01 00:00:00+00'::timestamptz + i * interval '1 second',
    'host-' || (i % 37),
    'ro-' || (i % 50),
    CASE i % 8
      WHEN 0 THEN jsonb_build_object('kind', 'ProbeResult', 'probeName', 'ev-' || (i % 5),
             'mode', 'enforce', 'status', CASE WHEN i % 3 = 0 THEN 'pass' ELSE 'fail' END,
             'observedAt', to_char(timestamptz '2026-06-01 00:00:00+00' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
             'subResults', jsonb_build_array(
                jsonb_build_object('controlId', 'c' || (i % 7), 'framework', 'fw' || (i % 3),
                                   'status', CASE WHEN i % 5 = 0 THEN 'pass' ELSE 'fail' END,
                                   'effectiveMode', CASE WHEN i % 4 = 0 THEN 'observe' ELSE 'enforce' END,
                                   'overrideReason', NULL),
                jsonb_build_object('controlId', 'd' || (i % 11), 'framework', 'fw9',
                                   'status', 'fail', 'effectiveMode', 'enforce')))
      WHEN 1 THEN jsonb_build_object('kind', 'ProbeResult', 'probeName', 'http-' || (i % 3),
             'mode', CASE WHEN i % 3 = 0 THEN 'observe' ELSE 'enforce' END,
             'status', CASE WHEN i % 7 = 0 THEN 'pass' ELSE 'fail' END,
             'observedAt', '2026-06-01T00:00:00Z',
             'subResults', CASE WHEN i % 2 = 0 THEN 'null'::jsonb ELSE '[]'::jsonb END)
      WHEN 2 THEN jsonb_build_object('kind', 'RolloutOpened', 'rolloutId', 'ro-' || (i / 8 % 50),
             'channel', 'ch-' || (i % 4), 'targetRef', 'ref-' || i,
             'at', to_char(timestamptz '2026-06-01 00:00:00+00' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
      WHEN 3 THEN jsonb_build_object('effect', 'RecordRolloutTransition', 'rolloutId', 'ro-' || (i / 8 % 60),
             'from', 'Active',
             'to', (ARRAY['Active','Converging','Terminal','Superseded','Failed','Reverted'])[1 + i / 8 % 6],
             'at', to_char(timestamptz '2026-06-01 00:00:00+00' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
      WHEN 4 THEN jsonb_build_object('effect', 'RecordTransition', 'host', 'host-' || (i % 37),
             'rollout_id', 'ro-' || (i / 8 % 50), 'from', 'Pending',
             'to', (ARRAY['Pending','Activating','Deferred','Soaking','Converged','Failed','Reverted'])[1 + i / 8 % 7],
             'at', to_char(timestamptz '2026-06-01 00:00:00+00' + i * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
      WHEN 5 THEN jsonb_build_object('kind', 'WaveAdvanced', 'rolloutId', 'ro-' || (i / 8 % 55),
             'fromWave', i % 3, 'toWave', i / 8 % 3 + 1)
      WHEN 6 THEN jsonb_build_object('action', 'QueueDispatch', 'host', 'host-' || i)
      ELSE jsonb_build_object('kind', 'DispatchAck', 'seq', i)
    END)
  FROM generate_series(1, 4000) AS i) s;

-- the incremental result, before any rebuild (ids left out: they are not
-- stable across a rebuild)
CREATE TEMP TABLE inc_pf AS
  SELECT event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at FROM evlog.probe_failures;
CREATE TEMP TABLE inc_ro AS SELECT * FROM evlog.rollouts;
CREATE TEMP TABLE inc_hs AS SELECT * FROM evlog.host_states;
CREATE TEMP TABLE inc_sk AS SELECT * FROM evlog.derived_skips;
CREATE TEMP TABLE inc_fc AS SELECT * FROM public.host_failure_counts;
SELECT min(id) AS min_id, max(id) AS max_id FROM evlog.probe_failures \gset

-- the workload exercised every rule
SELECT count(*) > 500 AS many_failures, count(DISTINCT control_id) > 10 AS many_controls,
       count(*) FILTER (WHERE control_id IS NULL) > 100 AS many_non_evidence
  FROM inc_pf;
SELECT count(*) AS rollouts, count(DISTINCT state) > 3 AS several_states,
       count(*) FILTER (WHERE terminal_at IS NOT NULL) > 0 AS some_terminal,
       count(*) FILTER (WHERE superseded_at IS NOT NULL) > 0 AS some_superseded,
       count(*) FILTER (WHERE current_wave > 0) > 0 AS some_waves
  FROM inc_ro WHERE rollout_id LIKE 'ro-%';
SELECT count(*) AS host_states FROM inc_hs WHERE rollout_id LIKE 'ro-%';
SELECT view, reason, count(*) > 0 AS counted FROM inc_sk GROUP BY 1, 2 ORDER BY 1, 2;

SELECT * FROM evlog_verify('all');

-- rebuild everything; the NOTICEs report the phases
SELECT evlog_rebuild('all') =
       (SELECT count(*) FROM inc_pf) + (SELECT count(*) FROM inc_ro) + (SELECT count(*) FROM inc_hs)
       + (SELECT count(*) FROM inc_fc) AS rows_written_ok;

-- rebuilt = incremental, both ways
SELECT count(*) AS pf_only_incremental FROM (
  SELECT * FROM inc_pf EXCEPT ALL
  SELECT event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at FROM evlog.probe_failures) d;
SELECT count(*) AS pf_only_rebuilt FROM (
  SELECT event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at FROM evlog.probe_failures
  EXCEPT ALL SELECT * FROM inc_pf) d;
SELECT count(*) AS ro_only_incremental FROM (SELECT * FROM inc_ro EXCEPT ALL SELECT * FROM evlog.rollouts) d;
SELECT count(*) AS ro_only_rebuilt FROM (SELECT * FROM evlog.rollouts EXCEPT ALL SELECT * FROM inc_ro) d;
SELECT count(*) AS hs_only_incremental FROM (SELECT * FROM inc_hs EXCEPT ALL SELECT * FROM evlog.host_states) d;
SELECT count(*) AS hs_only_rebuilt FROM (SELECT * FROM evlog.host_states EXCEPT ALL SELECT * FROM inc_hs) d;
SELECT count(*) AS sk_only_incremental FROM (SELECT * FROM inc_sk EXCEPT ALL SELECT * FROM evlog.derived_skips) d;
SELECT count(*) AS sk_only_rebuilt FROM (SELECT * FROM evlog.derived_skips EXCEPT ALL SELECT * FROM inc_sk) d;
SELECT count(*) AS fc_differences FROM (
  (SELECT * FROM inc_fc EXCEPT ALL SELECT * FROM public.host_failure_counts)
  UNION ALL (SELECT * FROM public.host_failure_counts EXCEPT ALL SELECT * FROM inc_fc)) d;
-- the swap writes only differences: a consistent table keeps its rows (ids)
SELECT min(id) = :min_id AND max(id) = :max_id AS ids_kept FROM evlog.probe_failures;

SELECT * FROM evlog_verify('all');

-- corrupt each table; verify names exactly the damaged rows
SELECT min(id) AS victim FROM evlog.probe_failures \gset
SELECT event_log_seq AS victim_seq, control_id AS victim_control FROM evlog.probe_failures WHERE id = :victim \gset
DELETE FROM evlog.probe_failures WHERE id = :victim;
UPDATE evlog.rollouts SET current_wave = 42 WHERE rollout_id = 'ro-7';
INSERT INTO evlog.host_states VALUES ('ro-nowhere', 'host-x', 'Converged', '2026-01-01', 1);
SELECT view, difference,
       CASE view WHEN 'probe_failures' THEN ("row"->>'event_log_seq')::bigint = :victim_seq
                                             AND "row"->>'control_id' IS NOT DISTINCT FROM :'victim_control'
                 WHEN 'rollouts' THEN "row"->>'rollout_id' = 'ro-7'
                 WHEN 'host_states' THEN "row"->>'rollout_id' = 'ro-nowhere' END AS expected_row,
       "row"->>'current_wave' AS wave
  FROM evlog_verify('all') ORDER BY 1, 2;
SELECT view, difference FROM evlog_verify('probe_failures');
SELECT view, difference FROM evlog_verify('host_states');

-- repaired rows get new ids, the others keep theirs
-- (checked below through verify and the counts)
-- a single-table rebuild repairs only that table
SET client_min_messages = warning;
SELECT evlog_rebuild('rollouts') = (SELECT count(*) FROM evlog.rollouts) AS rollouts_rebuilt;
RESET client_min_messages;
SELECT view, difference FROM evlog_verify('all') ORDER BY 1, 2;
SELECT count(*) AS pf_rows_before_repair FROM evlog.probe_failures \gset
SET client_min_messages = warning;
SELECT evlog_rebuild('probe_failures') > 0 AS pf_rebuilt, evlog_rebuild('host_states') > 0 AS hs_rebuilt;
RESET client_min_messages;
SELECT * FROM evlog_verify('all');
SELECT count(*) - :pf_rows_before_repair AS pf_rows_restored,
       count(*) FILTER (WHERE id > :max_id) AS pf_rows_with_new_ids
  FROM evlog.probe_failures;

-- rebuild inside a transaction that rolls back leaves the tables as they were
SELECT count(*) AS pf_before FROM evlog.probe_failures \gset
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT evlog_rebuild('probe_failures') = :pf_before AS same_count;
ROLLBACK;
SELECT count(*) = :pf_before AS unchanged FROM evlog.probe_failures;

-- not running: the progress view is empty, and the caller's query is back
SELECT count(*) AS running_rebuilds FROM evlog.rebuild_progress;
SELECT query LIKE 'SELECT query LIKE%' AS own_query_restored FROM pg_stat_activity WHERE pid = pg_backend_pid();
