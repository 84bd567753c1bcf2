--
-- evlog_enqueue with evlog preloaded (test/evlog_preload.conf): validation
-- in the caller, exactly as evlog_append; commit-time vs call-time queuing
-- under ROLLBACK and savepoints; evlog_flush; evlog.queue_status.
--
\set VERBOSITY terse
CREATE EXTENSION evlog;

-- a bad event is an error in the caller, never accepted and then lost
SELECT evlog_enqueue('no_such_kind', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
SELECT evlog_enqueue('', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
SELECT evlog_enqueue(NULL, '2026-05-16 01:00:00+00', NULL, NULL, '{}');
SELECT evlog_enqueue('agent_event', NULL, NULL, NULL, '{}');
SELECT evlog_enqueue('agent_event', 'infinity', NULL, NULL, '{}');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, NULL::text);
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"a":');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '[1, 2]');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '"scalar"'::jsonb);
SET evlog.max_payload_bytes = 16;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"note": "longer than sixteen bytes"}');
RESET evlog.max_payload_bytes;
-- nothing was queued: this database has no queue yet
SELECT count(*) FROM evlog.queue_status WHERE database = current_database();

-- commit mode (the default): queued at COMMIT, so ROLLBACK logs nothing
SHOW evlog.enqueue_mode;
BEGIN;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '{"case": "commit mode, rolled back"}');
ROLLBACK;

-- call mode: queued at the call, survives the caller's ROLLBACK
SET evlog.enqueue_mode = call;
BEGIN;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '{"case": "call mode, rolled back"}');
ROLLBACK;
RESET evlog.enqueue_mode;
SELECT evlog_flush();
SELECT payload FROM evlog.event_log ORDER BY seq;

-- a rolled-back savepoint takes its enqueues with it; a released one keeps them
BEGIN;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:01+00', 'h2', 'r1', '{"case": "commit mode, committed"}', 'ev-1');
SAVEPOINT a;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:02+00', 'h2', 'r1', '{"case": "savepoint rolled back"}');
ROLLBACK TO a;
SAVEPOINT b;
SELECT evlog_enqueue('plan_action', '2026-05-16 01:00:03+00', NULL, 'r1', '{"case": "savepoint released"}'::jsonb);
RELEASE b;
-- not queued before COMMIT: evlog_flush has nothing new of ours to wait for
SELECT evlog_flush('0 s');
SELECT count(*) FROM evlog.event_log;
COMMIT;

SELECT evlog_flush();
SELECT seq, ts, kind, host_id, rollout_id, payload, event_id FROM evlog.event_log ORDER BY seq;

-- the same event_id enqueued again lands once (the log writer's dedup)
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:01+00', 'h2', 'r1', '{"case": "commit mode, committed"}', 'ev-1');
SELECT evlog_flush('30 s');
SELECT count(*) FROM evlog.event_log WHERE event_id = 'ev-1';

-- PREPARE TRANSACTION cannot carry commit-time enqueues
BEGIN;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
PREPARE TRANSACTION 'evlog_p1';

SELECT capacity, used, pending, accepted, flushed, dead_lettered, dropped, crash_lost, lost,
       last_error, last_flush_at IS NOT NULL AS flushed_once, worker_pid IS NOT NULL AS has_writer
  FROM evlog.queue_status WHERE database = current_database();
SELECT count(*) FROM evlog.gaps;
SELECT count(*) FROM evlog.dead_letter;
