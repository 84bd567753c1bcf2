--
-- chain: the tamper-evident hash chain.  Sealing, the format (recomputed
-- here in plain SQL as a known-answer check), the safe-seq horizon, and a
-- superuser's tampering detected at the right seq: an edited payload, a
-- deleted row, two rows reordered, a row slipped into a hole, a deleted
-- event together with its link, an edited link; then a pruned prefix that
-- still verifies from its anchor.
--
CREATE EXTENSION IF NOT EXISTS evlog;
\set VERBOSITY terse
SELECT evlog_seal(NULL) >= 0 AS sealed_earlier_tests;
SELECT evlog_last_seq() AS base \gset

-- ten events with NULLs, empty strings, non-ASCII text, a pre-1970 ts;
-- a rolled-back append leaves a hole after the fifth
SELECT count(*) AS appended FROM (
  SELECT evlog_append('agent_event', '2026-05-16 01:00:00.123456+00'::timestamptz + i * interval '1 second',
                      CASE WHEN i % 2 = 0 THEN 'h' || i END, CASE WHEN i = 3 THEN '' ELSE 'r1' END,
                      json_build_object('i', i, 'note', 'ünïcødé', 'z', NULL)::text,
                      CASE WHEN i % 3 = 0 THEN 'ev-chain-' || i END)
    FROM generate_series(1, 5) i) s;
BEGIN;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{"rolled":"back"}') - :base AS hole;
ROLLBACK;
SELECT count(*) AS appended FROM (
  SELECT evlog_append('plan_action', '1969-07-20 20:17:40.000001+00', NULL, NULL,
                      json_build_object('i', i, 'b', ARRAY[1, 2])::text)
    FROM generate_series(6, 10) i) s;

SELECT sealed_seq < :base + 1 AS nothing_sealed_yet, events_behind AS behind FROM evlog.chain_status;
SELECT evlog_seal(4) AS sealed_4;
SELECT evlog_seal() AS sealed_rest;
SELECT evlog_seal() AS nothing_left;
SELECT head_seq - :base AS head, safe_seq - :base AS safe, sealed_seq - :base AS sealed,
       events_behind, sealed_at IS NOT NULL AS has_sealed_at FROM evlog.chain_status;
SELECT count(*) AS links, count(*) FILTER (WHERE prev_seq IS NOT NULL) AS with_prev,
       bool_and(prev_seq < seq) AS prev_below FROM evlog.chain WHERE seq > :base;
-- the hole is skipped: the link after it follows the fifth event
SELECT seq - :base AS seq, prev_seq - :base AS prev_seq FROM evlog.chain WHERE seq BETWEEN :base + 5 AND :base + 7 ORDER BY seq;

