--
-- batch: evlog_append_batch in both call forms.  Round trip of every field,
-- seq order and contiguity, all or nothing, every bad-input case, event_id
-- dedup inside a batch and against the log, AFTER/BEFORE ROW triggers, and
-- a 100,000-entry batch.
--
CREATE EXTENSION IF NOT EXISTS evlog;
SET client_min_messages = warning;

-- EXPLAIN (COSTS OFF) of a query, one row per line
CREATE FUNCTION pg_temp.explain_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    RETURN NEXT l;
  END LOOP;
END $$;
-- entries' seqs relative to the first one: shows input order and contiguity
-- in one line, whatever the log held before
CREATE FUNCTION pg_temp.offsets(seqs bigint[]) RETURNS bigint[]
LANGUAGE sql AS $$ SELECT array_agg(s - seqs[1] ORDER BY i) FROM unnest(seqs) WITH ORDINALITY u(s, i) $$;

-- empty batches, both forms
SELECT evlog_append_batch('[]'::jsonb) AS empty_jsonb;
SELECT evlog_append_batch('{}'::text[], '{}'::timestamptz[], '{}'::text[], '{}'::text[], '{}'::jsonb[]) AS empty_typed;

-- round trip of every field, jsonb form
SELECT evlog_last_seq() AS before \gset
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:00:00.123456Z", "host_id": "h1", "rollout_id": "r1",
   "payload": {"kind": "DispatchAck", "status": "pass", "n": 1}, "event_id": "b-rt-1"},
  {"kind": "plan_action", "ts": "2026-05-16 03:00:00+02", "host_id": null, "rollout_id": "r1",
   "payload": {"effect": "RecordTransition", "nested": {"a": [1, 2, {"b": null}]}}},
  {"kind": "manifest_poll", "ts": "2026-05-16T01:00:02Z", "payload": {}}
]$$) AS seqs \gset
SELECT pg_temp.offsets(:'seqs'), (:'seqs'::bigint[])[1] > :before AS after_previous,
       evlog_last_seq() = (:'seqs'::bigint[])[3] AS last_is_last;
SELECT u.i, e.ts, e.kind, e.host_id, e.rollout_id, e.payload, e.event_id
  FROM unnest(:'seqs'::bigint[]) WITH ORDINALITY u(s, i) JOIN evlog.event_log e ON e.seq = u.s
 ORDER BY u.i;

-- round trip of every field, typed form (NULL elements; NULL array = all NULL)
SELECT evlog_append_batch(
    ARRAY['gate_decision', 'plan_action'],
    ARRAY['2026-05-16 01:00:03.5+00', '2026-05-16 01:00:04+00']::timestamptz[],
    ARRAY['h2', NULL],
    NULL,
    ARRAY['{"gate": "budget", "ok": true}', '{"action": "Dispatch"}']::jsonb[],
    ARRAY[NULL, 'b-rt-2']) AS seqs \gset
SELECT pg_temp.offsets(:'seqs');
SELECT u.i, e.ts, e.kind, e.host_id, e.rollout_id, e.payload, e.event_id
  FROM unnest(:'seqs'::bigint[]) WITH ORDINALITY u(s, i) JOIN evlog.event_log e ON e.seq = u.s
 ORDER BY u.i;
-- the event_ids default
SELECT pg_temp.offsets(evlog_append_batch(ARRAY['effect'], ARRAY['2026-05-16 01:00:05+00'::timestamptz],
                                          ARRAY['h3'], ARRAY['r3'], ARRAY['{}'::jsonb])) AS one;

-- order and contiguity over several multi-insert buffers: 2,500 small rows
-- (1,000 per buffer) and 300 rows of ~1 kB (64 kB per buffer); each row's
-- payload names its input position
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T02:00:00Z', 'host_id', 'bulk-small',
         'payload', jsonb_build_object('i', g)) ORDER BY g)) AS seqs
  FROM generate_series(1, 2500) g \gset
