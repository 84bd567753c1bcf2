--
-- input_limits: nothing a caller sends can break the log.  A payload is
-- bounded by what it prints as, numbers by their digits, ids by what the
-- indexes hold (checked before a seq is spent), parse errors keep their
-- SQLSTATE, spent seqs never make partition creation unbounded, and a
-- column layout evlog did not create is refused, never misread.
--
-- A database of its own: the last part alters evlog.event_log for good.
\set VERBOSITY terse
SET client_min_messages = warning;
DROP DATABASE IF EXISTS evlog_input;
CREATE DATABASE evlog_input;
\c evlog_input
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE EXTENSION evlog;
SET evlog.partition_size = 16;
SET TIME ZONE 'UTC';
SET DateStyle = 'ISO, YMD';
SELECT evlog_register_kind('k', 'input limits test');

-- the error a statement raises: SQLSTATE, message, detail, hint
CREATE FUNCTION pg_temp.err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hint text;
BEGIN
  EXECUTE sql;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                          det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN st || ': ' || msg || coalesce(E'\n  detail: ' || nullif(det, ''), '')
         || coalesce(E'\n  hint: ' || nullif(hint, ''), '');
END $$;
SELECT evlog_last_seq() AS start \gset

-- numbers: at most 1000 digits on either side of the point, the JSON path
-- of the first one beyond; jsonb stores 1e131071 in a few bytes, its text
-- has 131,072 digits
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', NULL, '{"a":[1, 1e131071]}')$$);
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', NULL, '{"a":{"b c":[1e1000]}}'::jsonb)$$);
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', NULL, '{"x":-1e-1001}')$$);
SELECT pg_temp.err($$SELECT evlog_append_batch('[{"kind":"k","ts":"2026-01-01Z","payload":{}},{"kind":"k","ts":"2026-01-01Z","payload":{"n":1e5000}}]')$$);
SELECT pg_temp.err($$SELECT evlog_append_batch(ARRAY['k'], ARRAY[now()], NULL, NULL, ARRAY['{"n":[[1e2000]]}'::jsonb], NULL)$$);
-- the largest accepted on each side
SELECT evlog_append('k', '2026-01-01Z', 'h', NULL, '{"big":9e999, "small":1e-1000}') > 0 AS at_the_limit;
SELECT octet_length(payload::text) AS printed FROM evlog.event_log ORDER BY seq DESC LIMIT 1;
-- a number jsonb_in itself refuses keeps jsonb's SQLSTATE (22003)
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', NULL, '{"a":1e1000000}')$$);
-- a syntax error is still "not valid JSON" (22P02)
SELECT evlog_append('k', now(), 'h', NULL, '{"a":1,}');

-- evlog.max_payload_bytes bounds payload::text exactly: each payload below
-- prints larger than it is stored, is accepted at its printed size and
-- refused one byte below it
DO $$
DECLARE p jsonb; n int;
BEGIN
  FOREACH p IN ARRAY ARRAY[
    '{"a":"\n\n\n\n\n\n\n\n\u0001\u0002\"\\"}',
    '{"s":"é", "b":[true,false,null,{"c":-0.00100,"d":12345.678}], "e":-1e50, "f":0, "g":1e-50, "h":[]}',
    '{"a":[-1e99, 1e-99, 1.5e-20, 123456789012e-3, 0.0, 10000, 9999]}']::jsonb[] LOOP
    n := octet_length(p::text);
    IF n <= pg_column_size(p) - 4 THEN
      RAISE EXCEPTION 'test payload % does not print larger than stored', p;
    END IF;
    PERFORM set_config('evlog.max_payload_bytes', n::text, true);
    PERFORM evlog_append('k', '2026-01-01Z', 'h', NULL, p);
    PERFORM set_config('evlog.max_payload_bytes', (n - 1)::text, true);
    BEGIN
      PERFORM evlog_append('k', '2026-01-01Z', 'h', NULL, p);
      RAISE EXCEPTION 'accepted at % bytes although it prints as %', n - 1, n;
    EXCEPTION WHEN program_limit_exceeded THEN
      RAISE WARNING 'refused at % bytes: %', n - 1, sqlerrm;
    END;
  END LOOP;
END $$;
-- the error names where the text passed the limit
SET evlog.max_payload_bytes = 200;
SELECT pg_temp.err(format($$SELECT evlog_append('k', now(), 'h', NULL, '{"a":"xx", "b":{"c":[1,2,"%s"]}}'::jsonb)$$, repeat('\n', 100)));
RESET evlog.max_payload_bytes;

