--
-- batch_ts: the ts of a JSON batch entry.  RFC 3339 strings are read
-- without the general date/time parser (src/rfc3339.c), everything else by
-- timestamptz_in; either way the stored value must be exactly what
-- s::timestamptz gives, and a refused value must fail with its error.
--
CREATE EXTENSION IF NOT EXISTS evlog;
-- neither UTC nor a whole-hour zone, so a zone-less form (read in the
-- session's TimeZone) and an explicit offset differ
SET timezone = 'Asia/Kolkata';

-- 3,000 values in the fast form: dates from year 1 to 9999 (leap days of
-- 2000 and 2024 included), both separators, 0 to 6 fraction digits, "Z"
-- and offsets up to 15:59 either way
CREATE TEMP TABLE fast_forms AS
SELECT g,
       to_char(d, 'YYYY-MM-DD') || (CASE WHEN g % 2 = 0 THEN 'T' ELSE ' ' END) || to_char(d, 'HH24:MI:SS') ||
       (ARRAY['', '.1', '.12', '.123', '.1234', '.12345', '.123456', '.000001', '.999999'])[1 + g % 9] ||
       (ARRAY['Z', '+00:00', '-00:00', '+05:30', '-08:00', '+14:00', '+15:59', '-15:59', '+01:07'])[1 + (g / 9) % 9] AS s
  FROM (SELECT g, CASE g % 10
                    WHEN 0 THEN timestamp '0001-01-01 00:00:00' + g * interval '1 day 1 second'
                    WHEN 1 THEN timestamp '9999-12-31 23:59:59' - g * interval '1 day 1 minute'
                    WHEN 2 THEN timestamp '2000-02-29 12:34:56'
                    WHEN 3 THEN timestamp '2024-02-29 23:59:59'
                    WHEN 4 THEN timestamp '1900-02-28 00:00:00' + g * interval '1 hour'
                    ELSE timestamp '1970-01-01 00:00:00' + g * interval '13 days 7 hours 11 minutes 13 seconds'
                  END AS d
          FROM generate_series(1, 3000) g) x;
SELECT evlog_append_batch(jsonb_agg(jsonb_build_object('kind', 'effect', 'ts', s, 'payload', jsonb_build_object('g', g)) ORDER BY g)) AS seqs
  FROM fast_forms \gset
SELECT count(*) AS stored,
       count(*) FILTER (WHERE e.ts = f.s::timestamptz) AS same_as_cast,
       count(DISTINCT e.ts) > 2000 AS distinct_values
  FROM unnest(:'seqs'::bigint[]) u(seq)
  JOIN evlog.event_log e USING (seq)
  JOIN fast_forms f ON f.g = (e.payload->>'g')::int;

-- near the form, and left to timestamptz_in: no zone (the session's),
-- other offset spellings, lower case, a seventh digit (rounded), spaces
CREATE TEMP TABLE other_forms (s text);
INSERT INTO other_forms VALUES
  ('2026-05-16T01:00:00'), ('2026-05-16 01:00:00.5'), ('2026-05-16T01:00:00+0530'),
  ('2026-05-16T01:00:00+05'), ('2026-05-16T01:00:00+05:30:15'), ('2026-05-16t01:00:00z'),
  ('2026-05-16T01:00:00.1234567Z'), ('2026-05-16T01:00:00.9999995Z'), (' 2026-05-16T01:00:00Z'),
  ('2026-05-16T01:00:00Z '), ('2026-05-16T01:00:00 UTC'), ('2026-05-16T01:00:00 Europe/Paris'),
  ('2026-05-16'), ('May 16 2026 01:00:00 +02:00'), ('20260516T010000Z'), ('2026-05-16T01:00Z');
CREATE TEMP TABLE other_seqs AS
SELECT s, (evlog_append_batch(jsonb_build_array(jsonb_build_object('kind', 'effect', 'ts', s, 'payload', '{}'::jsonb))))[1] AS seq
  FROM other_forms;
SELECT o.s, e.ts = o.s::timestamptz AS same_as_cast
  FROM other_seqs o JOIN evlog.event_log e USING (seq)
 ORDER BY o.s COLLATE "C";

-- refused, or read differently from their digits, by timestamptz_in: the
-- same outcome through a batch (its error names the entry)
CREATE FUNCTION pg_temp.outcome(s text) RETURNS TABLE (cast_result text, batch_result text) LANGUAGE plpgsql AS $$
DECLARE
  seqs bigint[];
BEGIN
  BEGIN
    cast_result := s::timestamptz::text;
  EXCEPTION WHEN OTHERS THEN
    cast_result := SQLSTATE || ' ' || SQLERRM;
  END;
  BEGIN
    seqs := evlog_append_batch(jsonb_build_array(jsonb_build_object('kind', 'effect', 'ts', s, 'payload', '{}'::jsonb)));
    SELECT e.ts::text INTO batch_result FROM evlog.event_log e WHERE e.seq = seqs[1];
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS batch_result = PG_EXCEPTION_DETAIL;
    batch_result := SQLSTATE || ' ' || batch_result;
  END;
  RETURN NEXT;
END $$;
SELECT s, (pg_temp.outcome(s)).* FROM (VALUES
  ('0000-01-01T00:00:00Z'), ('2023-02-29T00:00:00Z'), ('1900-02-29T00:00:00Z'), ('2026-04-31T00:00:00Z'),
  ('2026-13-01T00:00:00Z'), ('2026-00-10T00:00:00Z'), ('2026-05-16T24:00:00Z'), ('2026-05-16T23:59:60Z'),
  ('2026-05-16T23:60:00Z'), ('2026-05-16T01:00:00+16:00'), ('2026-05-16T01:00:00+05:60'),
  ('2026-05-16T01:00:00.Z'), ('2026-05-1xT01:00:00Z'), ('2026-05-16T01:00:00ZZ')) v(s);

-- (not ts, but the other per-batch shortcut) a batch near the sequence's
-- end: its range would pass MAXVALUE, so it takes nextval one by one and
-- fails with nextval's own error, taking nothing
SELECT last_value AS saved_seq FROM evlog.event_log_seq_seq \gset
SELECT setval('evlog.event_log_seq_seq', 9223372036854775800) AS near_end;
SELECT evlog_append_batch(array_fill('effect'::text, ARRAY[20]), array_fill('2026-05-16 01:00:00+00'::timestamptz, ARRAY[20]),
                          NULL, NULL, array_fill('{}'::jsonb, ARRAY[20]));
SELECT count(*) AS written_near_end FROM evlog.event_log WHERE seq > 9223372036854775800;
SELECT setval('evlog.event_log_seq_seq', :saved_seq) = :saved_seq AS restored;
-- the same below a MAXVALUE of the owner's choosing
DO $$ BEGIN
  EXECUTE pg_catalog.format('ALTER SEQUENCE evlog.event_log_seq_seq MAXVALUE %s',
                            (SELECT last_value + 10 FROM evlog.event_log_seq_seq));
END $$;
DO $$ BEGIN
  PERFORM evlog_append_batch(array_fill('effect'::text, ARRAY[20]), array_fill('2026-05-16 01:00:00+00'::timestamptz, ARRAY[20]),
                             NULL, NULL, array_fill('{}'::jsonb, ARRAY[20]));
EXCEPTION WHEN sequence_generator_limit_exceeded THEN
  RAISE NOTICE 'refused at MAXVALUE: %', SQLSTATE;
END $$;
SELECT count(*) AS written_near_max FROM evlog.event_log WHERE seq > :saved_seq;
ALTER SEQUENCE evlog.event_log_seq_seq NO MAXVALUE;
SELECT setval('evlog.event_log_seq_seq', :saved_seq) = :saved_seq AS restored;
