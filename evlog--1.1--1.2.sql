/*
 * evlog--1.1--1.2.sql — update evlog 1.1 to 1.2.  A fresh CREATE EXTENSION
 * evlog runs evlog--1.0.sql, evlog--1.0--1.1.sql and then this script.
 *
 * What changes (one section per concern below).
 *   - derived tables in seq order: evlog.rollout_state keeps each rollout's
 *     registers so evlog.rollouts equals a replay in seq order whatever the
 *     commit order; filled, with the rollouts and their skips, by a replay
 *     of the log's rollout events in SQL.
 *     evlog_verify(view, replay_order) replays in reverse to expose
 *     order-dependent user-view handlers.  The derived tables' foreign keys
 *     to the partitioned log become evlog.derived_seq_check triggers.
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.2'" to load this file. \quit

-- ==== derived tables in seq order ====

/*
 * The registers behind evlog.rollouts (src/derive.c explains the rule): the
 * lowest-seq RolloutOpened, and for each field the seq and value of its
 * highest-seq writer.  Every rollout event locks its rollout's row here
 * (creating it if need be), so concurrent appenders of one rollout merge in
 * turn, and evlog.rollouts is rewritten from the merged registers.  Derived
 * like the rollouts rows it stands for: not dumped, rebuilt and verified
 * with them, pruned with their events.
 */
CREATE TABLE evlog.rollout_state (
    rollout_id     text PRIMARY KEY,
    open_seq       bigint,
    channel        text,
    target_ref     text,
    opened_at      timestamptz,
    wave_seq       bigint,
    wave           integer,
    state_seq      bigint,
    state          text,
    terminal_seq   bigint,
    terminal_at    timestamptz,
    superseded_seq bigint,
    superseded_at  timestamptz,
    early_seqs     bigint[]
);
REVOKE ALL ON evlog.rollout_state FROM PUBLIC;
COMMENT ON TABLE evlog.rollout_state IS 'internal, derived: per rollout, the events evlog.rollouts is computed from (lowest-seq opening, highest-seq writer of each field)';
COMMENT ON COLUMN evlog.rollout_state.rollout_id IS 'rollout named by a RolloutOpened, WaveAdvanced or RecordRolloutTransition';
COMMENT ON COLUMN evlog.rollout_state.open_seq IS 'seq of the lowest-seq RolloutOpened; NULL while none committed';
COMMENT ON COLUMN evlog.rollout_state.channel IS 'its channel';
COMMENT ON COLUMN evlog.rollout_state.target_ref IS 'its targetRef';
COMMENT ON COLUMN evlog.rollout_state.opened_at IS 'its "at" (the event ts when absent)';
COMMENT ON COLUMN evlog.rollout_state.wave_seq IS 'seq of the highest-seq WaveAdvanced, below the opening or not';
COMMENT ON COLUMN evlog.rollout_state.wave IS 'its toWave';
COMMENT ON COLUMN evlog.rollout_state.state_seq IS 'seq of the highest-seq RecordRolloutTransition';
COMMENT ON COLUMN evlog.rollout_state.state IS 'its "to"';
COMMENT ON COLUMN evlog.rollout_state.terminal_seq IS 'seq of the highest-seq transition to Terminal';
COMMENT ON COLUMN evlog.rollout_state.terminal_at IS 'its "at"';
COMMENT ON COLUMN evlog.rollout_state.superseded_seq IS 'seq of the highest-seq transition to Superseded';
COMMENT ON COLUMN evlog.rollout_state.superseded_at IS 'its "at"';
COMMENT ON COLUMN evlog.rollout_state.early_seqs IS 'ascending seqs of the waves and transitions below the opening (all of them while there is none): the rollout''s unknown_rollout skips';
COMMENT ON INDEX evlog.rollout_state_pkey IS 'one row per rollout; the lock concurrent appenders of a rollout take in turn';

/*
 * evlog_verify(view, replay_order): compare with a replay in descending seq
 * order ('reverse') instead of seq order ('seq', what evlog_verify(view)
 * does).  Every built-in rule gives the same tables either way; a user
 * view's handler that does not is order-dependent (README).
 */
CREATE FUNCTION @extschema@.evlog_verify(view text, replay_order text)
RETURNS TABLE (view text, difference text, "row" jsonb)
AS 'MODULE_PATHNAME', 'evlog_verify'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_verify(text, text) IS
    'rows that differ between a derived table and a replay of the log in the given order (seq, or reverse: descending seq); a view whose handler is order-dependent differs under reverse';