-- ids: at most 1024 bytes each, refused before a seq is allocated
SELECT evlog_last_seq() AS before \gset
SELECT last_value AS seq_before FROM evlog.event_log_seq_seq \gset
SELECT pg_temp.err($$SELECT evlog_append('k', now(), repeat('h', 1025), NULL, '{}')$$);
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', repeat('r', 1025), '{}')$$);
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', NULL, '{}', repeat('e', 3000))$$);
SELECT pg_temp.err($$SELECT evlog_append(repeat('k', 100000), now(), 'h', NULL, '{}')$$);
-- a batch whose first entry has a 3 kB event_id: the whole batch fails in
-- validation, before its seqs are allocated
SELECT pg_temp.err($$SELECT evlog_append_batch(ARRAY['k','k','k'], ARRAY[now(),now(),now()], NULL, NULL,
    ARRAY['{}','{}','{}']::jsonb[], ARRAY[repeat('e', 3000), 'b', 'c'])$$);
SELECT pg_temp.err($$SELECT evlog_append_batch(jsonb_build_array(
    jsonb_build_object('kind', 'k', 'ts', '2026-01-01Z', 'payload', '{}'::jsonb),
    jsonb_build_object('kind', 'k', 'ts', '2026-01-01Z', 'payload', '{}'::jsonb, 'host_id', repeat('h', 1025))))$$);
SELECT last_value = :seq_before AS no_seq_spent FROM evlog.event_log_seq_seq;
-- exactly 1024 bytes go in
SELECT evlog_append('k', '2026-01-01Z', repeat('h', 1024), repeat('r', 1024), '{}', repeat('e', 1024)) > 0 AS ids_at_the_limit;

-- kinds in messages: quoted as a literal in the runnable hint, cut when long
SELECT pg_temp.err($$SELECT evlog_append('it''s', now(), 'h', NULL, '{}')$$);
SELECT pg_temp.err($$SELECT evlog_append(repeat('x', 1000), now(), 'h', NULL, '{}')$$);

-- spent seqs: 20,000 seqs allocated and never used (failed transactions),
-- with 16-seq partitions.  For the next append, evlog's partition creator
-- makes one partition spanning the gap and the next one, not 1,250.
SELECT count(*) AS partitions_before FROM evlog.partitions;
SELECT setval('evlog.event_log_seq_seq', (SELECT last_value FROM evlog.event_log_seq_seq) + 20000) AS spent \gset
SELECT evlog_append('k', '2026-01-01Z', 'h', NULL, '{}') = :spent + 1 AS appended_after_gap;
SELECT count(*) AS partitions_after FROM evlog.partitions;
SELECT bounds FROM evlog.partitions ORDER BY partition DESC LIMIT 2;
-- evlog_create_partitions: at most 64 per call (64 at once, and up to the
-- end of bigint, are t/020_fuzz.pl's: too slow for a run under valgrind)
SELECT pg_temp.err($$SELECT evlog_create_partitions(65)$$);
SELECT evlog_create_partitions(2) AS created_2;
SELECT bounds FROM evlog.partitions ORDER BY partition DESC LIMIT 1;
SELECT evlog_append('k', '2026-01-01Z', 'h', NULL, '{}') > :spent AS still_appends;
SELECT count(*) > 0 AS reads FROM evlog_read(:start);
SELECT evlog_seal() > 0 AS sealed;
SELECT first_bad_seq IS NULL AS chain_intact FROM evlog_verify_chain();

-- evlog.max_payload_bytes bounds payload::text exactly, for 30 generated
-- payloads that print larger than stored: nesting, containers of more than 32
-- members (jsonb stores an offset in every 32nd entry), keys and strings
-- with characters printed escaped and multibyte ones, numbers of every form
-- up to the digit limit
CREATE FUNCTION pg_temp.gen_string() RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg((ARRAY['a','Z','0',' ','"','\',E'\n',E'\t',chr(1),chr(31),'/','é','€','😀',
                           'long text ','}',']',':',','])[1 + floor(random() * 19)::int], ''), '')
  FROM generate_series(1, floor(random() * 12)::int)