SELECT cardinality(:'seqs'::bigint[]) AS n,
       (:'seqs'::bigint[])[2500] - (:'seqs'::bigint[])[1] AS last_minus_first,
       bool_and(e.payload->>'i' = u.i::text) AS input_order
  FROM unnest(:'seqs'::bigint[]) WITH ORDINALITY u(s, i) JOIN evlog.event_log e ON e.seq = u.s;
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T02:00:00Z', 'host_id', 'bulk-wide',
         'payload', jsonb_build_object('i', g, 'pad', repeat('x', 1000))) ORDER BY g)) AS seqs
  FROM generate_series(1, 300) g \gset
SELECT cardinality(:'seqs'::bigint[]) AS n,
       (:'seqs'::bigint[])[300] - (:'seqs'::bigint[])[1] AS last_minus_first,
       bool_and(e.payload->>'i' = u.i::text) AS input_order
  FROM unnest(:'seqs'::bigint[]) WITH ORDINALITY u(s, i) JOIN evlog.event_log e ON e.seq = u.s;
-- every index got its entries (an index-only plan would miss rows otherwise)
SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- (two host indexes, (host_id, ts) and (host_id, seq), tie on cost: which
-- one the planner takes depends on the order the partition's indexes were
-- made in, so that part of the name is masked)
SELECT regexp_replace(l, '_host_id_(ts|seq)_idx', '_host_id_<ts|seq>_idx') AS plan
  FROM pg_temp.explain_lines($$SELECT count(*) FROM evlog.event_log WHERE host_id = 'bulk-small'$$) l;
SELECT count(*) AS via_host_index FROM evlog.event_log WHERE host_id IN ('bulk-small', 'bulk-wide');
SELECT count(*) AS via_kind_index FROM evlog.event_log WHERE kind = 'agent_event' AND ts = '2026-05-16T02:00:00Z' AND host_id LIKE 'bulk-%';
SELECT count(*) AS via_event_id_index FROM evlog.event_log WHERE event_id IN ('b-rt-1', 'b-rt-2');
RESET enable_seqscan;
RESET enable_bitmapscan;

