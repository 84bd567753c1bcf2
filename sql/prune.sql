--
-- prune: retention by partition (evlog 1.1).  evlog_prune drops whole
-- partitions whose events are all older than the cut, with their derived
-- rows, event_id entries and chain links (the last becomes the anchor), and
-- appends a retention event; only an administrator may call it.
--
-- A database of its own: partition bounds and seqs are then deterministic.
\set VERBOSITY terse
SET client_min_messages = warning;
DROP DATABASE IF EXISTS evlog_prune;
CREATE DATABASE evlog_prune;
\c evlog_prune
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE EXTENSION evlog;
SET evlog.partition_size = 16;
SET TIME ZONE 'UTC';

-- a fresh 1.1 log has no partition; the first append creates one, later
-- ones keep half a partition ahead
SELECT count(*) AS partitions_before_first_append FROM evlog.partitions;
-- partitions ahead of the head are made by a background worker, at its own
-- pace: list the ones holding seqs up to the head
CREATE TEMP VIEW used_partitions AS
  SELECT partition, bounds FROM evlog.partitions
   WHERE split_part(bounds, '''', 2)::bigint <= (SELECT max(seq) FROM evlog.event_log);

-- 40 events, one day apart from 2026-01-01 (seq n has ts 2026-01-01 + n-1 days):
-- probe failures, a rollout opened in the first partition and moved in the
-- second, host transitions, event_ids on every fifth
SELECT count(*) AS appended FROM (
  SELECT CASE
    WHEN i = 2 THEN evlog_append('rollout_event', '2026-01-01'::timestamptz + (i - 1) * interval '1 day', NULL, 'r-old',
                                 '{"kind":"RolloutOpened","rolloutId":"r-old","channel":"stable","targetRef":"ref-1"}')
    WHEN i = 3 THEN evlog_append('rollout_event', '2026-01-01'::timestamptz + (i - 1) * interval '1 day', NULL, 'r-gone',
                                 '{"kind":"RolloutOpened","rolloutId":"r-gone","channel":"stable","targetRef":"ref-0"}')
    WHEN i = 20 THEN evlog_append('effect', '2026-01-01'::timestamptz + (i - 1) * interval '1 day', NULL, 'r-old',
                                 '{"effect":"RecordRolloutTransition","rolloutId":"r-old","from":"Opening","to":"Active","at":"2026-01-20T00:00:00Z"}')
    WHEN i = 21 THEN evlog_append('rollout_event', '2026-01-01'::timestamptz + (i - 1) * interval '1 day', NULL, 'r-new',
                                 '{"kind":"RolloutOpened","rolloutId":"r-new","channel":"beta","targetRef":"ref-2"}')
    WHEN i % 4 = 0 THEN evlog_append('effect', '2026-01-01'::timestamptz + (i - 1) * interval '1 day', 'h' || (i % 3), 'r-new',
                                 json_build_object('effect', 'RecordTransition', 'from', 'Idle', 'to', 'S' || i,
                                                   'at', '2026-01-01T00:00:00Z')::text)
    ELSE evlog_append('agent_event', '2026-01-01'::timestamptz + (i - 1) * interval '1 day', 'h' || i, 'r-old',
                      json_build_object('kind', 'ProbeResult', 'probeName', 'p' || i, 'mode', 'enforce',
                                        'status', 'fail', 'observedAt', '2026-01-01T00:00:00Z')::text,
                      CASE WHEN i % 5 = 0 THEN 'ev-' || i END)
  END FROM generate_series(1, 40) i) s;
SELECT partition, bounds FROM used_partitions;
SELECT evlog_seal() AS sealed;

-- derived rows before
SELECT count(*) AS probe_failures, min(event_log_seq) AS lowest FROM evlog.probe_failures;
SELECT rollout_id, state, opened_event_log_seq FROM evlog.rollouts ORDER BY 1;
SELECT host_id, state, event_log_seq FROM evlog.host_states ORDER BY 1;
SELECT count(*) AS event_ids FROM evlog.event_ids;

-- a consumer positioned inside what will be pruned
SELECT evlog_consumer_create('behind', 5);

-- closed partitions (every seq they can hold is at or below the safe seq)
-- are summarised once, by the partition worker or by hand, and evlog_prune
-- reads their counts instead of counting rows
SELECT evlog_summarise_partitions() >= 0 AS summarised;
SELECT s.relname, s.events,
       s.events = (SELECT count(*) FROM evlog.event_log e WHERE e.seq BETWEEN s.hi - 15 AND s.hi) AS exact,
       s.min_seq, s.max_seq
  FROM evlog.partition_summaries s ORDER BY s.hi;
SELECT p.partition, p.events FROM evlog.partitions p JOIN used_partitions u USING (partition);
-- a summary is trusted only while its partition keeps its size: this one
-- lies about the count and claims another size, so prune counts itself
UPDATE evlog.partition_summaries SET events = 999, heap_blocks = heap_blocks + 1 WHERE hi = 16;

-- the safe seq it relies on is not what an older transaction snapshot shows
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT evlog_prune('2026-01-20');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- the consumer 'behind' has not acknowledged seqs 6..: by default it holds
-- retention back, as a replication slot holds WAL
SELECT evlog_prune('2026-01-20') AS held_by_consumer;
SELECT name, position, holds_retention, pruned_unread_upto FROM evlog.consumer_lag;
-- a consumer further behind than evlog.max_consumer_lag_events is passed
-- (with a WARNING), and marked
SET evlog.max_consumer_lag_events = 0;
SELECT name, holds_retention FROM evlog.consumer_lag;

-- the cut 2026-01-20 covers seqs 1..19: only the first partition (1..16)
-- is wholly older; the second (17..32) keeps its older events
SELECT evlog_prune('2026-01-20') AS pruned;
RESET evlog.max_consumer_lag_events;
SELECT partition, bounds FROM used_partitions;
SELECT min(seq) AS first_remaining, count(*) AS events FROM evlog.event_log;

-- the log says what it lost
SELECT kind, payload FROM evlog.event_log WHERE kind = 'retention';

-- derived rows of pruned events are gone; r-old lost its opening, so its
-- remaining transition now meets an unknown rollout, as a rebuild finds
SELECT count(*) AS probe_failures, min(event_log_seq) AS lowest FROM evlog.probe_failures;
SELECT rollout_id, state, opened_event_log_seq FROM evlog.rollouts ORDER BY 1;
SELECT host_id, state, event_log_seq FROM evlog.host_states ORDER BY 1;
SELECT event_log_seq, view, reason FROM evlog.derived_skips ORDER BY 1;
SELECT view, difference, "row" FROM evlog_verify('all');
SELECT min(seq) AS lowest_event_id_seq, count(*) AS event_ids FROM evlog.event_ids;
-- the dropped partition's summary went with it
SELECT hi, relname FROM evlog.partition_summaries ORDER BY hi;

-- the chain: the last pruned link is the anchor, and the rest verifies
SELECT seq AS anchor_seq FROM evlog.chain_anchor;
SELECT min(seq) AS first_link FROM evlog.chain;
SELECT first_bad_seq, reason, events_checked FROM evlog_verify_chain();
SELECT evlog_seal() AS sealed_retention_event;
SELECT first_bad_seq, reason FROM evlog_verify_chain();

-- the passed consumer is told, never resumed silently after the gap ...
SELECT name, position, pruned_unread_upto FROM evlog.consumer_lag;
SELECT min(seq) AS consumer_resumes_at FROM evlog_consumer_next('behind', 5);
-- ... until it acknowledges the gap
SELECT evlog_consumer_ack('behind', pruned_unread_upto) AS acked_gap FROM evlog.consumers WHERE name = 'behind';
SELECT min(seq) AS consumer_resumes_at FROM evlog_consumer_next('behind', 5);
-- dropping a consumer releases what it holds
SELECT evlog_consumer_drop('behind') AS dropped;

-- idempotency covers what is still in the log; a pruned event_id is free again
SELECT evlog_append('agent_event', '2026-01-25', 'h25', 'r-old',
  '{"kind":"ProbeResult","probeName":"p25","mode":"enforce","status":"fail","observedAt":"2026-01-01T00:00:00Z"}', 'ev-25') AS same_seq;
SELECT evlog_append('agent_event', '2026-01-05', 'h5', 'r-old', '{"again":true}', 'ev-5') > 40 AS pruned_id_appends_anew;

-- nothing more to prune with the same cut: no event, nothing removed
SELECT evlog_prune('2026-01-20') AS pruned_again;
SELECT count(*) AS retention_events FROM evlog.event_log WHERE kind = 'retention';

-- a cut after everything: partitions that appends can still reach stay
SELECT evlog_prune('2100-01-01') AS pruned_far;
SELECT partition, bounds FROM used_partitions;
SELECT (payload->>'from_seq')::int AS from_seq, (payload->>'to_seq')::int AS to_seq,
       (payload->>'count')::int AS count FROM evlog.event_log WHERE kind = 'retention' ORDER BY seq;
SELECT view, difference FROM evlog_verify('all');
SELECT evlog_seal() >= 0 AS sealed;
SELECT first_bad_seq, reason FROM evlog_verify_chain();

-- still append-only for everyone; the bypass is evlog_prune's alone
DELETE FROM evlog.event_log;
DELETE FROM evlog.chain;
DELETE FROM evlog.event_ids;
TRUNCATE evlog.event_ids;
SELECT partition AS p FROM evlog.partitions LIMIT 1 \gset
UPDATE :p SET payload = '{}';

-- privileges: writers and readers cannot prune or create partitions
CREATE ROLE evlog_prune_writer;
CREATE ROLE evlog_prune_reader;
SELECT evlog_grant_writer('evlog_prune_writer');
SELECT evlog_grant_reader('evlog_prune_reader');
SET ROLE evlog_prune_writer;
SELECT evlog_prune('2100-01-01');
SELECT evlog_create_partitions();
SELECT evlog_summarise_partitions();
SELECT evlog_publish_watermark();
-- a writer's append still creates partitions ahead of need (as the log's owner)
SELECT count(*) AS appended FROM (
  SELECT evlog_append('agent_event', '2026-03-01', 'h', NULL, '{}') FROM generate_series(1, 20)) s;
RESET ROLE;
SET ROLE evlog_prune_reader;
SELECT evlog_prune('2100-01-01');
SELECT count(*) > 0 AS reader_reads FROM evlog_read(0);
RESET ROLE;
SELECT has_function_privilege('public', 'evlog_prune(timestamptz)', 'EXECUTE') AS public_may_prune;
SELECT partition, bounds FROM used_partitions;

-- evlog_create_partitions: partitions ahead, and up to a given seq
SELECT evlog_create_partitions(upto => 120) >= 0 AS created;
SELECT max(pg_catalog.split_part(bounds, '''', 4)::int) AS top FROM evlog.partitions;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE evlog_prune WITH (FORCE);
DROP ROLE evlog_prune_writer, evlog_prune_reader;