$$;
CREATE FUNCTION pg_temp.gen_scalar() RETURNS jsonb LANGUAGE sql AS $$
  SELECT CASE floor(random() * 12)::int
    WHEN 0 THEN to_jsonb(pg_temp.gen_string())
    WHEN 1 THEN to_jsonb(pg_temp.gen_string())
    WHEN 2 THEN 'true' WHEN 3 THEN 'false' WHEN 4 THEN 'null'
    WHEN 5 THEN to_jsonb(floor(random() * 2000000 - 1000000)::int)
    WHEN 6 THEN to_jsonb(round((random() * 2000 - 1000)::numeric, floor(random() * 8)::int))
    WHEN 7 THEN (format('%se%s', round(random()::numeric, 3), floor(random() * 1990 - 995)::int))::jsonb
    WHEN 8 THEN (format('-%s.%s', repeat('9', 1 + floor(random() * 999)::int), repeat('0', 1 + floor(random() * 999)::int)))::jsonb
    WHEN 9 THEN '0.000'
    WHEN 10 THEN '9e999'
    ELSE '1e-1000'
  END
$$;
CREATE FUNCTION pg_temp.gen(depth int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r float := random(); n int := floor(random() * 45)::int; o jsonb;
BEGIN
  IF depth = 0 OR r < 0.4 THEN
    RETURN pg_temp.gen_scalar();
  ELSIF r < 0.7 THEN
    o := '[]';
    FOR i IN 1 .. n LOOP o := o || jsonb_build_array(pg_temp.gen(depth - 1)); END LOOP;
  ELSE
    o := '{}';
    FOR i IN 1 .. n LOOP o := o || jsonb_build_object(pg_temp.gen_string(), pg_temp.gen(depth - 1)); END LOOP;
  END IF;
  RETURN o;
END $$;
SELECT setseed(0.25);
DO $$
DECLARE p jsonb; n int; stored int; printed_larger int := 0; tried int := 0;
BEGIN
  WHILE printed_larger < 30 LOOP
    tried := tried + 1;
    p := jsonb_build_object(pg_temp.gen_string(), pg_temp.gen(2), 'k', pg_temp.gen(1));
    n := octet_length(p::text);
    stored := pg_column_size(p) - 4;
    -- accepted at its printed size (or its stored size, when larger)
    PERFORM set_config('evlog.max_payload_bytes', greatest(n, stored)::text, true);
    PERFORM evlog_append('k', '2026-01-01Z', 'h', NULL, p);
    IF n <= stored THEN
      CONTINUE;
    END IF;
    printed_larger := printed_larger + 1;
    PERFORM set_config('evlog.max_payload_bytes', (n - 1)::text, true);
    BEGIN
      PERFORM evlog_append('k', '2026-01-01Z', 'h', NULL, p);
      RAISE EXCEPTION 'accepted at % bytes although it prints as %: %', n - 1, n, p;
    EXCEPTION WHEN program_limit_exceeded THEN
      IF sqlerrm <> 'payload exceeds evlog.max_payload_bytes' THEN
        RAISE;
      END IF;
    END;
  END LOOP;
  RAISE WARNING '% generated payloads accepted at their printed size; the % that print larger than stored refused one byte below it',
    tried, printed_larger;
END $$;
RESET evlog.max_payload_bytes;

-- the chain's ts over the whole finite timestamptz range: the C encoder,
-- the README's SQL formula and chain_export (read by tools/verify_chain.py,
-- run on the same values by t/020_fuzz.pl) agree; the microseconds wrap to
-- 64 bits past 294247-01-10 04:00:54.775807 UTC
SELECT evlog_append('k', ts::timestamptz, 'h', NULL, '{}') > 0 AS appended
  FROM unnest(ARRAY['4713-01-01 00:00:00+00 BC', '0044-03-15 12:00:00+00 BC', '0001-01-01 00:00:00+00 BC',
                    '0001-01-01 00:00:00+00', '9999-12-31 23:59:59.999999+00', '10000-01-01 00:00:00+00',
                    '294247-01-10 04:00:54.775807+00', '294247-01-10 04:00:54.775808+00',
                    '294276-12-31 23:59:59.999999+00']) ts;
