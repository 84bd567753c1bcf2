-- demo/demo.sql — what scripts/demo.sh runs against a throwaway server.
\pset footer off
\echo '--- install the extension'
CREATE EXTENSION evlog;
\dx evlog

\echo '--- append events shaped like the control plane''s (seed 001/003)'
-- an agent reports a probe result (enforce mode, one failing control)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'web-01', 'rollout-42',
  '{"kind":"ProbeResult","probeName":"cis-ssh","status":"fail","mode":"enforce",
    "observedAt":"2026-05-16T01:00:00Z",
    "subResults":[{"controlId":"CIS-5.2.4","framework":"cis","status":"fail","effectiveMode":"enforce"},
                  {"controlId":"CIS-5.2.5","framework":"cis","status":"pass","effectiveMode":"enforce"}]}')
  AS probe_seq;
-- the planner decides to advance a wave
SELECT evlog_append('plan_action', '2026-05-16 01:00:05+00', NULL, 'rollout-42',
  '{"action":"AdvanceWave","fromWave":0,"toWave":1}') AS plan_seq;
-- an agent acknowledges a dispatch; the event_id makes retries idempotent
SELECT evlog_append('agent_event', '2026-05-16 01:00:07+00', 'web-02', 'rollout-42',
  '{"kind":"DispatchAck"}', 'web-02/dispatch/7') AS ack_seq;
SELECT evlog_append('agent_event', '2026-05-16 01:00:07+00', 'web-02', 'rollout-42',
  '{"kind":"DispatchAck"}', 'web-02/dispatch/7') AS retried_ack_seq_is_the_same;

\echo '--- a malformed payload never lands'
\set ON_ERROR_STOP off
SELECT evlog_append('agent_event', '2026-05-16 01:00:09+00', 'web-03', NULL, '{"kind":"ProbeResult",');
\set ON_ERROR_STOP on

\echo '--- read it back'
SELECT seq, ts, kind, host_id, rollout_id, payload->>'kind' AS payload_kind, event_id
  FROM evlog_query(rollout_id => 'rollout-42');
SELECT evlog_last_seq();

\echo '--- derived in the same transaction: the enforce-mode failure, carrying its event''s seq'
SELECT event_log_seq, host_id, probe_name, control_id, framework, observed_at FROM evlog.probe_failures;

\echo '--- the log is append-only, for its owner too'
\set ON_ERROR_STOP off
DELETE FROM evlog.event_log;
\set ON_ERROR_STOP on
SELECT count(*) AS events_still_there FROM evlog.event_log;