-- known answer: the format recomputed in plain SQL matches every link
CREATE FUNCTION pg_temp.enc_str(t text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT COALESCE(int4send(octet_length(convert_to(t, 'UTF8'))) || convert_to(t, 'UTF8'), '\xffffffff'::bytea) $$;
SELECT bool_and(c.hash = sha256(COALESCE(p.hash, decode(repeat('00', 32), 'hex'))
          || int8send(e.seq)
          || int8send(((('x' || encode(timestamptz_send(e.ts), 'hex'))::bit(64)::bigint::numeric
                        + 946684800000000 + 9223372036854775808) % 18446744073709551616
                       - 9223372036854775808)::bigint)
          || pg_temp.enc_str(e.kind) || pg_temp.enc_str(e.host_id) || pg_temp.enc_str(e.rollout_id)
          || pg_temp.enc_str(e.payload::text) || pg_temp.enc_str(e.event_id))) AS sql_recompute_matches,
       count(*) FILTER (WHERE c.seq > :base) AS recomputed_here
  FROM evlog.chain c JOIN evlog.event_log e USING (seq) LEFT JOIN evlog.chain p ON p.seq = c.prev_seq;
-- NULL and '' encode differently
SELECT pg_temp.enc_str(NULL) <> pg_temp.enc_str('') AS null_differs_from_empty;

-- intact
SELECT first_bad_seq, expected, found, reason, events_checked >= 10 AS checked_all,
       verified_to = evlog_last_seq() AS to_head FROM evlog_verify_chain();
SELECT first_bad_seq, events_checked, verified_to - :base AS verified_to
  FROM evlog_verify_chain(:base + 2, :base + 6);
SELECT (h).seq = evlog_last_seq() AS head_is_last,
       (h).hash = (SELECT encode(hash, 'hex') FROM evlog.chain ORDER BY seq DESC LIMIT 1) AS head_hash,
       length((h).hash) AS hex_len
  FROM (SELECT evlog_chain_head() AS h) s;
SELECT evlog_seal(0);
SELECT * FROM evlog_verify_chain(10, 5);

-- sealing stops at evlog_safe_seq(): our own open append holds it back
BEGIN;
SELECT evlog_append('agent_event', '2026-05-16 02:00:00+00', 'mine', NULL, '{"open":true}') AS mine \gset
SELECT evlog_safe_seq() = :mine - 1 AS safe_below_mine;
SELECT evlog_seal() AS sealed_while_open;
SELECT sealed_seq = :mine - 1 AS stopped_below_mine FROM evlog.chain_status;
COMMIT;
SELECT evlog_seal() AS sealed_after_commit;
SELECT seq = :mine AS mine_sealed FROM evlog_chain_head();

-- a superuser switches the append-only protection off and tampers
ALTER TABLE evlog.event_log DISABLE TRIGGER ALL;
ALTER TABLE evlog.chain DISABLE TRIGGER ALL;
CREATE TEMP TABLE saved AS SELECT * FROM evlog.event_log WHERE seq > :base;

-- 1. an edited payload: detected at that seq
UPDATE evlog.event_log SET payload = payload || '{"status":"pass"}' WHERE seq = :base + 3;
SELECT first_bad_seq - :base AS bad, reason,
       expected = (SELECT hash FROM evlog.chain WHERE seq = :base + 3) AS expected_is_link,
       found <> expected AS found_differs, events_checked > 0 AS checked_before
  FROM evlog_verify_chain();
-- a range that ends before it does not see it
SELECT first_bad_seq FROM evlog_verify_chain(NULL, :base + 2);
UPDATE evlog.event_log e SET payload = s.payload FROM saved s WHERE e.seq = s.seq AND e.seq = :base + 3;
SELECT first_bad_seq AS restored FROM evlog_verify_chain();

-- 2. a deleted row: detected at its seq
DELETE FROM evlog.event_log WHERE seq = :base + 4;
SELECT first_bad_seq - :base AS bad, reason, expected IS NOT NULL AS has_expected, found IS NULL AS no_found
  FROM evlog_verify_chain();
INSERT INTO evlog.event_log SELECT * FROM saved WHERE seq = :base + 4;
SELECT first_bad_seq AS restored FROM evlog_verify_chain();

-- 3. two rows reordered (their seqs swapped): detected at the lower one
UPDATE evlog.event_log SET seq = :base + 100000 WHERE seq = :base + 7;
UPDATE evlog.event_log SET seq = :base + 7 WHERE seq = :base + 8;
UPDATE evlog.event_log SET seq = :base + 8 WHERE seq = :base + 100000;
SELECT first_bad_seq - :base AS bad, regexp_replace(reason, '[0-9]+', 'N', 'g') AS reason FROM evlog_verify_chain();
-- two payloads swapped: likewise
DELETE FROM evlog.event_log WHERE seq > :base AND seq <= (SELECT max(seq) FROM saved);
INSERT INTO evlog.event_log SELECT * FROM saved;
SELECT first_bad_seq AS restored FROM evlog_verify_chain();
UPDATE evlog.event_log e SET payload = s.payload FROM saved s
 WHERE (e.seq, s.seq) IN ((:base + 9, :base + 10), (:base + 10, :base + 9));
SELECT first_bad_seq - :base AS bad, regexp_replace(reason, '[0-9]+', 'N', 'g') AS reason FROM evlog_verify_chain();
UPDATE evlog.event_log e SET payload = s.payload FROM saved s WHERE e.seq = s.seq;
SELECT first_bad_seq AS restored FROM evlog_verify_chain();

-- 4. a row slipped into the hole an aborted append left
INSERT INTO evlog.event_log VALUES (:base + 6, '2026-05-16 01:00:00+00', 'agent_event', NULL, NULL, '{"forged":true}', NULL);
SELECT first_bad_seq - :base AS bad, reason, expected IS NULL AS no_expected, found IS NOT NULL AS has_found
  FROM evlog_verify_chain();
DELETE FROM evlog.event_log WHERE seq = :base + 6;
SELECT first_bad_seq AS restored FROM evlog_verify_chain();

-- 5. an event deleted together with its link: caught at the next link,
--    whose recorded predecessor is gone
CREATE TEMP TABLE saved_links AS SELECT * FROM evlog.chain WHERE seq > :base;
DELETE FROM evlog.event_log WHERE seq = :base + 2;
DELETE FROM evlog.chain WHERE seq = :base + 2;
SELECT first_bad_seq - :base AS bad, regexp_replace(reason, '[0-9]+', 'N', 'g') AS reason FROM evlog_verify_chain();
INSERT INTO evlog.event_log SELECT * FROM saved WHERE seq = :base + 2;
INSERT INTO evlog.chain SELECT * FROM saved_links WHERE seq = :base + 2;
SELECT first_bad_seq AS restored FROM evlog_verify_chain();

-- 6. a link rewritten
UPDATE evlog.chain SET hash = sha256('forged') WHERE seq = :base + 9;
SELECT first_bad_seq - :base AS bad, reason, expected = sha256('forged') AS expected_is_stored
  FROM evlog_verify_chain();
UPDATE evlog.chain c SET hash = s.hash FROM saved_links s WHERE c.seq = s.seq;
SELECT first_bad_seq AS restored FROM evlog_verify_chain();

-- 7. retention: a pruned prefix keeps its last link as the anchor
INSERT INTO evlog.chain_anchor (seq, hash) SELECT seq, hash FROM evlog.chain WHERE seq = :base + 3;
DELETE FROM evlog.event_log WHERE seq <= :base + 3;
DELETE FROM evlog.chain WHERE seq <= :base + 3;
SELECT first_bad_seq, reason, verified_to = evlog_last_seq() AS to_head FROM evlog_verify_chain();
-- without the anchor the first remaining link cannot be checked
ALTER TABLE evlog.chain_anchor DISABLE TRIGGER ALL;
DELETE FROM evlog.chain_anchor;
SELECT first_bad_seq - :base AS bad, regexp_replace(reason, '[0-9]+', 'N', 'g') AS reason FROM evlog_verify_chain();
INSERT INTO evlog.chain_anchor (seq, hash) SELECT seq, hash FROM saved_links WHERE seq = :base + 3;
ALTER TABLE evlog.chain_anchor ENABLE ALWAYS TRIGGER chain_anchor_no_update_delete;
ALTER TABLE evlog.chain_anchor ENABLE ALWAYS TRIGGER chain_anchor_no_truncate;

ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_update_delete;
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_truncate;
ALTER TABLE evlog.chain ENABLE ALWAYS TRIGGER chain_no_update_delete;
ALTER TABLE evlog.chain ENABLE ALWAYS TRIGGER chain_no_truncate;

-- sealing continues after the pruned prefix
SELECT evlog_append('agent_event', '2026-05-16 03:00:00+00', NULL, NULL, '{"after":"prune"}') > 0 AS appended;
SELECT evlog_seal() AS sealed;
SELECT first_bad_seq, reason, verified_to = evlog_last_seq() AS to_head FROM evlog_verify_chain();

-- the chain is append-only too, even for its owner
DELETE FROM evlog.chain;
UPDATE evlog.chain SET hash = hash;
TRUNCATE evlog.chain_anchor;

-- privileges: readers verify, only an administrator seals
CREATE ROLE evlog_auditor LOGIN;
CREATE ROLE evlog_nobody2 LOGIN;
SELECT evlog_grant_reader('evlog_auditor');
SET ROLE evlog_auditor;
SELECT first_bad_seq, reason FROM evlog_verify_chain();
SELECT seq > 0 AS head_visible FROM evlog_chain_head();
SELECT events_behind FROM evlog.chain_status;
SELECT count(*) > 0 AS can_export FROM evlog.chain_export;
SELECT evlog_seal();
INSERT INTO evlog.chain VALUES (0, NULL, sha256(''), now());
RESET ROLE;
SET ROLE evlog_nobody2;
SELECT * FROM evlog_verify_chain();
SELECT * FROM evlog_chain_head();
SELECT evlog_seal();
RESET ROLE;
DROP OWNED BY evlog_auditor, evlog_nobody2;
DROP ROLE evlog_auditor, evlog_nobody2;
