--
-- partition_routing: the writer finds the partition of a seq by a binary
-- search of the log's range bounds (logscan.c), not by listing them, once
-- per statement however many partitions the log has.  Rows at both ends of
-- 16 partitions, single and batched, a batch across partition bounds and a
-- load into evlog.append_copy land where PostgreSQL's own bounds put them:
-- a read by seq, pruned to the partition those bounds name, finds each one
-- there.  (The writer does not run PostgreSQL's partition check: a row in
-- the wrong partition would be found by no such read.)  A partition that
-- is not a plain table is refused wherever it is reached.
--
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS evlog;
RESET client_min_messages;
SET evlog.partition_size = 16;
-- past the partitions earlier suites made, 16 new ones of 16 seqs
SELECT greatest((SELECT last_value FROM evlog.event_log_seq_seq),
                (SELECT max(substring(bounds FROM 'TO \(''(\d+)''\)')::bigint) FROM evlog.partitions)) AS start \gset
SELECT setval('evlog.event_log_seq_seq', :start) > 0 AS moved;
SELECT evlog_create_partitions(upto => :start + 16 * 17) AS created;
CREATE TEMP TABLE parts AS
  SELECT partition, substring(bounds FROM 'FROM \(''(\d+)''\)')::bigint AS lo,
         substring(bounds FROM 'TO \(''(\d+)''\)')::bigint - 1 AS hi
    FROM evlog.partitions
   WHERE substring(bounds FROM 'FROM \(''(\d+)''\)')::bigint > :start
     AND substring(bounds FROM 'TO \(''(\d+)''\)')::bigint - substring(bounds FROM 'FROM \(''(\d+)''\)')::bigint = 16
   ORDER BY 2 LIMIT 16;
SELECT count(*) AS partitions_of_16 FROM parts;
CREATE TEMP TABLE routed (seq bigint, how text);
DO $$
DECLARE p record;
BEGIN
  -- the first partition's first seq, alone
  PERFORM setval('evlog.event_log_seq_seq', (SELECT min(lo) FROM parts) - 1);
  INSERT INTO routed SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'route', NULL, '{}'), 'single';
  FOR p IN SELECT * FROM parts ORDER BY lo LOOP
    -- one seq inside, alone; its last two and the next partition's first
    -- two, in one batch
    PERFORM setval('evlog.event_log_seq_seq', p.lo + 4);
    INSERT INTO routed SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'route', NULL, '{}'), 'single';
    PERFORM setval('evlog.event_log_seq_seq', p.hi - 2);
    INSERT INTO routed SELECT unnest(evlog_append_batch(ARRAY['agent_event', 'agent_event', 'agent_event', 'agent_event'],
             ARRAY['2026-05-16 01:00:00+00'::timestamptz, '2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00'],
             ARRAY['route', 'route', 'route', 'route'], NULL, ARRAY['{}', '{}', '{}', '{}']::jsonb[], NULL)), 'batch';
  END LOOP;
END $$;
-- a load of 50 rows across four partitions
SELECT setval('evlog.event_log_seq_seq', (SELECT max(hi) FROM parts) + 2) > 0 AS moved;
SELECT evlog_create_partitions(upto => :start + 16 * 22) AS created;
INSERT INTO evlog.append_copy (kind, ts, host_id, rollout_id, payload)
  SELECT 'agent_event', '2026-05-16 01:00:00+00', 'route-copy', NULL, '{}' FROM generate_series(1, 50);
INSERT INTO routed SELECT seq, 'copy' FROM evlog.event_log WHERE host_id = 'route-copy';
SELECT how, count(*) AS rows FROM routed GROUP BY how ORDER BY how;
-- each row is in the partition whose bounds hold its seq, and a read by
-- its seq alone (pruned to that partition) finds it
CREATE FUNCTION pg_temp.found_by_seq(s bigint) RETURNS regclass LANGUAGE plpgsql AS $$
DECLARE t regclass;
BEGIN
  EXECUTE format('SELECT tableoid::regclass FROM evlog.event_log WHERE seq = %s', s) INTO t;
  RETURN t;