-- all or nothing: one bad entry in the middle rejects the batch, nothing is
-- written and no seq is used
\set VERBOSITY default
-- errors show message, detail and hint; the SQLSTATE follows each
\set SHOW_CONTEXT never
SELECT count(*) AS rows_before, evlog_last_seq() AS last_before FROM evlog.event_log \gset
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {"i": 0}},
  {"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {"i": 1}},
  {"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {"i": 2}},
  {"kind": "no_such_kind", "ts": "2026-05-16T01:00:00Z", "payload": {"i": 3}},
  {"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {"i": 4}}
]$$);
\echo SQLSTATE :SQLSTATE
-- a bad entry after several buffers' worth of good ones
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', CASE WHEN g = 2999 THEN 'infinity' ELSE '2026-05-16T01:00:00Z' END,
         'payload', '{}'::jsonb) ORDER BY g))
  FROM generate_series(0, 2999) g;
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect', 'effect'], ARRAY['2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00']::timestamptz[],
                          NULL, NULL, ARRAY['{}', '[]', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT count(*) = :rows_before AS log_unchanged, evlog_last_seq() = :last_before AS last_seq_unchanged,
       nextval('evlog.event_log_seq_seq') = :last_before + 1 AS no_seq_used FROM evlog.event_log;

-- bad input, jsonb form: the batch itself
SELECT evlog_append_batch(NULL::jsonb);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('{"kind": "agent_event"}');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('42');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('"[]"');
\echo SQLSTATE :SQLSTATE
-- entries that are not objects
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}}, 42]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[[]]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[null]');
\echo SQLSTATE :SQLSTATE
-- unknown keys, named
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}, "hostid": "h1"}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}, "seq": 1}]');
\echo SQLSTATE :SQLSTATE
-- required fields missing or JSON null
SELECT evlog_append_batch('[{"ts": "2026-05-16T01:00:00Z", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": null, "ts": "2026-05-16T01:00:00Z", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": null, "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z"}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": null}]');
\echo SQLSTATE :SQLSTATE
-- wrong JSON types
SELECT evlog_append_batch('[{"kind": 7, "ts": "2026-05-16T01:00:00Z", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": 1778893200, "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": "{}"}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": [1, 2]}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}, "host_id": 1}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}, "rollout_id": true}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}, "event_id": {"id": 1}}]');
\echo SQLSTATE :SQLSTATE
-- bad values
SELECT evlog_append_batch('[{"kind": "", "ts": "2026-05-16T01:00:00Z", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}},
                            {"kind": "Agent_Event", "ts": "2026-05-16T01:00:00Z", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "not a time", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-02-30T01:00:00Z", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "-infinity", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SET evlog.max_payload_bytes = 64;
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}},
                            {"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {"pad": "0123456789012345678901234567890123456789012345678901234567890123456789"}}]');
\echo SQLSTATE :SQLSTATE
RESET evlog.max_payload_bytes;
-- batch size limit (a superuser-only setting)
SET evlog.max_batch_entries = 2;
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}},
                            {"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}},
                            {"kind": "agent_event", "ts": "2026-05-16T01:00:00Z", "payload": {}}]');
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect', 'effect'], ARRAY['2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00']::timestamptz[],
                          NULL, NULL, ARRAY['{}', '{}', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
RESET evlog.max_batch_entries;
SHOW evlog.max_batch_entries;

-- bad input, typed form
SELECT evlog_append_batch(NULL::text[], ARRAY['2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect'], NULL::timestamptz[], NULL, NULL, ARRAY['{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect'], ARRAY['2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, NULL::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect'], ARRAY['2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect'], ARRAY['2026-05-16 01:00:00+00']::timestamptz[], ARRAY['h1', 'h2'], NULL, ARRAY['{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect'], ARRAY['2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}']::jsonb[], ARRAY[]::text[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY[['effect'], ['effect']], ARRAY['2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', NULL], ARRAY['2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect'], ARRAY['2026-05-16 01:00:00+00', NULL]::timestamptz[], NULL, NULL, ARRAY['{}', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect'], ARRAY['2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}', NULL]::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'nope'], ARRAY['2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect'], ARRAY['2026-05-16 01:00:00+00', 'infinity']::timestamptz[], NULL, NULL, ARRAY['{}', '{}']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect'], ARRAY['2026-05-16 01:00:00+00', '2026-05-16 01:00:00+00']::timestamptz[], NULL, NULL, ARRAY['{}', '"x"']::jsonb[]);
\echo SQLSTATE :SQLSTATE
SELECT count(*) = :rows_before AS still_unchanged FROM evlog.event_log;

-- event_id dedup inside one batch: the later duplicate (same content, keys
-- in another order) returns its first occurrence's seq and is not written;
-- the new rows' seqs stay contiguous
SELECT count(*) AS rows_before FROM evlog.event_log \gset
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:10:00Z", "host_id": "h1", "payload": {"a": 1, "b": 2}, "event_id": "d-1"},
  {"kind": "agent_event", "ts": "2026-05-16T01:10:00Z", "host_id": "h1", "payload": {"a": 2}},
  {"payload": {"b": 2, "a": 1}, "event_id": "d-1", "kind": "agent_event", "ts": "2026-05-16T03:10:00+02", "host_id": "h1"},
  {"kind": "agent_event", "ts": "2026-05-16T01:10:00Z", "host_id": "h1", "payload": {"a": 3}, "event_id": "d-2"},
  {"kind": "agent_event", "ts": "2026-05-16T01:10:00Z", "host_id": "h1", "payload": {"a": 1, "b": 2}, "event_id": "d-1"}
]$$) AS seqs \gset
SELECT pg_temp.offsets(:'seqs'), (SELECT count(*) - :rows_before FROM evlog.event_log) AS rows_written;
SELECT (:'seqs'::bigint[])[1] AS d1 \gset
-- ... and against the log: stored ids return the stored seq, in both forms
-- and in evlog_append; an in-batch duplicate of a stored id gets it too
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:11:00Z", "payload": {"new": 1}, "event_id": "d-3"},
  {"kind": "agent_event", "ts": "2026-05-16T01:10:00Z", "host_id": "h1", "payload": {"a": 1, "b": 2}, "event_id": "d-1"},
  {"kind": "agent_event", "ts": "2026-05-16T01:11:00Z", "payload": {"new": 2}},
  {"kind": "agent_event", "ts": "2026-05-16T01:10:00Z", "host_id": "h1", "payload": {"a": 1, "b": 2}, "event_id": "d-1"}
]$$) AS seqs \gset
SELECT (:'seqs'::bigint[])[2] = :d1 AS stored_seq, (:'seqs'::bigint[])[4] = :d1 AS stored_seq_again,
       (:'seqs'::bigint[])[3] - (:'seqs'::bigint[])[1] AS new_rows_contiguous,
       (SELECT count(*) - :rows_before FROM evlog.event_log) AS rows_written;