SELECT evlog_seal() AS sealed_extremes;
SELECT first_bad_seq IS NULL AS chain_intact, events_checked > 9 AS checked FROM evlog_verify_chain();
CREATE FUNCTION pg_temp.enc_str(t text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT COALESCE(int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8'), '\xffffffff'::bytea) $$;
SELECT count(*) AS links, bool_and(c.hash = sha256(COALESCE(p.hash, decode(repeat('00', 32), 'hex'))
          || int8send(e.seq)
          || int8send(((('x' || encode(timestamptz_send(e.ts), 'hex'))::bit(64)::bigint::numeric
                        + 946684800000000 + 9223372036854775808) % 18446744073709551616
                       - 9223372036854775808)::bigint)
          || pg_temp.enc_str(e.kind) || pg_temp.enc_str(e.host_id) || pg_temp.enc_str(e.rollout_id)
          || pg_temp.enc_str(e.payload::text) || pg_temp.enc_str(e.event_id))) AS sql_formula_matches
  FROM evlog.chain c JOIN evlog.event_log e USING (seq) LEFT JOIN evlog.chain p ON p.seq = c.prev_seq;
SELECT e.ts, l.line::json ->> 'ts' AS exported
  FROM evlog.chain_export l JOIN evlog.event_log e ON e.seq = l.seq
 WHERE e.ts < '0001-01-01 00:00:00+00' OR e.ts >= '9999-12-31 23:59:59.999999+00'
 ORDER BY e.seq;

-- DDL that removes events or changes the layout is refused by the event
-- trigger evlog_ddl_guard, for the superuser too; evlog_prune's own DETACH
-- and DROP still work (suite prune), and so do trigger changes
SELECT pg_temp.err($$ALTER TABLE evlog.event_log DETACH PARTITION evlog.event_log_p0000000000000000001$$);
SELECT pg_temp.err($$DROP TABLE evlog.event_log_p0000000000000000001$$);
SELECT pg_temp.err($$DROP TABLE IF EXISTS evlog.no_such_table, evlog.event_log_p0000000000000000017$$);
SELECT pg_temp.err($$ALTER TABLE evlog.event_log ADD COLUMN x int$$);
SELECT pg_temp.err($$ALTER TABLE evlog.event_log_p0000000000000000001 DROP COLUMN payload$$);
SELECT pg_temp.err($$ALTER TABLE evlog.event_log ALTER COLUMN host_id TYPE varchar$$);
SELECT pg_temp.err($$ALTER TABLE evlog.event_log RENAME COLUMN host_id TO h$$);
SELECT pg_temp.err($$ALTER TABLE evlog.chain RENAME TO chain2$$);
ALTER TABLE evlog.event_log DISABLE TRIGGER event_log_derive;
ALTER TABLE evlog.event_log ENABLE TRIGGER event_log_derive;
SELECT count(*) AS partitions_kept FROM evlog.partitions
 WHERE partition::text IN ('evlog.event_log_p0000000000000000001', 'evlog.event_log_p0000000000000000017');

-- with the guard disabled (the visible act), a superuser's ALTER TABLE on
-- the log is refused by evlog with an error, never read with the wrong
-- layout
ALTER EVENT TRIGGER evlog_ddl_guard DISABLE;
ALTER TABLE evlog.event_log ADD COLUMN x int;
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', NULL, '{}')$$);
ALTER TABLE evlog.event_log DROP COLUMN x;
-- the old partitions still take appends and reads (a dropped column after
-- evlog's seven changes no position)
SELECT evlog_append('agent_event', '2026-01-01Z', 'h', NULL, '{"kind":"x"}') > 0 AS appended_after_drop;
SELECT count(*) > 0 AS reads_after_drop FROM evlog_read(:start);
-- a partition created afterwards would lack the dropped column: refused
SELECT pg_temp.err($$SELECT evlog_create_partitions(0, 9223372036854775807)$$);
-- rows inserted straight into a hand-made partition reach the derive
-- trigger with a shorter tuple than the log's descriptor: no crash
CREATE TABLE evlog.hand_made (LIKE evlog.event_log);
ALTER TABLE evlog.event_log ATTACH PARTITION evlog.hand_made FOR VALUES FROM (9000000000000000000) TO (9000000000000000016);
INSERT INTO evlog.event_log (seq, ts, kind, host_id, rollout_id, payload)
  VALUES (9000000000000000001, '2026-01-01Z', 'agent_event', 'h', 'r',
          '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-01-01T00:00:00+00:00",
            "subResults":[{"controlId":"c","status":"fail","framework":"f","effectiveMode":"enforce"}]}');
SELECT count(*) AS derived_from_hand_made FROM evlog.probe_failures WHERE event_log_seq = 9000000000000000001;
SELECT count(*) AS hand_made_rows FROM evlog_read(9000000000000000000);
-- a renamed column: every evlog function refuses, naming it
ALTER TABLE evlog.event_log RENAME COLUMN host_id TO h;
SELECT pg_temp.err($$SELECT evlog_append('k', now(), 'h', NULL, '{}')$$);
SELECT pg_temp.err($$SELECT count(*) FROM evlog_read(0)$$);
SELECT pg_temp.err($$SELECT * FROM evlog_verify_chain()$$);

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE evlog_input WITH (FORCE);
