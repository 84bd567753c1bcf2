--
-- core_query: evlog_query filters, ordering, limits, and the index that
-- serves each single filter.
--
CREATE EXTENSION IF NOT EXISTS evlog;
SET timezone = 'UTC';
CREATE TEMP TABLE before AS SELECT evlog_last_seq() AS seq;

-- 2,000 events over 20 hosts, 10 rollouts, 4 kinds, one per minute
SELECT count(*) AS appended FROM (
  SELECT evlog_append((ARRAY['agent_event','plan_action','effect','gate_decision'])[1 + i % 4],
                      '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 minute',
                      'host-' || (i % 20), 'rollout-' || (i % 10),
                      json_build_object('i', i)::text)
    FROM generate_series(1, 2000) i) s;
ANALYZE evlog.event_log;

-- filters combine with AND and results come in seq order
SELECT count(*) AS n, min(payload->>'i') AS first_i, bool_and(host_id = 'host-2') AS host_ok,
       bool_and(kind = 'effect') AS kind_ok
  FROM evlog_query(host_id => 'host-2', kinds => ARRAY['effect'], max_rows => NULL);
SELECT array_agg((payload->>'i')::int) AS i
  FROM evlog_query(since => '2026-01-01 00:10:00+00', until => '2026-01-01 00:15:00+00');
SELECT array_agg((payload->>'i')::int) AS i
  FROM evlog_query(after_seq => (SELECT seq FROM before) + 1995, max_rows => 3);
SELECT count(*) AS limited FROM evlog_query(rollout_id => 'rollout-1', max_rows => 7);
SELECT count(*) AS default_limit FROM evlog_query();
SELECT count(*) AS no_limit FROM evlog_query(max_rows => NULL) WHERE seq > (SELECT seq FROM before);
SELECT count(*) AS none FROM evlog_query(host_id => 'no-such-host');
SELECT bool_and(seq > prev) AS ordered
  FROM (SELECT seq, lag(seq, 1, 0::bigint) OVER () AS prev FROM evlog_query(max_rows => NULL)) s;

-- each single filter is served by an index (the function is inlined, so
-- EXPLAIN shows the plan of the real query; seqscans are disabled only
-- because the test table is small)
SET enable_seqscan = off;
-- two indexes serve a host filter equally, (host_id, ts) and (host_id, seq):
-- which one wins a cost tie depends on the order the partition's indexes
-- were made in, so the plan is shown with that part of the name masked
CREATE FUNCTION pg_temp.explain_host(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    RETURN NEXT regexp_replace(l, '_host_id_(ts|seq)_idx', '_host_id_<ts|seq>_idx');
  END LOOP;
END $$;
SELECT * FROM pg_temp.explain_host($$SELECT * FROM evlog_query(host_id => 'host-3')$$) AS plan;
EXPLAIN (COSTS OFF) SELECT * FROM evlog_query(rollout_id => 'rollout-3');
EXPLAIN (COSTS OFF) SELECT * FROM evlog_query(kinds => ARRAY['effect']);
-- time ranges: on a table this small the primary key walk is cheapest, so
-- take it away to show the BRIN index on ts serves the range
SET enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM evlog_query(since => '2026-01-01 00:10', until => '2026-01-01 00:20');
RESET enable_indexscan;
EXPLAIN (COSTS OFF) SELECT * FROM evlog_query(after_seq => 100);
-- a host and a time range: (host_id, ts) reaches the range directly
EXPLAIN (COSTS OFF) SELECT * FROM evlog_query(host_id => 'host-13', since => '2026-01-01 00:10', until => '2026-01-01 00:20');
SELECT count(*) AS host_in_range, bool_and(host_id = 'host-13' AND ts >= '2026-01-01 00:10' AND ts < '2026-01-01 00:20') AS all_match
  FROM evlog_query(host_id => 'host-13', since => '2026-01-01 00:10', until => '2026-01-01 00:20');
-- by event_id: the index holds only the rows that have one, and serves
-- every lookup by value
SELECT evlog_append('agent_event', '2026-01-02 00:00:00+00', 'host-3', NULL, '{}', event_id => 'cq-1') > 0 AS with_id;
EXPLAIN (COSTS OFF) SELECT seq FROM evlog.event_log WHERE event_id = 'cq-1';
SELECT count(*) AS found FROM evlog.event_log WHERE event_id = 'cq-1';
SELECT pg_catalog.pg_get_indexdef('evlog.event_log_event_id_idx'::regclass) AS event_id_index;
RESET enable_seqscan;
