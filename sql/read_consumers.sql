--
-- read_consumers: evlog_read edge cases and named consumers with durable
-- positions (at-least-once: rows come back until acknowledged).
--
CREATE EXTENSION IF NOT EXISTS evlog;
SELECT evlog_last_seq() AS base \gset
SELECT count(*) AS appended FROM (
  SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h' || i, NULL,
                      json_build_object('i', i)::text)
    FROM generate_series(1, 10) i) s;

-- nothing in flight: the safe horizon is the head of the log
SELECT evlog_safe_seq() = evlog_last_seq() AS safe_is_head;
SELECT count(*) AS inflight FROM evlog.inflight;

-- evlog_read: order, limits, edge cases
SELECT array_agg((payload->>'i')::int ORDER BY seq) AS i FROM evlog_read(:base, 4);
SELECT array_agg((payload->>'i')::int ORDER BY seq) AS i FROM evlog_read(:base + 4, NULL);
SELECT count(*) AS none_after_head FROM evlog_read(evlog_last_seq());
SELECT count(*) AS zero_rows FROM evlog_read(:base, 0);
SELECT count(*) AS from_far_below FROM evlog_read(-100, 3);
SELECT * FROM evlog_read(NULL);
SELECT * FROM evlog_read(0, -1);

-- our own open transaction holds the horizon below its first seq
BEGIN;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'mine', NULL, '{"i":11}') AS mine \gset
SELECT evlog_safe_seq() = :mine - 1 AS safe_below_mine;
SELECT oldest_seq = :mine AS listed, pid = pg_backend_pid() AS my_pid, age >= '0'::interval AS has_age
  FROM evlog.inflight;
SELECT count(*) AS mine_not_returned FROM evlog_read(:mine - 1);
COMMIT;
SELECT count(*) AS mine_returned FROM evlog_read(:mine - 1);

-- named consumers
SELECT evlog_consumer_create('billing', :base);
SELECT evlog_consumer_create('billing');
SELECT evlog_consumer_create('');
SELECT array_agg((payload->>'i')::int ORDER BY seq) AS batch1 FROM evlog_consumer_next('billing', 3);
-- crashed before acknowledging: the same rows come again
SELECT array_agg((payload->>'i')::int ORDER BY seq) AS batch1_again FROM evlog_consumer_next('billing', 3);
SELECT evlog_consumer_ack('billing', :base + 3) = :base + 3 AS acked;
SELECT array_agg((payload->>'i')::int ORDER BY seq) AS batch2 FROM evlog_consumer_next('billing', 3);
-- positions never move backwards
SELECT evlog_consumer_ack('billing', :base + 1) = :base + 3 AS unchanged;
-- cannot acknowledge what cannot have been read
\set VERBOSITY terse
SELECT evlog_consumer_ack('billing', evlog_safe_seq() + 1);
SELECT evlog_consumer_ack('billing', NULL);
\set VERBOSITY default
SELECT evlog_consumer_ack('nobody', :base);
SELECT * FROM evlog_consumer_next('nobody');
-- lag in events and time
SELECT name, position = :base + 3 AS at_ack, events_behind, oldest_unread_ts, since_ack >= '0'::interval AS has_age
  FROM evlog.consumer_lag;
SELECT evlog_consumer_ack('billing', evlog_safe_seq()) = evlog_safe_seq() AS caught_up;
SELECT events_behind, oldest_unread_ts FROM evlog.consumer_lag WHERE name = 'billing';
SELECT evlog_consumer_drop('billing') AS dropped, evlog_consumer_drop('billing') AS dropped_twice;

-- a reader role can consume; PUBLIC cannot
CREATE ROLE evlog_consumer_role;
SELECT evlog_grant_reader('evlog_consumer_role');
SET ROLE evlog_consumer_role;
SELECT evlog_consumer_create('reporting', :base);
SELECT count(*) AS read_as_reader FROM evlog_consumer_next('reporting', 5);
SELECT evlog_consumer_ack('reporting', :base + 5) = :base + 5 AS acked_as_reader;
-- its own consumer (1.2): it may drop it, never move it back
UPDATE evlog.consumers SET position = 0;
SELECT evlog_consumer_drop('reporting') AS dropped_by_its_role;
RESET ROLE;
DROP OWNED BY evlog_consumer_role;
DROP ROLE evlog_consumer_role;
