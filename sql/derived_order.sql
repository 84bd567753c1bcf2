--
-- derived_order: derived rows are a function of the event and the events of
-- lower seq only.  Payload timestamps are RFC 3339 with an offset, read the
-- same whatever the session's TimeZone and DateStyle; integral fields take
-- integers only; rollout rules follow seq order (concurrent orders are in
-- specs/derived_concurrent.spec).
--
-- A database of its own: seqs are then deterministic (error details name
-- them) and evlog_verify replays only these events.
\set VERBOSITY terse
DROP DATABASE IF EXISTS evlog_order;
CREATE DATABASE evlog_order;
\c evlog_order
SET client_min_messages = warning;
CREATE EXTENSION evlog;
RESET client_min_messages;
\set VERBOSITY default

-- the session's clock settings do not reach a derived value
SET TimeZone = 'Pacific/Kiritimati';
SET DateStyle = 'SQL, DMY';
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-05-16T01:00:00Z"}') AS z;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-05-16t03:30:00.1234565+02:30"}') AS offset_and_fraction;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-05-15 20:00:00-05:00"}') AS space_and_negative_offset;
RESET TimeZone;
RESET DateStyle;
SET TimeZone = 'UTC';
SELECT event_log_seq, observed_at FROM evlog.probe_failures WHERE host_id = 'h-tz' ORDER BY 1;
RESET TimeZone;

-- refused, naming the field and the event: no offset, other date orders,
-- special values, impossible dates, leap seconds, trailing text
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-05-16 01:00:00"}');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"05/06/2026"}');
\set VERBOSITY terse
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"now"}');
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"today"}');
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"infinity"}');
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"2026-02-29T00:00:00Z"}');
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"2026-05-16T23:59:60Z"}');
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"2026-05-16T01:00:00+24:00"}');
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"2026-05-16T01:00:00Z UTC"}');
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h-tz', 'r-tz',
  '{"effect":"RecordTransition","to":"Done","at":"2026-05-16T01:00:00."}');
SELECT count(*) AS host_states_from_refused FROM evlog.host_states WHERE host_id = 'h-tz';
\set VERBOSITY default

-- toWave is an integer: 1.5 is not rounded, 1e20 is not a bare 22003
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-w',
  '{"kind":"RolloutOpened","rolloutId":"r-w","at":"2026-05-16T01:00:00Z"}') AS opened;
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-w',
  '{"kind":"WaveAdvanced","rolloutId":"r-w","toWave":1.5}');
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-w',
  '{"kind":"WaveAdvanced","rolloutId":"r-w","toWave":1e20}');
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-w',
  '{"kind":"WaveAdvanced","rolloutId":"r-w","toWave":"2"}');
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-w',
  '{"kind":"WaveAdvanced","rolloutId":"r-w","toWave":2.0}') AS two_point_zero_is_an_integer;
SELECT rollout_id, current_wave FROM evlog.rollouts WHERE rollout_id = 'r-w';

-- seq order within one session: a transition and a wave before the opening
-- are skipped (as a replay meets them), a second opening is a duplicate;
-- the registers keep each field's highest-seq writer
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', NULL, 'r-s',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-s","to":"Active","at":"2026-05-16T01:00:00Z"}') AS early_transition;
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-s',
  '{"kind":"WaveAdvanced","rolloutId":"r-s","toWave":4}') AS early_wave;
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-s',
  '{"kind":"RolloutOpened","rolloutId":"r-s","channel":"c","at":"2026-05-16T02:00:00Z"}') AS opened;
SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00', NULL, 'r-s',
  '{"kind":"RolloutOpened","rolloutId":"r-s","channel":"other","at":"2026-05-16T03:00:00Z"}') AS second_opening;
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', NULL, 'r-s',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-s","to":"Terminal","at":"2026-05-16T04:00:00Z"}') AS terminal;
SELECT evlog_append('effect', '2026-05-16 01:00:00+00', NULL, 'r-s',
  '{"effect":"RecordRolloutTransition","rolloutId":"r-s","to":"Archived","at":"2026-05-16T05:00:00Z"}') AS archived;
SET TimeZone = 'UTC';
SELECT rollout_id, channel, state, current_wave, opened_event_log_seq, last_transition_event_log_seq,
       opened_at, terminal_at FROM evlog.rollouts WHERE rollout_id = 'r-s';
SELECT rollout_id, open_seq, wave_seq, wave, state_seq, state, terminal_seq, early_seqs
  FROM evlog.rollout_state WHERE rollout_id = 'r-s';
RESET TimeZone;
SELECT event_log_seq, view, reason FROM evlog.derived_skips ORDER BY 1;
SELECT * FROM evlog_verify('rollouts');

-- a replay in descending seq order: every built-in rule gives the same tables
SELECT * FROM evlog_verify('rollouts', 'reverse');
SELECT * FROM evlog_verify('host_states', 'reverse');
SELECT * FROM evlog_verify('probe_failures', 'reverse');
SELECT * FROM evlog_verify('rollouts', 'sideways');