END $$;
SELECT count(*) AS rows_checked,
       count(*) FILTER (WHERE pg_temp.found_by_seq(r.seq) IS DISTINCT FROM
                              (SELECT partition FROM evlog.partitions p
                                WHERE r.seq >= substring(p.bounds FROM 'FROM \(''(\d+)''\)')::bigint
                                  AND r.seq < substring(p.bounds FROM 'TO \(''(\d+)''\)')::bigint)) AS misplaced,
       count(DISTINCT pg_temp.found_by_seq(r.seq)) AS partitions_written
  FROM routed r;
RESET evlog.partition_size;

-- A stream check reads each partition's copy of the stream's index, looked
-- up once per session (catcache.c) and again once the partition changed:
-- here the first of the 16 is detached, loses its copy and is attached
-- again, which makes a new one, all within this session.  The checks after
-- it read the new copy: they find the event appended to that partition
-- before.
SELECT setval('evlog.event_log_seq_seq', (SELECT min(lo) + 7 FROM parts)) > 0 AS moved;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-v', '{}', 'rollout', 0)
       = (SELECT min(lo) + 8 FROM parts) AS appended_in_first;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-1', '{}', 'rollout', 0) > 0 AS appended_expecting_empty;
SELECT partition AS victim, lo AS victim_lo, hi + 1 AS victim_hi FROM parts ORDER BY lo LIMIT 1 \gset
SELECT i.indexrelid::regclass AS victim_index, i.indexrelid::oid AS victim_index_oid
  FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indexrelid
 WHERE i.indrelid = :'victim'::regclass AND h.inhparent = 'evlog.event_log_rollout_seq_idx'::regclass \gset
ALTER EVENT TRIGGER evlog_ddl_guard DISABLE;
ALTER TABLE evlog.event_log DETACH PARTITION :victim;
DROP INDEX :victim_index;
ALTER TABLE evlog.event_log ATTACH PARTITION :victim FOR VALUES FROM (:victim_lo) TO (:victim_hi);
ALTER EVENT TRIGGER evlog_ddl_guard ENABLE;
SELECT count(*) AS new_copy
  FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indexrelid
 WHERE i.indrelid = :'victim'::regclass AND h.inhparent = 'evlog.event_log_rollout_seq_idx'::regclass
   AND i.indexrelid::oid <> :victim_index_oid;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-v', '{}', 'rollout', 0);
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-v', '{}', 'rollout',
                    (SELECT min(lo) + 8 FROM parts)) > 0 AS appended_after_it;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-2', '{}', 'rollout', 0) > 0 AS appended_expecting_empty;
-- A copy found through an ALTER INDEX ... ATTACH PARTITION that is then
-- rolled back must not be used after: PostgreSQL invalidates the two
-- indexes, not the partition, so the session forgets what it found in a
-- (sub)transaction that aborts.  Here the rollout index is rebuilt ON ONLY
-- the log with every partition's copy attached but the first one's, which
-- is attached in a savepoint, used, and rolled back; all in a transaction
-- rolled back at the end.
CREATE FUNCTION pg_temp.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
BEGIN;
ALTER EVENT TRIGGER evlog_ddl_guard DISABLE;
DROP INDEX evlog.event_log_rollout_seq_idx;
CREATE INDEX event_log_rollout_seq_idx ON ONLY evlog.event_log (rollout_id, seq);
DO $$
DECLARE p regclass;
BEGIN
  FOR p IN SELECT i.inhrelid::regclass FROM pg_inherits i
            WHERE i.inhparent = 'evlog.event_log'::regclass LOOP
    CONTINUE WHEN p = (SELECT partition FROM parts ORDER BY lo LIMIT 1);
    EXECUTE format('CREATE INDEX %s ON %s (rollout_id, seq)', 'route_ro_' || p::oid, p);
    EXECUTE format('ALTER INDEX evlog.event_log_rollout_seq_idx ATTACH PARTITION evlog.%I', 'route_ro_' || p::oid);
  END LOOP;