REVOKE ALL ON FUNCTION @extschema@.evlog_verify(text, text) FROM PUBLIC;

/*
 * The registers of the rollouts already in the log, and their rollouts rows
 * and skips as a replay in seq order has them (1.1 derived them in commit
 * order).  Plain SQL over the log, the rules of src/derive.c: the lowest-seq
 * opening; each field's highest-seq writer; waves and transitions below the
 * opening are unknown_rollout skips, openings above it duplicate_open ones.
 * (evlog_rebuild cannot run here: its temporary tables would become members
 * of the extension.)
 */
WITH ev AS (
    SELECT e.seq, e.ts, e.payload AS p,
           COALESCE(e.payload OPERATOR(pg_catalog.->>) 'rolloutId', e.rollout_id) AS rid,
           CASE WHEN e.kind OPERATOR(pg_catalog.=) 'rollout_event'
                 AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'RolloutOpened' THEN 'open'
                WHEN e.kind OPERATOR(pg_catalog.=) 'rollout_event'
                 AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'WaveAdvanced' THEN 'wave'
                ELSE 'transition' END AS t
      FROM evlog.event_log e
     WHERE pg_catalog.jsonb_typeof(e.payload) OPERATOR(pg_catalog.=) 'object'
       AND ((e.kind OPERATOR(pg_catalog.=) 'rollout_event'
             AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) ANY ('{RolloutOpened,WaveAdvanced}'))
         OR (e.kind OPERATOR(pg_catalog.=) 'effect'
             AND e.payload OPERATOR(pg_catalog.->>) 'effect' OPERATOR(pg_catalog.=) 'RecordRolloutTransition'))
), evo AS (
    SELECT ev.*, pg_catalog.min(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open')
                 OVER (PARTITION BY rid) AS o
      FROM ev
), regs AS (
    SELECT rid,
           pg_catalog.min(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open') AS open_seq,
           (pg_catalog.array_agg(p ORDER BY seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open'))[1] AS open_p,
           (pg_catalog.array_agg(ts ORDER BY seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'open'))[1] AS open_ts,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'wave') AS wave_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'wave'))[1] AS wave_p,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition') AS state_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'))[1] AS state_p,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Terminal') AS terminal_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Terminal'))[1] AS terminal_p,
           pg_catalog.max(seq) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Superseded') AS superseded_seq,
           (pg_catalog.array_agg(p ORDER BY seq DESC) FILTER (WHERE t OPERATOR(pg_catalog.=) 'transition'
               AND p OPERATOR(pg_catalog.->>) 'to' OPERATOR(pg_catalog.=) 'Superseded'))[1] AS superseded_p,
           pg_catalog.array_agg(seq ORDER BY seq) FILTER (WHERE t OPERATOR(pg_catalog.<>) 'open'
               AND (o IS NULL OR seq OPERATOR(pg_catalog.<) o)) AS early_seqs
      FROM evo WHERE rid IS NOT NULL GROUP BY rid
)
INSERT INTO evlog.rollout_state
SELECT r.rid, r.open_seq,
       r.open_p OPERATOR(pg_catalog.->>) 'channel', r.open_p OPERATOR(pg_catalog.->>) 'targetRef',
       CASE WHEN r.open_seq IS NOT NULL
            THEN COALESCE((r.open_p OPERATOR(pg_catalog.->>) 'at')::pg_catalog.timestamptz, r.open_ts) END,
       r.wave_seq, (r.wave_p OPERATOR(pg_catalog.->>) 'toWave')::pg_catalog.int4,
       r.state_seq, r.state_p OPERATOR(pg_catalog.->>) 'to',
       r.terminal_seq, (r.terminal_p OPERATOR(pg_catalog.->>) 'at')::pg_catalog.timestamptz,
       r.superseded_seq, (r.superseded_p OPERATOR(pg_catalog.->>) 'at')::pg_catalog.timestamptz,
       r.early_seqs
  FROM regs r;

DELETE FROM evlog.rollouts;
INSERT INTO evlog.rollouts (rollout_id, channel, target_ref, state, current_wave, opened_event_log_seq,
                            last_transition_event_log_seq, opened_at, terminal_at, superseded_at)
