--
-- derived: probe_failures, rollouts, host_states maintained in the appending
-- transaction by the C trigger (seed 003's rules), malformed feeding events
-- refused, unknown rollouts counted, user-registered views.
--
CREATE EXTENSION IF NOT EXISTS evlog;
\set VERBOSITY default

-- the trigger is ENABLE ALWAYS (fires under session_replication_role = replica)
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'evlog.event_log'::regclass AND tgname = 'event_log_derive';

-- derived tables are NOT dumped (the trigger regenerates them on restore);
-- user-view registrations are
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
  JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'evlog' ORDER BY 1;

-- seqs from here on do not depend on the earlier test files (error details
-- below name them)
SELECT setval('evlog.event_log_seq_seq', 10000) AS seq_reset;

-- seed 003: probe_result_json_carries_per_control_audit_fields.  An
-- enforce-mode probe failure whose only sub-result was downgraded to observe
-- produces no probe_failures row; the log keeps effectiveMode/overrideReason.
SELECT evlog_append('agent_event', '2026-05-18 18:05:27+00', 'host-a', 'r-audit',
  '{"kind":"ProbeResult","probeName":"evidence-nis2-essential","mode":"enforce","status":"fail",
    "observedAt":"2026-05-18T18:05:27+00:00","failureReason":"encryption-at-rest failed",
    "subResults":[{"controlId":"encryption-at-rest","status":"fail","framework":"nis2-essential",
                   "article":"21(h)","effectiveMode":"observe",
                   "overrideReason":"Q2 audit window: observe-mode default"}],"seq":7}') AS audit_seq \gset
SELECT count(*) AS rows_for_audit_event FROM evlog.probe_failures WHERE event_log_seq = :audit_seq;
SELECT payload #>> '{subResults,0,controlId}' AS control_id,
       payload #>> '{subResults,0,framework}' AS framework,
       payload #>> '{subResults,0,article}' AS article,
       payload #>> '{subResults,0,effectiveMode}' AS effective_mode,
       payload #>> '{subResults,0,overrideReason}' AS override_reason
  FROM evlog.event_log WHERE seq = :audit_seq;

-- mixed sub-results: only fail + enforce lands, one row per sub-result
SELECT evlog_append('agent_event', '2026-05-18 18:10:00+00', 'host-a', 'r1',
  '{"kind":"ProbeResult","probeName":"evidence-mixed","mode":"enforce","status":"fail",
    "observedAt":"2026-05-18T18:10:00+00:00","failureReason":null,
    "subResults":[{"controlId":"c-fail-enforce","status":"fail","framework":"fw1","effectiveMode":"enforce","overrideReason":null},
                  {"controlId":"c-pass-enforce","status":"pass","framework":"fw1","effectiveMode":"enforce"},
                  {"controlId":"c-fail-observe","status":"fail","framework":"fw2","effectiveMode":"observe"},
                  {"controlId":"c-fail-enforce-2","status":"fail","framework":null,"effectiveMode":"enforce"}]}') AS mixed_seq \gset
SELECT event_log_seq = :mixed_seq AS seq_ok, rollout_id, host_id, probe_name, control_id, framework, observed_at
  FROM evlog.probe_failures WHERE event_log_seq = :mixed_seq ORDER BY control_id;
-- a probe-level pass does not stop an enforce-mode sub-result failure
SELECT evlog_append('agent_event', '2026-05-18 18:11:00+00', 'host-b', 'r1',
  '{"kind":"ProbeResult","probeName":"evidence-pass","mode":"observe","status":"pass",
    "observedAt":"2026-05-18T18:11:00+00:00",
    "subResults":[{"controlId":"c9","status":"fail","framework":"fw9","effectiveMode":"enforce"}]}') AS s \gset
SELECT probe_name, control_id, framework FROM evlog.probe_failures WHERE event_log_seq = :s;

-- non-evidence probes: no subResults, "subResults": null, or [] -> the
-- probe-level mode and status decide; one row with NULL control_id/framework
SELECT evlog_append('agent_event', '2026-05-18 18:12:00+00', 'host-c', 'r1',
  '{"kind":"ProbeResult","probeName":"http-absent","mode":"enforce","status":"fail","observedAt":"2026-05-18T18:12:00Z"}') AS ne1 \gset
SELECT evlog_append('agent_event', '2026-05-18 18:12:01+00', 'host-c', 'r1',
  '{"kind":"ProbeResult","probeName":"http-null","mode":"enforce","status":"fail","observedAt":"2026-05-18T18:12:01Z","subResults":null}') AS ne2 \gset
SELECT evlog_append('agent_event', '2026-05-18 18:12:02+00', 'host-c', 'r1',
  '{"kind":"ProbeResult","probeName":"http-empty","mode":"enforce","status":"fail","observedAt":"2026-05-18T18:12:02Z","subResults":[]}') AS ne3 \gset
-- ... and nothing for observe-mode failures or passes
SELECT evlog_append('agent_event', '2026-05-18 18:12:03+00', 'host-c', 'r1',
  '{"kind":"ProbeResult","probeName":"http-observe","mode":"observe","status":"fail","observedAt":"2026-05-18T18:12:03Z"}') AS ne4 \gset
SELECT evlog_append('agent_event', '2026-05-18 18:12:04+00', 'host-c', 'r1',
  '{"kind":"ProbeResult","probeName":"http-pass","mode":"enforce","status":"pass","observedAt":"2026-05-18T18:12:04Z","subResults":[]}') AS ne5 \gset
SELECT evlog_append('agent_event', '2026-05-18 18:12:05+00', 'host-c', 'r1',
  '{"kind":"ProbeResult","probeName":"http-nomode","status":"fail","observedAt":"2026-05-18T18:12:05Z"}') AS ne6 \gset
SELECT probe_name, control_id IS NULL AS control_null, framework IS NULL AS framework_null, observed_at
  FROM evlog.probe_failures WHERE event_log_seq BETWEEN :ne1 AND :ne6 ORDER BY event_log_seq;
-- other agent events and kinds feed nothing
SELECT evlog_append('agent_event', '2026-05-18 18:13:00+00', 'host-c', 'r1', '{"kind":"DispatchAck","probeName":1}') > 0 AS ok;
SELECT evlog_append('plan_action', '2026-05-18 18:13:00+00', 'host-c', 'r1', '{"kind":"ProbeResult","status":"fail","mode":"enforce"}') > 0 AS ok;
SELECT count(*) AS probe_failures_total FROM evlog.probe_failures;

-- rollouts: every transition
SELECT evlog_append('rollout_event', '2026-05-18 19:00:00+00', NULL, 'r-main',
  '{"kind":"RolloutOpened","rolloutId":"r-main","channel":"stable","targetRef":"ref-1","at":"2026-05-18T19:00:00Z"}') AS open_seq \gset
SELECT rollout_id, channel, target_ref, state, current_wave, opened_event_log_seq = :open_seq AS opened_seq_ok,
       last_transition_event_log_seq, opened_at, terminal_at, superseded_at
  FROM evlog.rollouts WHERE rollout_id = 'r-main';
-- RolloutOpened without "at" uses the event ts; rolloutId falls back to the row
SELECT evlog_append('rollout_event', '2026-05-18 19:00:30+00', NULL, 'r-next',
  '{"kind":"RolloutOpened","channel":"stable","targetRef":"ref-2","at":null}') > 0 AS ok;
SELECT rollout_id, state, current_wave, opened_at FROM evlog.rollouts WHERE rollout_id = 'r-next';
SELECT evlog_append('effect', '2026-05-18 19:01:00+00', NULL, 'r-main',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-main","from":"Opening","to":"Active","at":"2026-05-18T19:01:00Z"}') AS t1 \gset
SELECT state, last_transition_event_log_seq = :t1 AS last_ok, terminal_at, superseded_at FROM evlog.rollouts WHERE rollout_id = 'r-main';
SELECT evlog_append('rollout_event', '2026-05-18 19:02:00+00', NULL, 'r-main',
  '{"kind":"WaveAdvanced","rolloutId":"r-main","fromWave":0,"toWave":1,"at":"2026-05-18T19:02:00Z"}') > 0 AS ok;
SELECT evlog_append('rollout_event', '2026-05-18 19:03:00+00', NULL, 'r-main',
  '{"kind":"WaveAdvanced","rolloutId":"r-main","fromWave":1,"toWave":2,"at":"2026-05-18T19:03:00Z"}') > 0 AS ok;
SELECT state, current_wave FROM evlog.rollouts WHERE rollout_id = 'r-main';
SELECT evlog_append('effect', '2026-05-18 19:04:00+00', NULL, 'r-main',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-main","from":"Active","to":"Converging","at":"2026-05-18T19:04:00Z"}') > 0 AS ok;
SELECT state, terminal_at FROM evlog.rollouts WHERE rollout_id = 'r-main';
SELECT evlog_append('effect', '2026-05-18 19:05:00+00', NULL, 'r-main',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-main","from":"Converging","to":"Terminal","at":"2026-05-18T19:05:00Z"}') AS t_term \gset
SELECT state, last_transition_event_log_seq = :t_term AS last_ok, terminal_at, superseded_at FROM evlog.rollouts WHERE rollout_id = 'r-main';
SELECT evlog_append('effect', '2026-05-18 19:06:00+00', NULL, 'r-main',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-main","from":"Terminal","to":"Superseded","at":"2026-05-18T19:06:00Z"}') > 0 AS ok;
SELECT state, terminal_at, superseded_at FROM evlog.rollouts WHERE rollout_id = 'r-main';
SELECT evlog_append('effect', '2026-05-18 19:07:00+00', NULL, 'r-next',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-next","from":"Opening","to":"Failed","at":"2026-05-18T19:07:00Z"}') > 0 AS ok;
SELECT evlog_append('effect', '2026-05-18 19:08:00+00', NULL, 'r-next',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-next","from":"Failed","to":"Reverted","at":"2026-05-18T19:08:00Z"}') > 0 AS ok;
SELECT rollout_id, state, terminal_at, superseded_at FROM evlog.rollouts WHERE rollout_id = 'r-next';

-- unknown rollouts change nothing and are counted; so is a second open
SELECT count(*) AS rollouts_before FROM evlog.rollouts \gset
SELECT evlog_append('effect', '2026-05-18 19:09:00+00', NULL, 'r-ghost',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-ghost","from":"Opening","to":"Active","at":"2026-05-18T19:09:00Z"}') AS g1 \gset
SELECT evlog_append('rollout_event', '2026-05-18 19:09:01+00', NULL, 'r-ghost',
  '{"kind":"WaveAdvanced","rolloutId":"r-ghost","fromWave":0,"toWave":1}') AS g2 \gset
SELECT evlog_append('rollout_event', '2026-05-18 19:09:02+00', NULL, 'r-main',
  '{"kind":"RolloutOpened","rolloutId":"r-main","channel":"other","targetRef":"ref-x"}') AS g3 \gset
SELECT count(*) = :rollouts_before AS no_new_rollout, bool_and(channel = 'stable') AS r_main_untouched
  FROM evlog.rollouts;
SELECT event_log_seq - :g1 AS offset, view, reason FROM evlog.derived_skips
 WHERE event_log_seq >= :g1 ORDER BY event_log_seq;
SELECT view, reason, events, last_event_log_seq = :g3 AS last_is_g3 FROM evlog.derived_stats
 WHERE reason = 'duplicate_open';
SELECT view, reason, events FROM evlog.derived_stats ORDER BY 1, 2;

-- host states: every host transition; the payload host/rollout_id win, the
-- row's columns fill in when they are absent
SELECT evlog_append('effect', '2026-05-18 20:00:00+00', 'h1', 'r-main',
  '{"effect":"RecordTransition","host":"h1","rollout_id":"r-main","from":"Pending","to":"Activating","at":"2026-05-18T20:00:00Z"}') > 0 AS ok;
SELECT rollout_id, host_id, state, since FROM evlog.host_states WHERE host_id = 'h1';
SELECT evlog_append('effect', '2026-05-18 20:01:00+00', 'h1', 'r-main',
  '{"effect":"RecordTransition","host":"h1","rollout_id":"r-main","from":"Activating","to":"Soaking","at":"2026-05-18T20:01:00Z"}') > 0 AS ok;
SELECT evlog_append('effect', '2026-05-18 20:02:00+00', 'h1', 'r-main',
  '{"effect":"RecordTransition","host":"h1","rollout_id":"r-main","from":"Soaking","to":"Converged","at":"2026-05-18T20:02:00Z"}') AS hs_last \gset
SELECT rollout_id, host_id, state, since, event_log_seq = :hs_last AS seq_ok FROM evlog.host_states WHERE host_id = 'h1';
SELECT evlog_append('effect', '2026-05-18 20:03:00+00', 'h2', 'r-main',
  '{"effect":"RecordTransition","from":"Pending","to":"Deferred","at":"2026-05-18T20:03:00Z"}') > 0 AS ok;
SELECT evlog_append('effect', '2026-05-18 20:04:00+00', 'h3', 'r-main',
  '{"effect":"RecordTransition","host":"h3","rollout_id":"r-main","from":"Activating","to":"Failed","at":"2026-05-18T20:04:00Z"}') > 0 AS ok;
SELECT evlog_append('effect', '2026-05-18 20:05:00+00', 'h3', 'r-main',
  '{"effect":"RecordTransition","host":"h3","rollout_id":"r-main","from":"Failed","to":"Reverted","at":"2026-05-18T20:05:00Z"}') > 0 AS ok;
-- the same host in another rollout is another row
SELECT evlog_append('effect', '2026-05-18 20:06:00+00', 'h1', 'r-next',
  '{"effect":"RecordTransition","host":"h1","rollout_id":"r-next","from":"Pending","to":"Pending","at":"2026-05-18T20:06:00Z"}') > 0 AS ok;
SELECT rollout_id, host_id, state, since FROM evlog.host_states ORDER BY 1, 2;

-- payload timestamps are RFC 3339 with a time and an offset: a bare date is refused
SELECT evlog_append('effect', '2026-05-18 21:00:00+00', 'h1', 'r-main',
  '{"effect":"RecordTransition","to":"Failed","at":"2026-05-18"}') > 0 AS date_only_is_refused;
SELECT state, since FROM evlog.host_states WHERE rollout_id = 'r-main' AND host_id = 'h1';

-- malformed feeding events: the append fails, nothing is written
SELECT (SELECT count(*) FROM evlog.event_log) AS log_n,
       (SELECT count(*) FROM evlog.probe_failures) AS pf_n,
       (SELECT count(*) FROM evlog.rollouts) AS ro_n,
       (SELECT count(*) FROM evlog.host_states) AS hs_n,
       (SELECT count(*) FROM evlog.derived_skips) AS sk_n \gset
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"last tuesday"}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":1716000000}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"observe","status":"pass"}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","mode":"enforce","status":"fail","observedAt":"2026-05-18T21:00:00Z"}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":null,"mode":"enforce","status":"fail","observedAt":"2026-05-18T21:00:00Z"}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":["p"],"observedAt":"2026-05-18T21:00:00Z"}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","observedAt":"2026-05-18T21:00:00Z","subResults":{"controlId":"c"}}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","observedAt":"2026-05-18T21:00:00Z","subResults":[{"controlId":"c","status":"fail","effectiveMode":"enforce"},"oops"]}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","observedAt":"2026-05-18T21:00:00Z","subResults":[{"status":"fail","effectiveMode":"enforce"}]}');
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","observedAt":"2026-05-18T21:00:00Z","subResults":[{"controlId":"c","status":false}]}');
SELECT evlog_append('rollout_event', '2026-05-18 21:00:00+00', NULL, NULL,
  '{"kind":"RolloutOpened","channel":"stable"}');
SELECT evlog_append('rollout_event', '2026-05-18 21:00:00+00', NULL, 'r-main',
  '{"kind":"WaveAdvanced","rolloutId":"r-main","toWave":"three"}');
SELECT evlog_append('rollout_event', '2026-05-18 21:00:00+00', NULL, 'r-main',
  '{"kind":"RolloutOpened","rolloutId":"r-bad","at":"not a time"}');
SELECT evlog_append('effect', '2026-05-18 21:00:00+00', NULL, 'r-main',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-main","from":"Active"}');
SELECT evlog_append('effect', '2026-05-18 21:00:00+00', NULL, 'r-main',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-main","to":"Active"}');
SELECT evlog_append('effect', '2026-05-18 21:00:00+00', NULL, 'r-main',
  '{"effect":"RecordTransition","rollout_id":"r-main","to":"Failed","at":"2026-05-18T21:00:00Z"}');
-- in one transaction: a good failure, then a malformed event -> neither stays
BEGIN;
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-05-18T21:00:00Z"}') > 0 AS ok;
SELECT evlog_append('agent_event', '2026-05-18 21:00:00+00', 'h1', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"soon"}');
ROLLBACK;
SELECT (SELECT count(*) FROM evlog.event_log) - :log_n AS new_log_rows,
       (SELECT count(*) FROM evlog.probe_failures) - :pf_n AS new_pf,
       (SELECT count(*) FROM evlog.rollouts) - :ro_n AS new_ro,
       (SELECT count(*) FROM evlog.host_states) - :hs_n AS new_hs,
       (SELECT count(*) FROM evlog.derived_skips) - :sk_n AS new_skips;

-- every derived row points at its event; the tables equal a replay
SELECT count(*) AS orphan_rows FROM evlog.probe_failures p
 WHERE NOT EXISTS (SELECT 1 FROM evlog.event_log e WHERE e.seq = p.event_log_seq AND e.kind = 'agent_event');
SELECT * FROM evlog_verify('all');

-- logical replication apply runs with session_replication_role = replica:
-- the ENABLE ALWAYS trigger still derives
SET session_replication_role = replica;
SELECT evlog_append('agent_event', '2026-05-18 22:00:00+00', 'h-repl', 'r1',
  '{"kind":"ProbeResult","probeName":"replica","mode":"enforce","status":"fail","observedAt":"2026-05-18T22:00:00Z"}') AS repl \gset
RESET session_replication_role;
SELECT host_id, probe_name FROM evlog.probe_failures WHERE event_log_seq = :repl;

-- plain INSERT by the owner (e.g. a restore) derives too
INSERT INTO evlog.event_log (seq, ts, kind, host_id, rollout_id, payload)
VALUES (nextval('evlog.event_log_seq_seq'), '2026-05-18 22:01:00+00', 'agent_event', 'h-restore', 'r1',
        '{"kind":"ProbeResult","probeName":"restored","mode":"enforce","status":"fail","observedAt":"2026-05-18T22:01:00Z"}');
SELECT host_id, probe_name FROM evlog.probe_failures WHERE host_id = 'h-restore';

-- privileges: a writer's append derives (the trigger writes as the owner),
-- a reader sees the derived tables, neither may rebuild, verify or register
CREATE ROLE evlog_d_writer;
CREATE ROLE evlog_d_reader;
SELECT evlog_grant_writer('evlog_d_writer');
SELECT evlog_grant_reader('evlog_d_reader');
SET ROLE evlog_d_writer;
SELECT evlog_append('agent_event', '2026-05-18 22:02:00+00', 'h-writer', 'r1',
  '{"kind":"ProbeResult","probeName":"by-writer","mode":"enforce","status":"fail","observedAt":"2026-05-18T22:02:00Z"}') > 0 AS appended;
INSERT INTO evlog.probe_failures (event_log_seq, probe_name, observed_at) VALUES (1, 'forged', now());
SELECT evlog_rebuild('probe_failures');
RESET ROLE;
SET ROLE evlog_d_reader;
SELECT probe_name FROM evlog.probe_failures WHERE host_id = 'h-writer';
SELECT count(*) > 0 AS sees_rollouts FROM evlog.rollouts;
SELECT count(*) > 0 AS sees_host_states FROM evlog.host_states;
SELECT count(*) > 0 AS sees_stats FROM evlog.derived_stats;
SELECT * FROM evlog_verify('all');
SELECT evlog_register_view('x', 'pg_catalog.now()', 'evlog.kinds');
DELETE FROM evlog.host_states;
RESET ROLE;

-- rebuild and verify need READ COMMITTED
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT evlog_rebuild('rollouts');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT evlog_rebuild('nope');

-- a user-registered view: per-host count of failing enforce-mode results,
-- maintained by a PL/pgSQL handler in the appending transaction
CREATE TABLE public.host_failure_counts (host_id text PRIMARY KEY, failures bigint NOT NULL);
CREATE FUNCTION public.count_failures(e evlog.event_log) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF e.kind = 'agent_event' AND e.payload->>'kind' = 'ProbeResult'
       AND e.payload->>'status' = 'fail' AND e.host_id IS NOT NULL THEN
        INSERT INTO public.host_failure_counts AS c VALUES (e.host_id, 1)
        ON CONFLICT (host_id) DO UPDATE SET failures = c.failures + 1;
    END IF;
END
$$;
-- wrong handler signatures are refused
SELECT evlog_register_view('bad', 'pg_catalog.now()', 'public.host_failure_counts');
CREATE FUNCTION public.not_void(e evlog.event_log) RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT evlog_register_view('bad', 'public.not_void(evlog.event_log)', 'public.host_failure_counts');
SELECT evlog_register_view('rollouts', 'public.count_failures(evlog.event_log)', 'public.host_failure_counts');
-- registering populates the table from the existing log
SET client_min_messages = warning;
SELECT evlog_register_view('failure_counts', 'public.count_failures(evlog.event_log)',
                           'public.host_failure_counts') AS populated;
RESET client_min_messages;
SELECT * FROM public.host_failure_counts WHERE host_id IN ('host-a', 'host-c', 'h-writer') ORDER BY 1;
SELECT sum(failures) = (SELECT count(*) FROM evlog.event_log
                         WHERE kind = 'agent_event' AND payload->>'kind' = 'ProbeResult'
                           AND payload->>'status' = 'fail' AND host_id IS NOT NULL) AS counts_match_log
  FROM public.host_failure_counts;
-- then it is maintained per event, in the same transaction
SELECT evlog_append('agent_event', '2026-05-18 23:00:00+00', 'host-a', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"observe","status":"fail","observedAt":"2026-05-18T23:00:00Z"}') > 0 AS ok;
BEGIN;
SELECT evlog_append('agent_event', '2026-05-18 23:00:01+00', 'host-new', 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"observe","status":"fail","observedAt":"2026-05-18T23:00:01Z"}') > 0 AS ok;
ROLLBACK;
SELECT * FROM public.host_failure_counts WHERE host_id IN ('host-a', 'host-new') ORDER BY 1;
SELECT * FROM evlog_verify('failure_counts');
-- a corrupted row is detected, and rebuild repairs it
UPDATE public.host_failure_counts SET failures = 1000 WHERE host_id = 'host-a';
SELECT * FROM evlog_verify('failure_counts');
SELECT * FROM evlog_verify('all') WHERE view = 'failure_counts';
SET client_min_messages = warning;
SELECT evlog_rebuild('failure_counts') = (SELECT count(*) FROM public.host_failure_counts) AS rows_written;
RESET client_min_messages;
SELECT * FROM evlog_verify('failure_counts');
SELECT failures FROM public.host_failure_counts WHERE host_id = 'host-a';
-- a handler's error fails the append
CREATE FUNCTION public.refuse_h_bad(e evlog.event_log) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF e.host_id = 'h-bad' THEN RAISE EXCEPTION 'handler refuses h-bad'; END IF;
END $$;
CREATE TABLE public.nothing (x int);
SELECT evlog_register_view('refuser', 'public.refuse_h_bad(evlog.event_log)', 'public.nothing', false);
SELECT evlog_append('plan_action', '2026-05-18 23:00:02+00', 'h-bad', NULL, '{}');
SELECT count(*) AS h_bad_rows FROM evlog.event_log WHERE host_id = 'h-bad';
SELECT evlog_unregister_view('refuser');
SELECT evlog_unregister_view('refuser');
SELECT evlog_append('plan_action', '2026-05-18 23:00:03+00', 'h-bad', NULL, '{}') > 0 AS appended_after_unregister;
SELECT name, handler, target FROM evlog.derived_views ORDER BY 1;

DROP OWNED BY evlog_d_writer, evlog_d_reader;
DROP ROLE evlog_d_writer, evlog_d_reader;