SELECT evlog_append_batch(ARRAY['agent_event'], ARRAY['2026-05-16 01:10:00+00']::timestamptz[], ARRAY['h1'], NULL,
                          ARRAY['{"a": 1, "b": 2}']::jsonb[], ARRAY['d-1']) = ARRAY[:d1]::bigint[] AS typed_stored_seq;
\echo SQLSTATE :SQLSTATE
SELECT evlog_append('agent_event', '2026-05-16 01:10:00+00', 'h1', NULL, '{"b": 2, "a": 1}', 'd-1') = :d1 AS single_sees_batch;
SELECT evlog_append('agent_event', '2026-05-16 01:12:00+00', NULL, NULL, '{}', 'd-single') AS single \gset
SELECT evlog_append_batch('[{"kind": "agent_event", "ts": "2026-05-16T01:12:00Z", "payload": {}, "event_id": "d-single"}]')
       = ARRAY[:single]::bigint[] AS batch_sees_single;
\echo SQLSTATE :SQLSTATE
-- in one transaction, a second batch sees the first
BEGIN;
SELECT evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:13:00Z", "payload": {}, "event_id": "d-xact"}]') AS a \gset
SELECT evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:13:00Z", "payload": {}, "event_id": "d-xact"}]') = :'a' AS same_xact;
\echo SQLSTATE :SQLSTATE
COMMIT;
SELECT count(*) AS rows_before FROM evlog.event_log \gset
-- same id, different content: inside the batch, each field...
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {}, "event_id": "d-4"},
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {}},
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {"x": 1}, "event_id": "d-4"}
]$$);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {}, "event_id": "d-4"},
  {"kind": "effect", "ts": "2026-05-16T01:14:00Z", "payload": {}, "event_id": "d-4"}
]$$);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {}, "event_id": "d-4"},
  {"kind": "agent_event", "ts": "2026-05-16T01:14:01Z", "payload": {}, "event_id": "d-4"}
]$$);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {}, "event_id": "d-4", "host_id": "h1"},
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {}, "event_id": "d-4"}
]$$);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['effect', 'effect'], ARRAY['2026-05-16 01:14:00+00', '2026-05-16 01:14:00+00']::timestamptz[],
                          NULL, ARRAY['r1', 'r2'], ARRAY['{}', '{}']::jsonb[], ARRAY['d-4', 'd-4']);
\echo SQLSTATE :SQLSTATE
-- ... and against the log
SELECT evlog_append_batch($$[
  {"kind": "agent_event", "ts": "2026-05-16T01:14:00Z", "payload": {}},
  {"kind": "agent_event", "ts": "2026-05-16T01:10:00Z", "host_id": "h1", "payload": {"a": 1, "b": 3}, "event_id": "d-1"}
]$$);
\echo SQLSTATE :SQLSTATE
SELECT evlog_append_batch(ARRAY['agent_event'], ARRAY['2026-05-16 01:10:00+00']::timestamptz[], ARRAY['h2'], NULL,
                          ARRAY['{"a": 1, "b": 2}']::jsonb[], ARRAY['d-1']);
\echo SQLSTATE :SQLSTATE
SELECT count(*) = :rows_before AS nothing_written FROM evlog.event_log;

-- more than 64 event_ids in a transaction: one lock for all ids; a
-- savepoint rolled back releases it, and the next append takes it again
BEGIN;
SAVEPOINT sp;
SELECT cardinality(evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'effect', 'ts', '2026-05-16T01:16:00Z', 'payload', jsonb_build_object('i', g), 'event_id', 'sp-' || g))))
  FROM generate_series(1, 100) g;
