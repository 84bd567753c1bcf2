--
-- hot_path_derive: evlog's writer derives the rows it writes by calling the
-- trigger's body itself when that is exactly what the AFTER ROW trigger
-- would do, and queues trigger events otherwise.  Either way the derived
-- tables, and which triggers run, are what an INSERT's triggers would give:
-- the trigger's enabled state, session_replication_role and other AFTER
-- ROW triggers on the log are honoured.
--
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS evlog;
RESET client_min_messages;
CREATE FUNCTION pg_temp.failing_probe() RETURNS text LANGUAGE sql AS $$
  SELECT '{"kind":"ProbeResult","probeName":"hp","mode":"enforce","status":"fail","observedAt":"2026-05-16T01:00:00Z"}'
$$;
-- one failing probe per host: single appends and a batch of 1,500 (two
-- multi-insert buffers), each one probe_failures row
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-1', 'r1', pg_temp.failing_probe()) AS s1 \gset
SELECT cardinality(evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T01:00:00Z', 'host_id', 'hpd-b',
         'payload', pg_temp.failing_probe()::jsonb) ORDER BY g))) AS batch
  FROM generate_series(1, 1500) g;
SELECT (SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'hpd-1') AS single_rows,
       (SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'hpd-b') AS batch_rows;

-- the trigger disabled by its owner: nothing is derived, single or batch
ALTER TABLE evlog.event_log DISABLE TRIGGER event_log_derive;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-2', 'r1', pg_temp.failing_probe()) > 0 AS appended;
SELECT cardinality(evlog_append_batch(jsonb_build_array(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T01:00:00Z', 'host_id', 'hpd-2',
         'payload', pg_temp.failing_probe()::jsonb)))) AS batch;
SELECT count(*) AS disabled_rows FROM evlog.probe_failures WHERE host_id = 'hpd-2';

-- enabled for origin sessions only: a replica-role session derives nothing,
-- an origin one does
ALTER TABLE evlog.event_log ENABLE TRIGGER event_log_derive;
SET session_replication_role = replica;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-3', 'r1', pg_temp.failing_probe()) > 0 AS appended;
RESET session_replication_role;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-4', 'r1', pg_temp.failing_probe()) > 0 AS appended;
SELECT (SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'hpd-3') AS replica_rows,
       (SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'hpd-4') AS origin_rows;
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_derive;

-- another AFTER ROW trigger on the log: both run, for single appends and
-- batches, and the other one sees the row
CREATE TABLE hpd_seen (seq bigint, host_id text);
CREATE FUNCTION hpd_seen_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hpd_seen VALUES (NEW.seq, NEW.host_id);
    RETURN NULL;
END $$;
CREATE TRIGGER hpd_seen AFTER INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION hpd_seen_trigger();
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-5', 'r1', pg_temp.failing_probe()) AS s5 \gset
SELECT cardinality(evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T01:00:00Z', 'host_id', 'hpd-6',
         'payload', pg_temp.failing_probe()::jsonb) ORDER BY g))) AS batch
  FROM generate_series(1, 3) g;
SELECT host_id, count(*) AS seen,
       (SELECT count(*) FROM evlog.probe_failures p WHERE p.host_id = s.host_id) AS derived
  FROM hpd_seen s GROUP BY host_id ORDER BY host_id;
DROP TRIGGER hpd_seen ON evlog.event_log;
DROP FUNCTION hpd_seen_trigger();
DROP TABLE hpd_seen;

-- a WHEN clause on a second copy of evlog's own trigger is not evlog's
-- trigger as shipped: the events are queued, each trigger fires as
-- declared (here the copy only for hpd-8, which gets its row twice)
CREATE TRIGGER hpd_copy AFTER INSERT ON evlog.event_log
    FOR EACH ROW WHEN (NEW.host_id = 'hpd-8') EXECUTE FUNCTION evlog.derive_trigger();
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-7', 'r1', pg_temp.failing_probe()) > 0 AS appended;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-8', 'r1', pg_temp.failing_probe()) > 0 AS appended;
DROP TRIGGER hpd_copy ON evlog.event_log;
SELECT (SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'hpd-7') AS hpd7_rows,
       (SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'hpd-8') AS hpd8_rows;

