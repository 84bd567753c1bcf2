/*
 * evlog--1.1--1.2.sql — update evlog 1.1 to 1.2.  A fresh CREATE EXTENSION
 * evlog runs evlog--1.0.sql, evlog--1.0--1.1.sql and then this script.
 *
 * What changes (one section per concern below).
 *   - derived tables in seq order: evlog.rollout_state keeps each rollout's
 *     registers so evlog.rollouts equals a replay in seq order whatever the
 *     commit order; filled by rebuilding the rollouts view.
 *     evlog_verify(view, replay_order) replays in reverse to expose
 *     order-dependent user-view handlers.
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

-- registers for the rollouts already in the log, and rollouts rows and
-- skips as a replay in seq order has them
SELECT @extschema@.evlog_rebuild('rollouts')
 WHERE EXISTS (SELECT FROM evlog.rollouts)
    OR EXISTS (SELECT FROM evlog.derived_skips s WHERE s.view OPERATOR(pg_catalog.=) 'rollouts');