ROLLBACK TO sp;
SELECT evlog_append('effect', '2026-05-16 01:16:00+00', NULL, NULL, '{"i": 1}', 'sp-1') AS sp1 \gset
SELECT seqs[1] = :sp1 AS stored_seq, seqs[100] - seqs[2] AS new_rows_contiguous
  FROM (SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
          'kind', 'effect', 'ts', '2026-05-16T01:16:00Z', 'payload', jsonb_build_object('i', g), 'event_id', 'sp-' || g) ORDER BY g)) AS seqs
          FROM generate_series(1, 100) g) b;
COMMIT;
SELECT count(*) AS sp_rows FROM evlog.event_log WHERE event_id LIKE 'sp-%';

-- a batch whose events do not fit in work_mem is not kept in memory but
-- fetched again for each phase: same results (order, contiguity, dedup)
SET work_mem = '64kB';
SELECT count(*) AS rows_before FROM evlog.event_log \gset
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T01:15:00Z', 'host_id', 'refetch',
         'payload', jsonb_build_object('i', g % 2000), 'event_id', 'refetch-' || (g % 2000)) ORDER BY g)) AS seqs
  FROM generate_series(0, 2499) g \gset
SELECT (:'seqs'::bigint[])[2000] - (:'seqs'::bigint[])[1] AS last_new_minus_first,
       (:'seqs'::bigint[])[2001:2500] = (:'seqs'::bigint[])[1:500] AS dups_get_first_seq,
       (SELECT count(*) - :rows_before FROM evlog.event_log) AS rows_written,
       (SELECT bool_and(e.payload->>'i' = (u.i - 1)::text) FROM unnest((:'seqs'::bigint[])[1:2000]) WITH ORDINALITY u(s, i)
          JOIN evlog.event_log e ON e.seq = u.s) AS input_order;
-- one 70 kB payload overflows the 64 kB: the cache is dropped mid-batch
SELECT seqs[2] = (SELECT seq FROM evlog.event_log WHERE event_id = 'refetch-7') AS stored_seq,
       seqs[3] - seqs[1] AS new_rows_contiguous
  FROM evlog_append_batch(jsonb_build_array(
         jsonb_build_object('kind', 'agent_event', 'ts', '2026-05-16T01:15:00Z', 'payload', jsonb_build_object('pad', repeat('x', 70000))),
         jsonb_build_object('kind', 'agent_event', 'ts', '2026-05-16T01:15:00Z', 'host_id', 'refetch',
                            'payload', '{"i": 7}'::jsonb, 'event_id', 'refetch-7'),
         jsonb_build_object('kind', 'agent_event', 'ts', '2026-05-16T01:15:00Z', 'payload', '{}'::jsonb))) AS seqs;
RESET work_mem;

-- AFTER INSERT ROW triggers on the log fire once per new row of a batch,
-- with the row as written; 1,500 entries of which 300 repeat an earlier
-- event_id, so 1,200 new rows
CREATE TABLE batch_seen (seq bigint, kind text, payload jsonb);
CREATE FUNCTION batch_seen_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.payload ? 'fail' THEN
        RAISE EXCEPTION 'trigger refuses seq %', NEW.payload->>'i';
    END IF;
    INSERT INTO batch_seen VALUES (NEW.seq, NEW.kind, NEW.payload);
    RETURN NULL;
END $$;
CREATE TRIGGER batch_seen AFTER INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION batch_seen_trigger();
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'effect', 'ts', '2026-05-16T01:20:00Z', 'payload', jsonb_build_object('i', g % 1200),
         'event_id', 'trig-' || (g % 1200)) ORDER BY g)) AS seqs
  FROM generate_series(1, 1500) g \gset
SELECT count(*) AS fired, count(DISTINCT seq) AS distinct_rows,
       (SELECT count(DISTINCT s) FROM unnest(:'seqs'::bigint[]) s) AS new_rows,
       bool_and(b.payload = e.payload AND b.kind = e.kind) AS saw_the_row
  FROM batch_seen b JOIN evlog.event_log e USING (seq);