-- every appended row is where partition pruning looks for it (the writer
-- routes by the partition bounds and skips the executor's partition check)
SELECT count(*) FILTER (WHERE (SELECT count(*) FROM evlog.event_log l WHERE l.seq = e.seq) <> 1) AS misrouted
  FROM evlog.event_log e WHERE e.host_id LIKE 'hpd-%';
-- a BEFORE ROW trigger may not change the seq (the append returns it and
-- evlog.event_ids records it; the writer routed the row by it): on the log
-- (cloned to each partition), moved out of the partition, PostgreSQL's own
-- check refuses it (0A000); within the partition, or made on one partition
-- only, evlog's (09000)
CREATE FUNCTION hpd_move_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := NEW.seq + TG_ARGV[0]::bigint;
    RETURN NEW;
END $$;
CREATE FUNCTION pg_temp.try_append() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evlog_append('agent_event', '2026-05-16 01:00:00+00', 'hpd-9', 'r1', '{}');
    RETURN 'appended';
EXCEPTION WHEN check_violation OR feature_not_supported OR triggered_action_exception THEN
    RETURN 'refused: ' || SQLSTATE;
END $$;
CREATE TRIGGER hpd_move BEFORE INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION hpd_move_trigger(1000000000000);
SELECT pg_temp.try_append() AS out_of_partition;
DROP TRIGGER hpd_move ON evlog.event_log;
CREATE TRIGGER hpd_move BEFORE INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION hpd_move_trigger(1);
SELECT pg_temp.try_append() AS within_partition;
DROP TRIGGER hpd_move ON evlog.event_log;
SELECT tableoid::regclass AS part FROM evlog.event_log ORDER BY seq DESC LIMIT 1 \gset
CREATE TRIGGER hpd_move BEFORE INSERT ON :part
    FOR EACH ROW EXECUTE FUNCTION hpd_move_trigger(1000000000000);
SELECT pg_temp.try_append() AS on_one_partition;
DROP TRIGGER hpd_move ON :part;
DROP FUNCTION hpd_move_trigger();
SELECT count(*) AS hpd9_rows FROM evlog.event_log WHERE host_id = 'hpd-9';

-- a batch's check tells its writer which events the rules write nothing
-- for (a passing probe, an observed failure, a kind that feeds no table),
-- and those are not read again at the insert.  The events below mix both
-- kinds; written by evlog_append one by one, by both batch forms and by a
-- load into evlog.append_copy, each path derives the same rows, and the
-- tables equal a replay of the log.
CREATE TEMP TABLE hpd_mix (n int, kind text, host_id text, rollout_id text, payload jsonb);
INSERT INTO hpd_mix VALUES
  (1, 'agent_event', 'h', 'r', '{"kind":"ProbeResult","probeName":"a","mode":"observe","status":"pass","observedAt":"2026-05-16T01:00:00Z"}'),
  (2, 'agent_event', 'h', 'r', '{"kind":"ProbeResult","probeName":"b","mode":"enforce","status":"fail","observedAt":"2026-05-16T01:00:00Z"}'),
  (3, 'agent_event', 'h', 'r', '{"kind":"ProbeResult","probeName":"c","mode":"observe","status":"fail","observedAt":"2026-05-16T01:00:00Z"}'),
  (4, 'agent_event', 'h', 'r', '{"kind":"ProbeResult","probeName":"d","observedAt":"2026-05-16T01:00:00Z","subResults":[{"controlId":"x","status":"pass","effectiveMode":"enforce"},{"controlId":"y","status":"fail","effectiveMode":"enforce","framework":"f"}]}'),
  (5, 'agent_event', 'h', 'r', '{"kind":"ProbeResult","probeName":"e","observedAt":"2026-05-16T01:00:00Z","subResults":[{"controlId":"x","status":"fail","effectiveMode":"observe"}]}'),
  (6, 'agent_event', 'h', 'r', '{"kind":"Heartbeat"}'),
  (7, 'rollout_event', 'h', 'R', '{"kind":"RolloutOpened","channel":"stable","targetRef":"t","at":"2026-05-16T01:00:00Z"}'),
  (8, 'rollout_event', 'h', 'R', '{"kind":"WaveAdvanced","fromWave":0,"toWave":1,"at":"2026-05-16T01:01:00Z"}'),
  (9, 'effect', 'h', 'R', '{"effect":"RecordTransition","host":"h","from":"Pending","to":"Activating","at":"2026-05-16T01:02:00Z"}'),
  (10, 'effect', 'h', 'R', '{"effect":"Unrelated"}'),
  (11, 'plan_action', 'h', 'R', '{"kind":"ProbeResult","probeName":"z","mode":"enforce","status":"fail","observedAt":"2026-05-16T01:00:00Z"}');
-- path p: host and rollout ids tagged with the path
CREATE FUNCTION pg_temp.mix(p text) RETURNS TABLE (kind text, ts timestamptz, host_id text, rollout_id text, payload jsonb)
LANGUAGE sql AS $$
  SELECT kind, '2026-05-16 01:00:00+00'::timestamptz, host_id || '-' || p, rollout_id || '-' || p,
         CASE WHEN payload ? 'host' THEN jsonb_set(payload, '{host}', to_jsonb(host_id || '-' || p)) ELSE payload END
    FROM hpd_mix ORDER BY n
$$;
SELECT count(evlog_append(kind, ts, host_id, rollout_id, payload)) AS single FROM pg_temp.mix('single');
SELECT cardinality(evlog_append_batch(jsonb_agg(jsonb_build_object('kind', kind, 'ts', ts, 'host_id', host_id,
         'rollout_id', rollout_id, 'payload', payload)))) AS batch_jsonb FROM pg_temp.mix('bj');
SELECT cardinality(evlog_append_batch(array_agg(kind), array_agg(ts), array_agg(host_id), array_agg(rollout_id),
         array_agg(payload), NULL)) AS batch_arrays FROM pg_temp.mix('ba');
INSERT INTO evlog.append_copy (kind, ts, host_id, rollout_id, payload) SELECT * FROM pg_temp.mix('copy');
SELECT p AS path,
       (SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'h-' || p) AS probe_failures,
       (SELECT string_agg(coalesce(control_id, '-'), ',' ORDER BY control_id) FROM evlog.probe_failures WHERE host_id = 'h-' || p) AS controls,
       (SELECT state || '/' || current_wave FROM evlog.rollouts WHERE rollout_id = 'R-' || p) AS rollout,
       (SELECT state FROM evlog.host_states WHERE host_id = 'h-' || p) AS host_state
  FROM unnest(ARRAY['single', 'bj', 'ba', 'copy']) p;
SELECT * FROM evlog_verify('all') WHERE row->>'host_id' LIKE 'h-%' OR row->>'rollout_id' LIKE 'R-%';