-- user views: a handler whose result depends on the order it meets events
-- in (the last one it meets wins) differs from a reverse replay; one that
-- keeps each row's writer's seq and lets only a higher seq overwrite it
-- does not
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE TABLE public.last_state_naive (rollout_id text PRIMARY KEY, state text NOT NULL);
CREATE FUNCTION public.naive(e evlog.event_log) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF e.kind = 'effect' AND e.payload->>'effect' = 'RecordRolloutTransition' THEN
    INSERT INTO public.last_state_naive AS t VALUES (e.payload->>'rolloutId', e.payload->>'to')
    ON CONFLICT (rollout_id) DO UPDATE SET state = EXCLUDED.state;
  END IF;
END $$;
CREATE TABLE public.last_state (rollout_id text PRIMARY KEY, state text NOT NULL, event_log_seq bigint NOT NULL);
CREATE FUNCTION public.seq_guarded(e evlog.event_log) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF e.kind = 'effect' AND e.payload->>'effect' = 'RecordRolloutTransition' THEN
    INSERT INTO public.last_state AS t VALUES (e.payload->>'rolloutId', e.payload->>'to', e.seq)
    ON CONFLICT (rollout_id) DO UPDATE SET state = EXCLUDED.state, event_log_seq = EXCLUDED.event_log_seq
    WHERE t.event_log_seq < EXCLUDED.event_log_seq;
  END IF;
END $$;
SELECT evlog_register_view('naive', 'public.naive(evlog.event_log)', 'public.last_state_naive') AS rows;
SELECT evlog_register_view('guarded', 'public.seq_guarded(evlog.event_log)', 'public.last_state') AS rows;
RESET client_min_messages;
\set VERBOSITY default
SELECT * FROM public.last_state_naive ORDER BY 1;
SELECT * FROM evlog_verify('naive');
SELECT * FROM evlog_verify('naive', 'reverse');
SELECT * FROM evlog_verify('guarded', 'reverse');

-- a derived row names an event in the log (a trigger, 1.2; foreign keys
-- before): rows evlog writes for the event being appended are not looked
-- up, any other row is
SELECT tgrelid::regclass AS derived_table, tgname FROM pg_trigger
 WHERE tgfoid = 'evlog.derived_seq_check'::regproc ORDER BY 1;
SELECT count(*) AS foreign_keys_to_the_log FROM pg_constraint
 WHERE contype = 'f' AND confrelid = 'evlog.event_log'::regclass;
INSERT INTO evlog.probe_failures (event_log_seq, probe_name, observed_at) VALUES (999999, 'forged', now());
UPDATE evlog.rollouts SET last_transition_event_log_seq = 999998 WHERE rollout_id = 'r-s';
BEGIN;
INSERT INTO evlog.derived_skips VALUES (2, 'host_states', 'test') RETURNING event_log_seq;
ROLLBACK;

\c contrib_regression
DROP DATABASE evlog_order;

-- pruning: a rollout whose registers name a pruned event is derived again
-- from what remains, as a rebuild of the pruned log would: r-p loses its
-- early transition and wave (and their skips), r-q its first opening (its
-- second one, kept, opens it)
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE DATABASE evlog_order_prune;
\c evlog_order_prune
SET client_min_messages = warning;
CREATE EXTENSION evlog;
SET evlog.partition_size = 16;
SELECT count(*) AS appended FROM (
  SELECT CASE
    WHEN i = 1 THEN evlog_append('effect', '2026-01-01', NULL, 'r-p',
                     '{"effect":"RecordRolloutTransition","rolloutId":"r-p","to":"Active","at":"2026-01-01T00:00:00Z"}')
    WHEN i = 2 THEN evlog_append('rollout_event', '2026-01-01', NULL, 'r-p', '{"kind":"WaveAdvanced","rolloutId":"r-p","toWave":3}')
    WHEN i = 3 THEN evlog_append('rollout_event', '2026-01-01', NULL, 'r-q', '{"kind":"RolloutOpened","rolloutId":"r-q","channel":"first"}')
    WHEN i = 17 THEN evlog_append('rollout_event', '2026-02-01', NULL, 'r-p', '{"kind":"RolloutOpened","rolloutId":"r-p"}')
    WHEN i = 18 THEN evlog_append('rollout_event', '2026-02-01', NULL, 'r-q', '{"kind":"RolloutOpened","rolloutId":"r-q","channel":"second"}')
    ELSE evlog_append('plan_action', CASE WHEN i <= 16 THEN '2026-01-01' ELSE '2026-02-01' END::timestamptz, NULL, NULL, '{}')
  END FROM generate_series(1, 40) i) s;
SELECT rollout_id, open_seq, wave_seq, state_seq, early_seqs FROM evlog.rollout_state ORDER BY 1;
SELECT evlog_prune('2026-01-15') AS pruned;
RESET client_min_messages;
\set VERBOSITY default
SELECT rollout_id, open_seq, wave_seq, state_seq, early_seqs FROM evlog.rollout_state ORDER BY 1;
SELECT rollout_id, channel, state, current_wave, opened_event_log_seq FROM evlog.rollouts ORDER BY 1;
SELECT event_log_seq, view, reason FROM evlog.derived_skips ORDER BY 1;
SELECT * FROM evlog_verify('all');
\c contrib_regression
DROP DATABASE evlog_order_prune;