-- an error raised by a trigger on row 1,500 (after the first buffers were
-- written) rolls the whole batch back
SELECT count(*) AS rows_before FROM evlog.event_log \gset
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'effect', 'ts', '2026-05-16T01:20:00Z',
         'payload', CASE WHEN g = 1500 THEN jsonb_build_object('i', g, 'fail', true) ELSE jsonb_build_object('i', g) END)
         ORDER BY g))
  FROM generate_series(1, 2000) g;
SELECT count(*) = :rows_before AS log_unchanged, (SELECT count(*) FROM batch_seen) AS seen_rows_still_1200 FROM evlog.event_log;
DROP TRIGGER batch_seen ON evlog.event_log;

-- a BEFORE ROW trigger can change a row, which multi-insert cannot honour:
-- the batch then inserts row by row, and the trigger's change lands
CREATE FUNCTION batch_stamp_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.payload := NEW.payload || '{"stamped": true}';
    RETURN NEW;
END $$;
CREATE TRIGGER batch_stamp BEFORE INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION batch_stamp_trigger();
SELECT evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:21:00Z", "payload": {"i": 1}},
                            {"kind": "effect", "ts": "2026-05-16T01:21:00Z", "payload": {"i": 2}}]') AS seqs \gset
SELECT pg_temp.offsets(:'seqs'), array_agg(e.payload ORDER BY e.seq) AS payloads
  FROM evlog.event_log e WHERE e.seq = ANY (:'seqs'::bigint[]);
DROP TRIGGER batch_stamp ON evlog.event_log;

-- a BEFORE ROW trigger that returns NULL would skip the row: the append
-- fails (09000) rather than return a seq, or keep an event_id entry, for
-- an event never stored; single appends and batches alike
CREATE FUNCTION batch_skip_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NULL;
END $$;
CREATE TRIGGER batch_skip BEFORE INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION batch_skip_trigger();
SELECT count(*) AS rows_before FROM evlog.event_log \gset
SELECT evlog_append('effect', '2026-05-16T01:21:30Z', NULL, NULL, '{"skipped": 1}', 'skipped-1');
\echo :LAST_ERROR_SQLSTATE
SELECT evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:21:30Z", "payload": {"skipped": 2}, "event_id": "skipped-2"}]');
SELECT evlog_append_batch(ARRAY['effect'], ARRAY['2026-05-16 01:21:30+00']::timestamptz[], NULL, NULL,
                          ARRAY['{"skipped": 3}']::jsonb[], ARRAY['skipped-3']);
SELECT evlog_append('effect', '2026-05-16T01:21:30Z', NULL, NULL, '{"skipped": 4}', 'rollout', NULL, 'skipped-4');
DROP TRIGGER batch_skip ON evlog.event_log;
SELECT count(*) = :rows_before AS log_unchanged,
       (SELECT count(*) FROM evlog.event_ids WHERE event_id LIKE 'skipped-%') AS skipped_ids
  FROM evlog.event_log;