END $$;
CREATE INDEX route_ro_first ON :victim (rollout_id, seq);
SAVEPOINT attached;
ALTER INDEX evlog.event_log_rollout_seq_idx ATTACH PARTITION evlog.route_ro_first;
SELECT pg_temp.sqlstate_of($$SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-x', '{}', 'rollout', 0)$$) AS with_copy;
ROLLBACK TO attached;
SELECT pg_temp.sqlstate_of($$SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-y', '{}', 'rollout', 0)$$) AS copy_rolled_back;
ROLLBACK;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, 'route-occ-z', '{}', 'rollout', 0) > 0 AS appended_after;
SELECT evtenabled AS guard_enabled FROM pg_event_trigger WHERE evtname = 'evlog_ddl_guard';

-- evlog_stream_head (1.6) walks the partitions the same way, with the
-- caller's snapshot: a stream all in the first of the 16, one in none, and
-- one in all of them give the heads the query on the log gives
SELECT evlog_stream_head('rollout', 'route-occ-v')
         = (SELECT max(seq) FROM evlog.event_log WHERE rollout_id = 'route-occ-v') AS head_in_first,
       evlog_stream_head('rollout', 'route-occ-none') AS head_of_none,
       evlog_stream_head('host', 'route')
         = (SELECT max(seq) FROM evlog.event_log WHERE host_id = 'route') AS head_in_all;
-- evlog_stream_read (1.6) reads them oldest first from the partition
-- holding after_seq: every row of the stream, in seq order, across the 16;
-- from the middle, the next five
SELECT (SELECT array_agg(seq) FROM evlog_stream_read('host', 'route', 0, NULL))
         = (SELECT array_agg(seq ORDER BY seq) FROM evlog.event_log WHERE host_id = 'route') AS read_all,
       (SELECT count(*) FROM evlog_stream_read('host', 'route', 0, NULL)) AS rows_read;
SELECT (SELECT min(lo) + 40 FROM parts) AS middle \gset
SELECT (SELECT array_agg(seq) FROM evlog_stream_read('host', 'route', :middle, 5))
         = (SELECT array_agg(seq) FROM (SELECT seq FROM evlog.event_log WHERE host_id = 'route' AND seq > :middle
                                         ORDER BY seq LIMIT 5) x) AS read_next_five;

-- a partitioned table attached as a partition of the log (the owner's own
-- DDL; evlog makes only plain tables): the append, a read and a stream
-- check that reach it are refused with an error naming it, none crashes
CREATE TABLE evlog.route_sub PARTITION OF evlog.event_log
  FOR VALUES FROM (7000000000000) TO (7000000001000) PARTITION BY RANGE (seq);
CREATE TABLE evlog.route_sub_1 PARTITION OF evlog.route_sub
  FOR VALUES FROM (7000000000000) TO (7000000001000);
SELECT setval('evlog.event_log_seq_seq', 7000000000000, false) > 0 AS moved;
SELECT evlog_append('plan_action', '2026-05-16 01:00:00+00', 'route', NULL, '{}');
SELECT count(*) FROM evlog_read(6999999999999);
SELECT evlog_append('plan_action', '2026-05-16 01:00:00+00', 'route', 'route-new', '{}',
                    expected_stream => 'rollout', expected_seq => 0);
SELECT 1 AS still_connected;

-- a table with the log's columns in another order, attached as a partition
-- (PostgreSQL accepts it; evlog reads and writes by column position): the
-- stream readers, a read, an append and a stream check that reach it are
-- refused with an error naming it, none crashes or returns another column
ALTER EVENT TRIGGER evlog_ddl_guard DISABLE;
DROP TABLE evlog.route_sub;
ALTER EVENT TRIGGER evlog_ddl_guard ENABLE;
CREATE TABLE evlog.route_swap (rollout_id text, ts timestamptz NOT NULL, kind text NOT NULL,
  host_id text, seq bigint NOT NULL, payload jsonb NOT NULL, event_id text);
INSERT INTO evlog.route_swap VALUES ('route-swap', '2026-05-16 01:00:00+00', 'plan_action', 'route-swap-h', 7000000000001, '{}', NULL);
ALTER TABLE evlog.event_log ATTACH PARTITION evlog.route_swap FOR VALUES FROM (7000000000000) TO (7000000001000);
SELECT evlog_stream_head('host', 'route-swap-h');
SELECT evlog_stream_head('rollout', 'route-swap');
SELECT count(*) FROM evlog_stream_read('rollout', 'route-swap', 0);
SELECT count(*) FROM evlog_read(6999999999999);
SELECT evlog_append('plan_action', '2026-05-16 01:00:00+00', 'route', NULL, '{}');
SELECT evlog_append('plan_action', '2026-05-16 01:00:00+00', 'route', 'route-new', '{}',
                    expected_stream => 'rollout', expected_seq => 0);
SELECT 1 AS still_connected;
-- stream ids are compared exactly: a nondeterministic collation is refused
-- (the query these functions replace compared under it)
ALTER EVENT TRIGGER evlog_ddl_guard DISABLE;
DROP TABLE evlog.route_swap;
ALTER EVENT TRIGGER evlog_ddl_guard ENABLE;
CREATE COLLATION pg_temp.route_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT evlog_stream_head('rollout', 'ROUTE-OCC-V' COLLATE pg_temp.route_ci);
SELECT count(*) FROM evlog_stream_read('rollout', 'ROUTE-OCC-V' COLLATE pg_temp.route_ci);
SELECT evlog_stream_head('rollout', 'route-occ-v' COLLATE "C") > 0 AS deterministic_ok;

-- a column added to the log and dropped again (a superuser's ALTER TABLE;
-- evlog accepts dropped columns after its seven): the log's row type then
-- counts eight columns and its tables hold a dropped one; the stream
-- reader returns the rows as evlog_read does, on either path (plain, and
-- the query it runs under row-level security)
ALTER EVENT TRIGGER evlog_ddl_guard DISABLE;
ALTER TABLE evlog.event_log ADD COLUMN route_x text;
ALTER TABLE evlog.event_log DROP COLUMN route_x;
ALTER EVENT TRIGGER evlog_ddl_guard ENABLE;
SELECT (SELECT array_agg(seq) FROM evlog_stream_read('host', 'route', 0, NULL))
         = (SELECT array_agg(seq) FROM evlog_read(0, NULL) WHERE host_id = 'route') AS same_as_read,
       (SELECT array_agg(seq) FROM evlog_stream_read('host', 'route', 0, NULL))
         = (SELECT array_agg(seq ORDER BY seq) FROM evlog.event_log WHERE host_id = 'route') AS same_as_query;
CREATE ROLE route_rls_reader;
GRANT USAGE ON SCHEMA evlog TO route_rls_reader;
GRANT SELECT ON evlog.event_log TO route_rls_reader;
GRANT EXECUTE ON FUNCTION evlog_stream_read(text, text, bigint, integer) TO route_rls_reader;
ALTER TABLE evlog.event_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY route_all ON evlog.event_log FOR SELECT TO route_rls_reader USING (true);
SET ROLE route_rls_reader;
SELECT (SELECT array_agg(seq) FROM evlog_stream_read('host', 'route', 0, NULL))
         = (SELECT array_agg(seq ORDER BY seq) FROM evlog.event_log WHERE host_id = 'route') AS same_under_rls,
       (SELECT bool_and(kind = 'agent_event' AND payload = '{}') FROM evlog_stream_read('host', 'route', 0, NULL)) AS columns_in_place;
RESET ROLE;
DROP POLICY route_all ON evlog.event_log;
ALTER TABLE evlog.event_log DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON evlog.event_log FROM route_rls_reader;
REVOKE ALL ON FUNCTION evlog_stream_read(text, text, bigint, integer) FROM route_rls_reader;
REVOKE USAGE ON SCHEMA evlog FROM route_rls_reader;
DROP ROLE route_rls_reader;
