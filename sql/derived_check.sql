--
-- derived_check (evlog preloaded): evlog_enqueue refuses at the call an
-- event whose payload evlog_append would refuse for the derived tables, so
-- the background writer never meets it.
--
CREATE EXTENSION IF NOT EXISTS evlog;
\set VERBOSITY default
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"now"}');
SELECT evlog_enqueue('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r1',
  '{"kind":"WaveAdvanced","toWave":1.5}'::jsonb);
SELECT evlog_enqueue('effect', '2026-05-16 01:00:00+00', NULL, NULL,
  '{"effect":"RecordRolloutTransition","to":"Active","at":"2026-05-16T01:00:00Z"}');
\set VERBOSITY terse
-- an event that feeds no derived table, or a well-formed one, is accepted
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-05-16T01:00:00Z"}') > 0 AS accepted;
SELECT evlog_enqueue('plan_action', '2026-05-16 01:00:00+00', NULL, NULL, '{"observedAt":"now"}') > 0 AS accepted;