-- the event_ids are free: appending them now stores the events
SELECT cardinality(evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:21:30Z", "payload": {"skipped": 2}, "event_id": "skipped-2"}]')) AS appended;
-- the same on evlog.event_ids: a skipped entry would leave the event_id
-- unrecorded, and a retry would append the event a second time
CREATE TRIGGER batch_skip_id BEFORE INSERT ON evlog.event_ids
    FOR EACH ROW EXECUTE FUNCTION batch_skip_trigger();
SELECT evlog_append('effect', '2026-05-16T01:21:30Z', NULL, NULL, '{"skipped": 5}', 'skipped-5');
\echo :LAST_ERROR_SQLSTATE
SELECT evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:21:30Z", "payload": {"skipped": 6}, "event_id": "skipped-6"}]');
DROP TRIGGER batch_skip_id ON evlog.event_ids;
SELECT count(*) AS skipped_5_6 FROM evlog.event_log WHERE event_id IN ('skipped-5', 'skipped-6');
DROP FUNCTION batch_skip_trigger();
DROP TABLE batch_seen;
DROP FUNCTION batch_seen_trigger();
DROP FUNCTION batch_stamp_trigger();

-- privileges: EXECUTE comes with evlog_grant_writer, not to PUBLIC; the
-- batch limit is not the application's to raise
CREATE ROLE evlog_batch_app;
CREATE ROLE evlog_batch_nobody;
SELECT evlog_grant_writer('evlog_batch_app');
SET ROLE evlog_batch_app;
SELECT cardinality(evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:22:00Z", "payload": {}}]')) AS app_jsonb;
SELECT cardinality(evlog_append_batch(ARRAY['effect'], ARRAY['2026-05-16 01:22:00+00']::timestamptz[], NULL, NULL, ARRAY['{}']::jsonb[])) AS app_typed;
-- a batch of more than 8 moves the log's sequence past its seqs in one
-- step (setval, as the sequence's owner: the writer has no UPDATE on it);
-- the next append continues right after the batch
SELECT evlog_append_batch(array_fill('effect'::text, ARRAY[20]), array_fill('2026-05-16 01:22:00+00'::timestamptz, ARRAY[20]),
                          NULL, NULL, array_fill('{}'::jsonb, ARRAY[20])) AS range_seqs \gset
SELECT evlog_append('effect', '2026-05-16 01:22:00+00', NULL, NULL, '{}') AS after_range \gset
SELECT (:'range_seqs'::bigint[])[20] - (:'range_seqs'::bigint[])[1] AS range_last_minus_first,
       :after_range - (:'range_seqs'::bigint[])[20] AS next_after_range;
SET evlog.max_batch_entries = 1000000;
RESET ROLE;
SET ROLE evlog_batch_nobody;
SELECT evlog_append_batch('[{"kind": "effect", "ts": "2026-05-16T01:22:00Z", "payload": {}}]');
SELECT evlog_append_batch(ARRAY['effect'], ARRAY['2026-05-16 01:22:00+00']::timestamptz[], NULL, NULL, ARRAY['{}']::jsonb[]);
RESET ROLE;
DROP OWNED BY evlog_batch_app, evlog_batch_nobody;
DROP ROLE evlog_batch_app, evlog_batch_nobody;

-- a batch of exactly evlog.max_batch_entries entries (100,000, the
-- default), both forms; one more entry is refused.  The memcheck suite,
-- where valgrind makes every row ~70x dearer, runs this at the limit it sets
-- in evlog_test.batch_entries instead: the same assertions at a smaller size.
SELECT coalesce(current_setting('evlog_test.batch_entries', true), '100000')::int AS n \gset
SET evlog.max_batch_entries = :n;
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T03:00:00Z', 'host_id', 'big-' || (g % 256), 'rollout_id', 'r-big',
         'payload', jsonb_build_object('kind', 'ProbeResult', 'probeName', 'p', 'status', 'pass', 'observedAt', '2026-05-16T03:00:00Z', 'i', g),
         'event_id', 'big-' || g) ORDER BY g)) AS seqs
  FROM generate_series(1, :n) g \gset
SELECT cardinality(:'seqs'::bigint[]) = :n AS all_seqs, (:'seqs'::bigint[])[:n] - (:'seqs'::bigint[])[1] = :n - 1 AS contiguous,
       (SELECT count(*) FROM evlog.event_log WHERE rollout_id = 'r-big') = :n AS all_landed;
SELECT cardinality(evlog_append_batch(array_agg('agent_event'::text), array_agg('2026-05-16 03:00:00+00'::timestamptz),
                                      array_agg('big-' || (g % 256)), array_agg('r-big-typed'::text),
                                      array_agg(jsonb_build_object('i', g)))) = :n AS typed_all_seqs
  FROM generate_series(1, :n) g;
\set VERBOSITY terse
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object('kind', 'agent_event', 'ts', '2026-05-16T03:00:00Z', 'payload', '{}'::jsonb)))
  FROM generate_series(1, :n + 1) g;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
RESET evlog.max_batch_entries;

-- seqs strictly increase in append order over the whole log
SELECT bool_and(seq > prev) AS strictly_increasing
  FROM (SELECT seq, lag(seq, 1, 0::bigint) OVER (ORDER BY seq) AS prev FROM evlog.event_log) s;