SELECT s.rollout_id, s.channel, s.target_ref,
       CASE WHEN s.state_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.state ELSE 'Opening' END,
       CASE WHEN s.wave_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.wave ELSE 0 END,
       s.open_seq,
       CASE WHEN s.state_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.state_seq END,
       s.opened_at,
       CASE WHEN s.terminal_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.terminal_at END,
       CASE WHEN s.superseded_seq OPERATOR(pg_catalog.>) s.open_seq THEN s.superseded_at END
  FROM evlog.rollout_state s
 WHERE s.open_seq IS NOT NULL;

DELETE FROM evlog.derived_skips WHERE view OPERATOR(pg_catalog.=) 'rollouts';
INSERT INTO evlog.derived_skips (event_log_seq, view, reason)
SELECT x.s, 'rollouts', 'unknown_rollout'
  FROM evlog.rollout_state s, pg_catalog.unnest(s.early_seqs) AS x(s)
UNION ALL
SELECT e.seq, 'rollouts', 'duplicate_open'
  FROM evlog.event_log e
  JOIN evlog.rollout_state s
    ON s.rollout_id OPERATOR(pg_catalog.=) COALESCE(e.payload OPERATOR(pg_catalog.->>) 'rolloutId', e.rollout_id)
 WHERE e.kind OPERATOR(pg_catalog.=) 'rollout_event'
   AND pg_catalog.jsonb_typeof(e.payload) OPERATOR(pg_catalog.=) 'object'
   AND e.payload OPERATOR(pg_catalog.->>) 'kind' OPERATOR(pg_catalog.=) 'RolloutOpened'
   AND e.seq OPERATOR(pg_catalog.>) s.open_seq;

/*
 * The derived tables' foreign keys to evlog.event_log become triggers.  A
 * foreign key to the partitioned log checks each derived row with a query
 * on the partitioned table (about 36 us a row), and every ATTACH PARTITION
 * takes SHARE ROW EXCLUSIVE on each referencing table.  The trigger keeps
 * the guarantee (a derived row names an event in the log) and skips the
 * lookup for the rows the derive rules write for the event being appended,
 * which is in the log by construction (src/derive_trigger.c).
 */
ALTER TABLE evlog.probe_failures DROP CONSTRAINT probe_failures_event_log_seq_fkey;
ALTER TABLE evlog.rollouts DROP CONSTRAINT rollouts_opened_event_log_seq_fkey;
ALTER TABLE evlog.rollouts DROP CONSTRAINT rollouts_last_transition_event_log_seq_fkey;
ALTER TABLE evlog.host_states DROP CONSTRAINT host_states_event_log_seq_fkey;
ALTER TABLE evlog.derived_skips DROP CONSTRAINT derived_skips_event_log_seq_fkey;

CREATE FUNCTION evlog.derived_seq_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_derived_seq_check'
LANGUAGE C;
COMMENT ON FUNCTION evlog.derived_seq_check() IS
    'trigger: the seq columns named in its arguments are NULL or seqs of events in evlog.event_log (the derived tables'' foreign keys until 1.1)';
REVOKE ALL ON FUNCTION evlog.derived_seq_check() FROM PUBLIC;

CREATE TRIGGER probe_failures_event_exists AFTER INSERT OR UPDATE OF event_log_seq ON evlog.probe_failures
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('event_log_seq');
CREATE TRIGGER rollouts_events_exist
    AFTER INSERT OR UPDATE OF opened_event_log_seq, last_transition_event_log_seq ON evlog.rollouts
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('opened_event_log_seq', 'last_transition_event_log_seq');
CREATE TRIGGER host_states_event_exists AFTER INSERT OR UPDATE OF event_log_seq ON evlog.host_states
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('event_log_seq');
CREATE TRIGGER derived_skips_event_exists AFTER INSERT OR UPDATE OF event_log_seq ON evlog.derived_skips
    FOR EACH ROW EXECUTE FUNCTION evlog.derived_seq_check('event_log_seq');
COMMENT ON TRIGGER probe_failures_event_exists ON evlog.probe_failures IS 'event_log_seq names an event in the log';
COMMENT ON TRIGGER rollouts_events_exist ON evlog.rollouts IS 'opened_event_log_seq and last_transition_event_log_seq name events in the log';
COMMENT ON TRIGGER host_states_event_exists ON evlog.host_states IS 'event_log_seq names an event in the log';
COMMENT ON TRIGGER derived_skips_event_exists ON evlog.derived_skips IS 'event_log_seq names an event in the log';
