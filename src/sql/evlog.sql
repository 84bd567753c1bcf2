/*
 * src/sql/evlog.sql — the complete evlog schema at the current version
 * (evlog.control's default_version).  The Makefile copies it to
 * evlog--<version>.sql (DATA_built, not in git), which a fresh
 * CREATE EXTENSION evlog runs alone.  It lives under src/ because sql/
 * holds the pg_regress tests.
 *
 * Two ways reach the current version, and they must end with the same
 * extension:
 *   - this file, for a fresh install: every object in its final shape, in
 *     one pass, nothing renamed, no system catalog written (the GRANTs and
 *     REVOKEs below are recorded as initial privileges by PostgreSQL
 *     itself, as for any extension script);
 *   - evlog--1.0.sql and the update scripts evlog--X--Y.sql, for databases
 *     created at an earlier version (CREATE EXTENSION evlog VERSION '1.0'
 *     runs them too, through ALTER EXTENSION evlog UPDATE).
 * t/017_fresh_install.pl compares the two object by object.  An object
 * added or changed in an update script is added or changed here too, in
 * its final form; the test names whatever is missing.
 *
 * Layout: tables and views live in the schema "evlog", created here (so the
 * install fails, rather than adopting anything, if a schema of that name is
 * already present).  SQL-callable functions live in the schema the extension
 * is created in (@extschema@, "public" by default), named evlog_*.
 *
 * Script safety (PostgreSQL docs, "Security Considerations for Extension
 * Scripts"): every object is created with plain CREATE, never CREATE OR
 * REPLACE / IF NOT EXISTS; every reference is schema-qualified; operators in
 * function bodies are spelled OPERATOR(pg_catalog.x); plpgsql functions pin
 * search_path.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION evlog" to load this file. \quit

CREATE SCHEMA evlog;
COMMENT ON SCHEMA evlog IS 'evlog: the canonical event log, its kinds and derived tables';

/* ------------------------------------------------------------------------
 * Kinds
 * ------------------------------------------------------------------------ */

CREATE TABLE evlog.kinds (
    kind        text PRIMARY KEY,
    description text
);
COMMENT ON TABLE evlog.kinds IS 'registered event kinds; evlog_append refuses any other kind';
COMMENT ON COLUMN evlog.kinds.kind IS 'kind name as written to evlog.event_log.kind';
COMMENT ON COLUMN evlog.kinds.description IS 'what events of this kind record';
COMMENT ON INDEX evlog.kinds_pkey IS 'one row per kind';

INSERT INTO evlog.kinds (kind, description) VALUES
    ('agent_event',    'inbound event reported by an agent (e.g. ProbeResult, DispatchAck)'),
    ('plan_action',    'output of the planner: an action it decided to take'),
    ('effect',         'effect emitted by a reducer (e.g. RecordTransition, RecordRolloutTransition)'),
    ('gate_decision',  'one gate evaluation (channel edges, disruption budget, ...)'),
    ('verify_outcome', 'signature-verification outcome (manifest, revocations, bootstrap nonces)'),
    ('manifest_poll',  'outcome of a channel_refs poll'),
    ('rollout_event',  'rollout-level state transition (e.g. RolloutOpened, WaveAdvanced)'),
    ('gap',            'sentinel: accepted events were lost; payload gives the range and count'),
    ('retention',      'evlog_prune removed old events: payload gives the cut, the seq range, the count and the partitions dropped');

/*
 * An append checks its kind against evlog.kinds.  Backends keep the kinds
 * they found in a local cache (catcache.c) instead of scanning the table
 * on every append; this trigger makes an UPDATE, DELETE or TRUNCATE of
 * evlog.kinds reset that cache in every backend (a relcache invalidation
 * of evlog.kinds, sent at commit).  An INSERT needs none: a kind not in the
 * cache is looked up.  ENABLE ALWAYS: a kind removed by logical replication
 * apply or a restore must reach the caches too.
 */
CREATE FUNCTION evlog.kinds_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_kinds_changed'
LANGUAGE C;
COMMENT ON FUNCTION evlog.kinds_changed() IS 'trigger: tells every backend to forget the registered kinds it has cached';
REVOKE ALL ON FUNCTION evlog.kinds_changed() FROM PUBLIC;

CREATE TRIGGER kinds_changed
    AFTER UPDATE OR DELETE OR TRUNCATE ON evlog.kinds
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.kinds_changed();
ALTER TABLE evlog.kinds ENABLE ALWAYS TRIGGER kinds_changed;
COMMENT ON TRIGGER kinds_changed ON evlog.kinds IS 'resets the backends'' caches of registered kinds (catcache.c)';

/* ------------------------------------------------------------------------
 * The canonical log, partitioned by RANGE (seq)
 *
 * Partitions are not extension members: pg_dump dumps each one
 * (definition, ATTACH, rows), and CREATE EXTENSION on restore creates the
 * parent alone.  The first append creates the first partition
 * (src/partition.c).  event_id uniqueness lives in evlog.event_ids: a
 * unique index on a seq-partitioned table cannot cover event_id.
 * ------------------------------------------------------------------------ */

/*
 * seq has no DEFAULT: it is assigned by evlog's C append path from
 * evlog.event_log_seq_seq (see src/log_writer.c for why allocation goes
 * through one function), and replicated or restored rows bring their own.
 */
CREATE SEQUENCE evlog.event_log_seq_seq AS bigint START 1 NO CYCLE;

CREATE TABLE evlog.event_log (
    seq        bigint NOT NULL,
    ts         timestamptz NOT NULL,
    kind       text NOT NULL,
    host_id    text,
    rollout_id text,
    payload    jsonb NOT NULL,
    event_id   text,
    CONSTRAINT event_log_pkey PRIMARY KEY (seq)
) PARTITION BY RANGE (seq);
ALTER SEQUENCE evlog.event_log_seq_seq OWNED BY evlog.event_log.seq;

CREATE INDEX event_log_host_ts_idx    ON evlog.event_log (host_id, ts);
CREATE INDEX event_log_rollout_seq_idx ON evlog.event_log (rollout_id, seq);
CREATE INDEX event_log_kind_ts_idx    ON evlog.event_log (kind, ts);
CREATE INDEX event_log_ts_brin_idx    ON evlog.event_log USING brin (ts);
-- lookups by event_id (the uniqueness itself is evlog.event_ids'); events
-- without one, most of them, are not in it and cost no index entry
CREATE INDEX event_log_event_id_idx   ON evlog.event_log (event_id) WHERE event_id IS NOT NULL;
-- The host stream's head, read by seq (the (host_id, ts) index orders by
-- ts).  On the partitioned parent: every partition gets its copy, and so do
-- the partitions evlog_create_partitions makes later.
CREATE INDEX event_log_host_seq_idx ON evlog.event_log (host_id, seq);

COMMENT ON TABLE evlog.event_log IS 'append-only canonical event log, partitioned by seq range; write it with evlog_append*, never UPDATE/DELETE/TRUNCATE; old partitions leave only through evlog_prune';
COMMENT ON COLUMN evlog.event_log.seq IS 'position in the log, strictly increasing in append order; the partition key';
COMMENT ON COLUMN evlog.event_log.ts IS 'caller-supplied event time (no default: a frozen test clock never mixes with wall-clock rows)';
COMMENT ON COLUMN evlog.event_log.kind IS 'registered kind (evlog.kinds)';
COMMENT ON COLUMN evlog.event_log.host_id IS 'host the event concerns, if any';
COMMENT ON COLUMN evlog.event_log.rollout_id IS 'rollout the event concerns, if any';
COMMENT ON COLUMN evlog.event_log.payload IS 'event body, always a JSON object, validated at append';
COMMENT ON COLUMN evlog.event_log.event_id IS 'optional idempotency key: a retried append with the same key lands once (unique through evlog.event_ids)';
COMMENT ON INDEX evlog.event_log_host_ts_idx IS 'per-host reads by time';
COMMENT ON INDEX evlog.event_log_rollout_seq_idx IS 'per-rollout reads in log order';
COMMENT ON INDEX evlog.event_log_kind_ts_idx IS 'per-kind reads by time';
COMMENT ON INDEX evlog.event_log_ts_brin_idx IS 'time-range reads (since/until) over the whole log';
COMMENT ON INDEX evlog.event_log_pkey IS 'one row per seq; reads in log order';
COMMENT ON INDEX evlog.event_log_event_id_idx IS 'reads by event_id (rows that have one); uniqueness is kept by evlog.event_ids';
COMMENT ON INDEX evlog.event_log_host_seq_idx IS
    'a host''s stream in seq order: its head for conditional appends, evlog_stream_head and evlog_stream_read';
COMMENT ON SEQUENCE evlog.event_log_seq_seq IS 'source of evlog.event_log.seq; advanced only by evlog''s append path';

/*
 * Append-only, for every role including the owner: privileges alone are not
 * enough (owners and pg_write_all_data bypass REVOKE), so row and statement
 * triggers refuse the change.  ENABLE ALWAYS keeps them firing under
 * session_replication_role = replica too.  The trigger functions are C so
 * that evlog_prune, and nothing else, can remove old partitions, chain
 * links and event_id entries.  Row triggers on the parent are cloned to
 * every partition.
 */
CREATE FUNCTION evlog.refuse_change() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_refuse_change'
LANGUAGE C;
COMMENT ON FUNCTION evlog.refuse_change() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE on evlog.event_log';
CREATE FUNCTION evlog.refuse_chain_change() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_refuse_chain_change'
LANGUAGE C;
COMMENT ON FUNCTION evlog.refuse_chain_change() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE on evlog.chain, evlog.chain_anchor and evlog.event_ids (evlog_prune alone removes links and entries of pruned events)';

CREATE TRIGGER event_log_no_update_delete
    BEFORE UPDATE OR DELETE ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION evlog.refuse_change();
CREATE TRIGGER event_log_no_truncate
    BEFORE TRUNCATE ON evlog.event_log
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_change();
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_update_delete;
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_truncate;

/*
 * pg_dump must carry the log, its seq position and user-registered kinds.
 * The log's rows are in its partitions, which are not extension members and
 * are dumped like any table; the partitioned parent itself holds no rows.
 */
SELECT pg_catalog.pg_extension_config_dump('evlog.event_log_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('evlog.kinds',
    $$WHERE kind NOT IN ('agent_event', 'plan_action', 'effect', 'gate_decision',
                         'verify_outcome', 'manifest_poll', 'rollout_event', 'gap', 'retention')$$);

/* event_id uniqueness: a side table */
CREATE TABLE evlog.event_ids (
    event_id text PRIMARY KEY,
    seq      bigint NOT NULL
);
CREATE INDEX event_ids_seq_idx ON evlog.event_ids (seq);
COMMENT ON TABLE evlog.event_ids IS 'event_id of every event that has one, and its seq: the idempotency guarantee (written by the append path, pruned with its events)';
COMMENT ON COLUMN evlog.event_ids.event_id IS 'evlog.event_log.event_id';
COMMENT ON COLUMN evlog.event_ids.seq IS 'seq of the event carrying it';
COMMENT ON INDEX evlog.event_ids_pkey IS 'event_id is unique in the log';
COMMENT ON INDEX evlog.event_ids_seq_idx IS 'pruning removes entries by seq';

CREATE TRIGGER event_ids_no_update_delete
    BEFORE UPDATE OR DELETE ON evlog.event_ids
    FOR EACH ROW EXECUTE FUNCTION evlog.refuse_chain_change();
CREATE TRIGGER event_ids_no_truncate
    BEFORE TRUNCATE ON evlog.event_ids
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_chain_change();
ALTER TABLE evlog.event_ids ENABLE ALWAYS TRIGGER event_ids_no_update_delete;
ALTER TABLE evlog.event_ids ENABLE ALWAYS TRIGGER event_ids_no_truncate;
-- the derive trigger does not regenerate it on restore: dump it
SELECT pg_catalog.pg_extension_config_dump('evlog.event_ids', '');

/* ------------------------------------------------------------------------
 * Derived tables (C: src/derive.c rules, src/derive_trigger.c trigger,
 * src/rebuild.c rebuild/verify)
 *
 * Every derived row is written by the AFTER INSERT trigger on
 * evlog.event_log, in the transaction that appends its event, and carries
 * that event's seq.  evlog_rebuild() replays the log through the same C
 * rules and must produce the same rows.
 *
 * pg_dump: these tables are deliberately NOT marked with
 * pg_extension_config_dump.  Restoring evlog.event_log re-fires the
 * (ENABLE ALWAYS) derive trigger, which regenerates every derived row; dumping
 * them as well would restore each row twice.
 *
 * No foreign keys to the partitioned log: a foreign key checks each
 * derived row with a query on the partitioned table, and every ATTACH
 * PARTITION would take SHARE ROW EXCLUSIVE on each referencing table.
 * evlog.derived_seq_check triggers keep the guarantee (a derived row names
 * an event in the log) and skip the lookup for the rows the derive rules
 * write for the event being appended (src/derive_trigger.c).
 * ------------------------------------------------------------------------ */

CREATE TABLE evlog.probe_failures (
    id            bigserial PRIMARY KEY,
    event_log_seq bigint NOT NULL,
    rollout_id    text,
    host_id       text,
    probe_name    text NOT NULL,
    control_id    text,
    framework     text,
    observed_at   timestamptz NOT NULL
);
CREATE INDEX probe_failures_rollout_host_control_idx
    ON evlog.probe_failures (rollout_id, host_id, control_id);
CREATE INDEX probe_failures_event_log_seq_idx ON evlog.probe_failures (event_log_seq);
COMMENT ON TABLE evlog.probe_failures IS 'derived: enforce-mode probe failures (one row per failing enforce-mode sub-result, or one per failing enforce-mode probe without sub-results)';
COMMENT ON COLUMN evlog.probe_failures.id IS 'row id; not stable across evlog_rebuild';
COMMENT ON COLUMN evlog.probe_failures.event_log_seq IS 'seq of the ProbeResult event this row comes from';
COMMENT ON COLUMN evlog.probe_failures.rollout_id IS 'rollout_id of the event row';
COMMENT ON COLUMN evlog.probe_failures.host_id IS 'host_id of the event row';
COMMENT ON COLUMN evlog.probe_failures.probe_name IS 'payload probeName';
COMMENT ON COLUMN evlog.probe_failures.control_id IS 'sub-result controlId; NULL for a probe without sub-results';
COMMENT ON COLUMN evlog.probe_failures.framework IS 'sub-result framework; NULL for a probe without sub-results';
COMMENT ON COLUMN evlog.probe_failures.observed_at IS 'payload observedAt';
COMMENT ON INDEX evlog.probe_failures_rollout_host_control_idx IS 'the compliance gate''s lookup';
COMMENT ON INDEX evlog.probe_failures_event_log_seq_idx IS 'from an event to its failures; keeps the foreign key cheap to check';
COMMENT ON INDEX evlog.probe_failures_pkey IS 'one row per id';
COMMENT ON SEQUENCE evlog.probe_failures_id_seq IS 'source of evlog.probe_failures.id';

CREATE TABLE evlog.rollouts (
    rollout_id                    text PRIMARY KEY,
    channel                       text,
    target_ref                    text,
    state                         text NOT NULL,
    current_wave                  integer NOT NULL,
    opened_event_log_seq          bigint NOT NULL,
    last_transition_event_log_seq bigint,
    opened_at                     timestamptz NOT NULL,
    terminal_at                   timestamptz,
    superseded_at                 timestamptz
);
COMMENT ON TABLE evlog.rollouts IS 'derived: one row per rollout opened in the log (seed 003 RolloutRecord)';
COMMENT ON COLUMN evlog.rollouts.rollout_id IS 'RolloutOpened rolloutId (or the event row''s rollout_id)';
COMMENT ON COLUMN evlog.rollouts.channel IS 'RolloutOpened channel';
COMMENT ON COLUMN evlog.rollouts.target_ref IS 'RolloutOpened targetRef';
COMMENT ON COLUMN evlog.rollouts.state IS 'Opening at creation, then the "to" of the latest RecordRolloutTransition';
COMMENT ON COLUMN evlog.rollouts.current_wave IS '0 at creation, then toWave of the latest WaveAdvanced';
COMMENT ON COLUMN evlog.rollouts.opened_event_log_seq IS 'seq of the RolloutOpened event';
COMMENT ON COLUMN evlog.rollouts.last_transition_event_log_seq IS 'seq of the latest RecordRolloutTransition applied (a transition only applies if its seq is higher)';
COMMENT ON COLUMN evlog.rollouts.opened_at IS 'RolloutOpened "at" (the event ts when absent)';
COMMENT ON COLUMN evlog.rollouts.terminal_at IS '"at" of the latest transition to Terminal';
COMMENT ON COLUMN evlog.rollouts.superseded_at IS '"at" of the latest transition to Superseded';
COMMENT ON INDEX evlog.rollouts_pkey IS 'one row per rollout';

CREATE TABLE evlog.host_states (
    rollout_id    text NOT NULL,
    host_id       text NOT NULL,
    state         text NOT NULL,
    since         timestamptz NOT NULL,
    event_log_seq bigint NOT NULL,
    PRIMARY KEY (rollout_id, host_id)
);
COMMENT ON TABLE evlog.host_states IS 'derived: each host''s latest state per rollout, from RecordTransition effects';
COMMENT ON COLUMN evlog.host_states.rollout_id IS 'payload rollout_id (or the event row''s rollout_id)';
COMMENT ON COLUMN evlog.host_states.host_id IS 'payload host (or the event row''s host_id)';
COMMENT ON COLUMN evlog.host_states.state IS 'payload "to" of the latest RecordTransition (highest seq wins)';
COMMENT ON COLUMN evlog.host_states.since IS 'payload "at" of that transition';
COMMENT ON COLUMN evlog.host_states.event_log_seq IS 'seq of that RecordTransition event';
COMMENT ON INDEX evlog.host_states_pkey IS 'one row per (rollout, host)';

/*
 * Events that feed a derived table but change nothing (a transition or wave
 * for a rollout that was never opened, a second RolloutOpened) are not
 * errors: they are recorded here, one row per event and view, so that they
 * are counted, rebuilt and verified like any other derived row, and no
 * appender ever updates a shared counter row.
 */
CREATE TABLE evlog.derived_skips (
    event_log_seq bigint NOT NULL,
    view          text NOT NULL,
    reason        text NOT NULL,
    PRIMARY KEY (event_log_seq, view)
);
COMMENT ON TABLE evlog.derived_skips IS 'derived: events that fed a derived table but changed nothing (counted, not errors)';
COMMENT ON COLUMN evlog.derived_skips.event_log_seq IS 'seq of the skipped event';
COMMENT ON COLUMN evlog.derived_skips.view IS 'derived table the event was skipped for';
COMMENT ON COLUMN evlog.derived_skips.reason IS 'unknown_rollout or duplicate_open';
COMMENT ON INDEX evlog.derived_skips_pkey IS 'one row per event and view';

CREATE VIEW evlog.derived_stats WITH (security_invoker = true) AS
    SELECT s.view, s.reason, pg_catalog.count(*) AS events,
           pg_catalog.max(s.event_log_seq) AS last_event_log_seq
      FROM evlog.derived_skips s
     GROUP BY s.view, s.reason;
COMMENT ON VIEW evlog.derived_stats IS 'per derived table and reason: how many events changed nothing, and the latest';
COMMENT ON COLUMN evlog.derived_stats.view IS 'derived table';
COMMENT ON COLUMN evlog.derived_stats.reason IS 'unknown_rollout or duplicate_open';
COMMENT ON COLUMN evlog.derived_stats.events IS 'number of such events';
COMMENT ON COLUMN evlog.derived_stats.last_event_log_seq IS 'seq of the latest such event';

/*
 * User-registered derived views.  Registrations ARE dumped (they are
 * configuration, not derived data); the user's own table is an ordinary
 * table that pg_dump handles as usual.
 */
CREATE TABLE evlog.derived_views (
    name          text PRIMARY KEY
                  CHECK (name OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]{0,62}$'
                         AND name OPERATOR(pg_catalog.<>) ALL (ARRAY['probe_failures', 'rollouts', 'host_states', 'all'])),
    handler       regprocedure NOT NULL,
    target        regclass NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE evlog.derived_views IS 'user-registered derived views: handler(evlog.event_log) is called for every appended event and maintains target';
COMMENT ON COLUMN evlog.derived_views.name IS 'view name, as passed to evlog_rebuild / evlog_verify';
COMMENT ON COLUMN evlog.derived_views.handler IS 'function(evlog.event_log) RETURNS void, called once per event in the appending transaction';
COMMENT ON COLUMN evlog.derived_views.target IS 'table the handler maintains; evlog_rebuild empties it before replaying';
COMMENT ON COLUMN evlog.derived_views.registered_at IS 'when the view was registered';
COMMENT ON INDEX evlog.derived_views_pkey IS 'one row per view name';
SELECT pg_catalog.pg_extension_config_dump('evlog.derived_views', '');

-- evlog_prune deletes by these: index them
CREATE INDEX rollouts_opened_event_log_seq_idx ON evlog.rollouts (opened_event_log_seq);
CREATE INDEX host_states_event_log_seq_idx ON evlog.host_states (event_log_seq);
COMMENT ON INDEX evlog.rollouts_opened_event_log_seq_idx IS 'pruning finds the rollouts opened by pruned events';
COMMENT ON INDEX evlog.host_states_event_log_seq_idx IS 'pruning finds the states set by pruned events';

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

/* The derived tables' foreign keys to the log, as triggers (see above). */
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

CREATE FUNCTION evlog.derive_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_derive_trigger'
LANGUAGE C;
COMMENT ON FUNCTION evlog.derive_trigger() IS 'trigger: maintains every derived table for each appended event, in the same transaction';

/*
 * No WHEN clause, on purpose: evlog's writer builds a fresh ResultRelInfo per
 * append, so a WHEN expression would be re-prepared for every row (measured:
 * far slower than firing the trigger).  The C trigger's own fast path skips
 * events of kinds no derived table reads.
 */
CREATE TRIGGER event_log_derive
    AFTER INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION evlog.derive_trigger();
-- logical replication apply runs with session_replication_role = replica
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_derive;

CREATE FUNCTION evlog.derived_views_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_derived_views_changed'
LANGUAGE C;
COMMENT ON FUNCTION evlog.derived_views_changed() IS 'trigger: tells every backend to reload its cached list of user-registered views';

CREATE TRIGGER derived_views_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON evlog.derived_views
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.derived_views_changed();
ALTER TABLE evlog.derived_views ENABLE ALWAYS TRIGGER derived_views_changed;

CREATE FUNCTION @extschema@.evlog_rebuild(view text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_rebuild'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_rebuild(text) IS
    'empty a derived table (probe_failures, rollouts, host_states, a registered view, or all) and replay the log into it in seq order; returns rows written';

CREATE FUNCTION @extschema@.evlog_verify(view text)
RETURNS TABLE (view text, difference text, "row" jsonb)
AS 'MODULE_PATHNAME', 'evlog_verify'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_verify(text) IS
    'rows that differ between a derived table and a fresh replay of the log: missing (replay has it, table does not) or unexpected (table has it, replay does not); no rows when consistent';

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
 * Progress of evlog_rebuild and evlog_verify (src/progress.c): a small
 * shared-memory array, one slot per backend, which each call writes and
 * any session reads; pg_stat_activity.query keeps the caller's query.  The
 * array exists when evlog is in shared_preload_libraries; without it these
 * show no rows, and the calls still report each phase to their caller as
 * NOTICEs.
 */
CREATE FUNCTION @extschema@.evlog_progress(
    OUT pid integer, OUT command text, OUT target text, OUT phase text,
    OUT events_done bigint, OUT events_total bigint, OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'evlog_progress'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_progress() IS
    'long evlog operations running in this database (evlog_rebuild, evlog_verify), one row per backend; no rows unless evlog is in shared_preload_libraries';

CREATE VIEW evlog.progress AS
SELECT p.pid, p.command, p.target, p.phase, p.events_done, p.events_total, p.started_at
  FROM @extschema@.evlog_progress() p;
COMMENT ON VIEW evlog.progress IS
    'long evlog operations running in this database, one row per backend (needs shared_preload_libraries = ''evlog''; otherwise empty, and the operations report to their caller as NOTICEs)';
COMMENT ON COLUMN evlog.progress.pid IS 'backend running the operation';
COMMENT ON COLUMN evlog.progress.command IS 'evlog_rebuild or evlog_verify';
COMMENT ON COLUMN evlog.progress.target IS 'derived table or registered view being worked on (all: the built-in tables together)';
COMMENT ON COLUMN evlog.progress.phase IS 'replay (from a snapshot), catch-up (log locked, applying events committed meanwhile), swap (replacing the table''s rows), verify';
COMMENT ON COLUMN evlog.progress.events_done IS 'events read so far in this phase';
COMMENT ON COLUMN evlog.progress.events_total IS 'upper bound on the events to read (seq span of the log)';
COMMENT ON COLUMN evlog.progress.started_at IS 'when work on this target started';

-- evlog.progress with the column names evlog 1.0 gave it
CREATE VIEW evlog.rebuild_progress AS
SELECT p.pid, p.target AS view, p.phase, p.events_done, p.events_total, p.started_at
  FROM @extschema@.evlog_progress() p;
COMMENT ON VIEW evlog.rebuild_progress IS
    'running evlog_rebuild / evlog_verify calls: evlog.progress with the 1.0 column names, kept for existing callers';
COMMENT ON COLUMN evlog.rebuild_progress.pid IS 'backend running the rebuild';
COMMENT ON COLUMN evlog.rebuild_progress.view IS 'derived table being rebuilt';
COMMENT ON COLUMN evlog.rebuild_progress.phase IS 'replay (from a snapshot), catch-up (log locked, applying events committed meanwhile), swap (replacing the table''s rows), verify';
COMMENT ON COLUMN evlog.rebuild_progress.events_done IS 'events read so far in this phase';
COMMENT ON COLUMN evlog.rebuild_progress.events_total IS 'upper bound on the events to read (seq span of the log)';
COMMENT ON COLUMN evlog.rebuild_progress.started_at IS 'when this view''s rebuild started';

CREATE FUNCTION @extschema@.evlog_register_view(name text, handler regprocedure, target regclass,
                                                populate boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p pg_catalog.pg_proc;
BEGIN
    SELECT * INTO p FROM pg_catalog.pg_proc WHERE oid OPERATOR(pg_catalog.=) handler;
    IF p.pronargs OPERATOR(pg_catalog.<>) 1
       OR p.proargtypes[0] OPERATOR(pg_catalog.<>) 'evlog.event_log'::pg_catalog.regtype
       OR p.prorettype OPERATOR(pg_catalog.<>) 'pg_catalog.void'::pg_catalog.regtype
       OR p.proretset OR p.prokind OPERATOR(pg_catalog.<>) 'f' THEN
        RAISE EXCEPTION 'handler % has the wrong signature', handler
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A derived-view handler is a function taking one evlog.event_log row and returning void.',
                  HINT = 'CREATE FUNCTION my_handler(e evlog.event_log) RETURNS void ...';
    END IF;
    -- the handler runs in appending sessions: a search_path of its own that
    -- does not end with pg_temp would find an appender's temporary tables
    -- first (the append refuses to call such a handler: src/derive.c)
    IF EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) AS c(setting)
                WHERE c.setting OPERATOR(pg_catalog.~~) 'search_path=%'
                  AND pg_catalog.btrim(pg_catalog.regexp_replace(pg_catalog.substr(c.setting, 13), '^.*,', ''), ' "')
                      OPERATOR(pg_catalog.<>) 'pg_temp') THEN
        RAISE EXCEPTION 'handler % sets a search_path that does not end with pg_temp', handler
            USING ERRCODE = 'invalid_function_definition',
                  DETAIL = 'The handler runs in the appending session, whose temporary tables such a search_path finds first.',
                  HINT = 'ALTER FUNCTION ... SET search_path = ..., pg_temp; or drop the SET clause and name tables with their schema.';
    END IF;
    IF name IS NULL OR name OPERATOR(pg_catalog.!~) '^[a-z][a-z0-9_]{0,62}$'
       OR name OPERATOR(pg_catalog.=) ANY (ARRAY['probe_failures', 'rollouts', 'host_states', 'all']) THEN
        RAISE EXCEPTION 'invalid or reserved view name %', pg_catalog.quote_nullable(name)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A view name is 1 to 63 lower-case letters, digits or underscores, starting with a letter, and not probe_failures, rollouts, host_states or all.';
    END IF;
    IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) target)
       NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', target USING ERRCODE = 'wrong_object_type';
    END IF;
    INSERT INTO evlog.derived_views (name, handler, target)
    VALUES (evlog_register_view.name, evlog_register_view.handler, evlog_register_view.target);
    IF populate THEN
        RETURN @extschema@.evlog_rebuild(evlog_register_view.name);
    END IF;
    RETURN 0;
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_register_view(text, regprocedure, regclass, boolean) IS
    'register a user derived view: handler(evlog.event_log) is then called for every appended event in the appending transaction; populate replays the existing log into target (returns rows written)';

CREATE FUNCTION @extschema@.evlog_unregister_view(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM evlog.derived_views v WHERE v.name OPERATOR(pg_catalog.=) evlog_unregister_view.name;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_unregister_view(text) IS
    'stop calling a registered view''s handler (its table is left as it is); false if no such view';

/* ------------------------------------------------------------------------
 * Append (C: src/append.c)
 * ------------------------------------------------------------------------ */

CREATE FUNCTION @extschema@.evlog_append(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload text, event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_append_text'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append(text, timestamptz, text, text, text, text) IS
    'append one event (payload as JSON text, validated); returns its seq, or the stored seq when event_id was already appended with the same content';

CREATE FUNCTION @extschema@.evlog_append(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload jsonb, event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_append_jsonb'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text) IS
    'append one event (payload as jsonb); returns its seq, or the stored seq when event_id was already appended with the same content';

/* ------------------------------------------------------------------------
 * Batched append (C: src/batch.c, src/log_writer.c)
 * ------------------------------------------------------------------------ */

CREATE FUNCTION @extschema@.evlog_append_batch(entries jsonb)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'evlog_append_batch_jsonb'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append_batch(jsonb) IS
    'append a JSON array of events ({kind, ts, host_id, rollout_id, payload, event_id}) all or nothing; returns their seqs in input order (new rows contiguous; an event_id already stored, or earlier in the batch, returns that seq)';

CREATE FUNCTION @extschema@.evlog_append_batch(
    kinds text[], ts timestamptz[], host_ids text[], rollout_ids text[],
    payloads jsonb[], event_ids text[] DEFAULT NULL)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'evlog_append_batch_arrays'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[]) IS
    'append events given as parallel arrays (element i of each is entry i; a NULL host_ids, rollout_ids or event_ids means all NULL) all or nothing; returns their seqs in input order';

/* ------------------------------------------------------------------------
 * Loading with COPY (1.4; C: src/copy_load.c)
 * ------------------------------------------------------------------------ */

/*
 * COPY evlog.append_copy FROM ... (or INSERT INTO evlog.append_copy
 * SELECT ...) appends every row as evlog_append(kind, ts, host_id,
 * rollout_id, payload, event_id) would, all or nothing, through the batch
 * writer.  The view has no rows; its triggers do the work.  INSERT on it is
 * the permission to load (evlog_grant_writer grants it), and the trigger
 * function refuses to fire on any other relation.
 */
CREATE VIEW evlog.append_copy AS
SELECT NULL::text AS kind, NULL::timestamptz AS ts, NULL::text AS host_id,
       NULL::text AS rollout_id, NULL::jsonb AS payload, NULL::text AS event_id
 WHERE false;
COMMENT ON VIEW evlog.append_copy IS
    'COPY or INSERT events here to append them as evlog_append would, all or nothing, in input order (always empty when read)';
COMMENT ON COLUMN evlog.append_copy.kind IS 'a registered kind (evlog.kinds)';
COMMENT ON COLUMN evlog.append_copy.ts IS 'when the event happened';
COMMENT ON COLUMN evlog.append_copy.host_id IS 'host the event is about, or NULL';
COMMENT ON COLUMN evlog.append_copy.rollout_id IS 'rollout the event is about, or NULL';
COMMENT ON COLUMN evlog.append_copy.payload IS 'the event, a JSON object';
COMMENT ON COLUMN evlog.append_copy.event_id IS 'idempotency key, or NULL: a row whose event_id is already in the log (same event) is not written again';

CREATE FUNCTION evlog.append_copy_trigger() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_append_copy_trigger'
LANGUAGE C;
COMMENT ON FUNCTION evlog.append_copy_trigger() IS
    'trigger of evlog.append_copy: buffers the inserted rows and appends them through the batch writer; fires on that view only';
REVOKE ALL ON FUNCTION evlog.append_copy_trigger() FROM PUBLIC;

CREATE TRIGGER append_copy_begin
    BEFORE INSERT ON evlog.append_copy
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.append_copy_trigger();
COMMENT ON TRIGGER append_copy_begin ON evlog.append_copy IS 'starts a load with an empty buffer';
CREATE TRIGGER append_copy_row
    INSTEAD OF INSERT ON evlog.append_copy
    FOR EACH ROW EXECUTE FUNCTION evlog.append_copy_trigger();
COMMENT ON TRIGGER append_copy_row ON evlog.append_copy IS 'validates a row as evlog_append would and buffers it; a full buffer is appended';
CREATE TRIGGER append_copy_end
    AFTER INSERT ON evlog.append_copy
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.append_copy_trigger();
COMMENT ON TRIGGER append_copy_end ON evlog.append_copy IS 'appends what is left in the buffer and ends the load';

/*
 * Conditional append: optimistic concurrency on streams: the events of one rollout_id, or of
 * one host_id (src/stream.c, README "Conditional appends").  An append can
 * expect a stream's latest seq (0: the stream is empty) and is refused with
 * SQLSTATE EV001, nothing written and no seq spent, if the stream moved.
 * New overloads rather than new defaulted parameters on the existing
 * functions: adding a parameter would mean DROP + CREATE (grants and
 * dependants lost), and since the new parameters have no default and come
 * before event_id, every existing call still resolves to the old functions.
 * The host stream's head is read through evlog.event_log_host_seq_idx.
 */

CREATE FUNCTION @extschema@.evlog_append(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload text, expected_stream text, expected_seq bigint,
    event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_append_expected_text'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append(text, timestamptz, text, text, text, text, bigint, text) IS
    'conditional append (payload as JSON text): appends only if the stream expected_stream (''rollout'' or ''host'') of the event has expected_seq as its latest seq (0: empty; NULL: no check), else SQLSTATE EV001 with the latest seq in the detail; an event_id already appended returns its seq unchecked';

CREATE FUNCTION @extschema@.evlog_append(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload jsonb, expected_stream text, expected_seq bigint,
    event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_append_expected_jsonb'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text) IS
    'conditional append (payload as jsonb): see evlog_append(text, timestamptz, text, text, text, text, bigint, text)';

CREATE FUNCTION @extschema@.evlog_append_batch(
    kinds text[], ts timestamptz[], host_ids text[], rollout_ids text[],
    payloads jsonb[], expected_streams text[], expected_seqs bigint[],
    event_ids text[] DEFAULT NULL)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'evlog_append_batch_expected_arrays'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]) IS
    'conditional batch as parallel arrays: entry i expects expected_seqs[i] (NULL: none) on its expected_streams[i] stream; only the first entry of a stream can expect a seq, later ones -1 (the previous entry of the stream in the batch); all or nothing, EV001 if a stream moved';

-- evlog_enqueue writes later, in the background writer's transaction: a
-- check at call time would be stale by then and one at write time could
-- only dead-letter the event.  Refused rather than half-kept.
CREATE FUNCTION @extschema@.evlog_enqueue(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload jsonb, expected_stream text, expected_seq bigint,
    event_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF expected_seq IS NOT NULL THEN
        RAISE EXCEPTION 'evlog_enqueue cannot append conditionally'
            USING ERRCODE = '0A000',
                  DETAIL = 'The event is written later by the background writer, when the stream may have moved.',
                  HINT = 'Use evlog_append(..., expected_stream => ..., expected_seq => ...) for a conditional append.';
    END IF;
    RETURN @extschema@.evlog_enqueue(kind, ts, host_id, rollout_id, payload, event_id);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text) IS
    'refuses an expectation (SQLSTATE 0A000: the background writer appends too late to honour it); with expected_seq NULL, evlog_enqueue';

CREATE FUNCTION @extschema@.evlog_stream_head(stream text, id text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_stream_head'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.evlog_stream_head(text, text) IS
    'the latest seq of a stream (''rollout'' or ''host'', and its id) as the caller''s snapshot sees it, 0 if it has none: the expected_seq of the next conditional append';

CREATE FUNCTION @extschema@.evlog_stream_read(
    stream text, id text, after_seq bigint DEFAULT 0, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
AS 'MODULE_PATHNAME', 'evlog_stream_read'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_stream_read(text, text, bigint, integer) IS
    'a stream''s events after after_seq in seq order, at most max_rows, up to evlog_safe_seq() so that a late commit is never skipped';

/* ------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------ */

CREATE FUNCTION @extschema@.evlog_last_seq()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.max(e.seq), 0) FROM evlog.event_log e;
END;
COMMENT ON FUNCTION @extschema@.evlog_last_seq() IS 'highest seq visible to the caller; 0 on an empty log';

/*
 * A SQL-standard body (parsed once, at CREATE EXTENSION, so a later
 * search_path cannot change what it calls) that the planner inlines: with
 * constant arguments the "x IS NULL OR ..." arms fold away and each filter
 * reaches its index (sql/core_query.sql shows the plans).
 */
CREATE FUNCTION @extschema@.evlog_query(
    since      timestamptz DEFAULT NULL,
    until      timestamptz DEFAULT NULL,
    host_id    text DEFAULT NULL,
    rollout_id text DEFAULT NULL,
    kinds      text[] DEFAULT NULL,
    after_seq  bigint DEFAULT NULL,
    max_rows   integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT e.*
      FROM evlog.event_log e
     WHERE (since IS NULL OR e.ts OPERATOR(pg_catalog.>=) since)
       AND (until IS NULL OR e.ts OPERATOR(pg_catalog.<) until)
       AND (evlog_query.host_id IS NULL OR e.host_id OPERATOR(pg_catalog.=) evlog_query.host_id)
       AND (evlog_query.rollout_id IS NULL OR e.rollout_id OPERATOR(pg_catalog.=) evlog_query.rollout_id)
       AND (kinds IS NULL OR e.kind OPERATOR(pg_catalog.=) ANY (kinds))
       AND (after_seq IS NULL OR e.seq OPERATOR(pg_catalog.>) after_seq)
     ORDER BY e.seq
     LIMIT max_rows;
END;
COMMENT ON FUNCTION @extschema@.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer) IS
    'events matching every given filter (since <= ts < until, host, rollout, kinds, seq > after_seq), in seq order, at most max_rows (NULL: no limit)';

/* ------------------------------------------------------------------------
 * Late-commit-safe reading, consumers, push (C: src/read.c, src/seqs.c)
 * ------------------------------------------------------------------------ */

CREATE FUNCTION @extschema@.evlog_safe_seq()
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_safe_seq_sql'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_safe_seq() IS
    'highest seq below which nothing can still appear: every seq <= it is committed or will never exist';

CREATE FUNCTION @extschema@.evlog_read(after_seq bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
AS 'MODULE_PATHNAME', 'evlog_read'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_read(bigint, integer) IS
    'committed events with seq > after_seq, in seq order, stopping before the lowest seq still in flight; resume from the last seq received to get every event exactly once';

CREATE FUNCTION @extschema@.evlog_inflight(OUT seq bigint, OUT pid integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'evlog_inflight_sql'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_inflight() IS
    'transactions of this database holding seqs not yet committed: their lowest seq and backend pid (NULL for a prepared transaction)';

CREATE VIEW evlog.inflight AS
SELECT i.seq AS oldest_seq, i.pid, a.xact_start,
       pg_catalog.now() OPERATOR(pg_catalog.-) a.xact_start AS age,
       a.state, a.usename, a.application_name, a.query
  FROM @extschema@.evlog_inflight() i
  LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) i.pid
 ORDER BY i.seq;
COMMENT ON VIEW evlog.inflight IS 'what holds readers back: each transaction still holding seqs, oldest first, with its backend and age';
COMMENT ON COLUMN evlog.inflight.oldest_seq IS 'lowest seq the transaction appended; evlog_read stops just below it';
COMMENT ON COLUMN evlog.inflight.pid IS 'backend pid (NULL for a prepared transaction)';
COMMENT ON COLUMN evlog.inflight.xact_start IS 'when the transaction started';
COMMENT ON COLUMN evlog.inflight.age IS 'how long the transaction has been open';
COMMENT ON COLUMN evlog.inflight.state IS 'backend state (pg_stat_activity.state)';
COMMENT ON COLUMN evlog.inflight.usename IS 'role the backend runs as';
COMMENT ON COLUMN evlog.inflight.application_name IS 'the backend''s application_name';
COMMENT ON COLUMN evlog.inflight.query IS 'the backend''s current or last query';

/*
 * Named consumers with durable positions (at-least-once).  A consumer
 * belongs to the role that created it (owner, row-level security), its
 * functions run with the caller's rights, a role holds at most 100 of them,
 * names are 1 to 63 characters and unique per role (not across roles), and
 * a position never moves back (for its owner either).
 */
CREATE TABLE evlog.consumers (
    name       text NOT NULL,
    position   bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acked_at   timestamptz,
    owner      pg_catalog.regrole NOT NULL DEFAULT CURRENT_USER::pg_catalog.regrole,
    pruned_unread_upto bigint,
    -- names are per owner: a role cannot take a name another role will want
    -- (nor learn, from "already exists", which names other roles use)
    CONSTRAINT consumers_pkey PRIMARY KEY (owner, name)
);
COMMENT ON TABLE evlog.consumers IS 'named consumers and the seq each has acknowledged';
COMMENT ON COLUMN evlog.consumers.name IS 'consumer name';
COMMENT ON COLUMN evlog.consumers.position IS 'highest seq acknowledged; evlog_consumer_next returns rows after it';
COMMENT ON COLUMN evlog.consumers.created_at IS 'when the consumer was created';
COMMENT ON COLUMN evlog.consumers.acked_at IS 'when the consumer last acknowledged';
COMMENT ON COLUMN evlog.consumers.owner IS
    'role that created the consumer: only it, its members and superusers can read through it, acknowledge or drop it';
COMMENT ON COLUMN evlog.consumers.pruned_unread_upto IS
    'highest seq evlog_prune removed while this consumer had not acknowledged it (it was more than evlog.max_consumer_lag_events behind); NULL if none';
COMMENT ON INDEX evlog.consumers_pkey IS
    'one consumer of a name per role; also counts a role''s consumers (at most 100 each)';
SELECT pg_catalog.pg_extension_config_dump('evlog.consumers', '');

-- The consumer a name means for the caller: its own, else the one consumer
-- of that name it can see (a role it is a member of); NULL if none.
CREATE FUNCTION evlog.consumer_owner(consumer text) RETURNS pg_catalog.regrole
LANGUAGE plpgsql STABLE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owners pg_catalog.regrole[];
BEGIN
    SELECT pg_catalog.array_agg(c.owner ORDER BY c.owner::pg_catalog.oid) INTO owners
      FROM evlog.consumers c WHERE c.name OPERATOR(pg_catalog.=) consumer;
    IF owners IS NULL THEN
        RETURN NULL;
    END IF;
    IF CURRENT_USER::pg_catalog.regrole OPERATOR(pg_catalog.=) ANY (owners) THEN
        RETURN CURRENT_USER::pg_catalog.regrole;
    END IF;
    IF pg_catalog.cardinality(owners) OPERATOR(pg_catalog.>) 1 THEN
        RAISE EXCEPTION 'consumer name "%" is ambiguous', consumer
            USING ERRCODE = 'ambiguous_parameter',
                  DETAIL = pg_catalog.format('Roles %s each have a consumer of that name.',
                                             pg_catalog.array_to_string(owners::pg_catalog.text[], ', ')),
                  HINT = 'SET ROLE to the role whose consumer you mean.';
    END IF;
    RETURN owners[1];
END
$$;
COMMENT ON FUNCTION evlog.consumer_owner(text) IS
    'owner of the consumer a name means for the caller: its own, else the only one it can see';

ALTER TABLE evlog.consumers ENABLE ROW LEVEL SECURITY;
CREATE POLICY consumers_own ON evlog.consumers
    USING (pg_catalog.pg_has_role(owner::pg_catalog.oid, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(owner::pg_catalog.oid, 'MEMBER'));
COMMENT ON POLICY consumers_own ON evlog.consumers IS
    'a role sees and changes only the consumers of roles it is a member of (its own)';

CREATE FUNCTION evlog.consumers_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.name IS NULL OR pg_catalog.length(NEW.name) OPERATOR(pg_catalog.<) 1
       OR pg_catalog.length(NEW.name) OPERATOR(pg_catalog.>) 63 THEN
        RAISE EXCEPTION 'consumer name must be 1 to 63 characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
        IF NEW.position OPERATOR(pg_catalog.<) OLD.position THEN
            RAISE EXCEPTION 'consumer "%" cannot move back from % to %', OLD.name, OLD.position, NEW.position
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'To read again from an earlier seq, drop the consumer and create it with that after_seq.';
        END IF;
        IF NEW.name OPERATOR(pg_catalog.=) OLD.name AND NEW.owner OPERATOR(pg_catalog.=) OLD.owner THEN
            RETURN NEW;
        END IF;
    END IF;
    IF (SELECT pg_catalog.count(*) FROM evlog.consumers c
         WHERE c.owner OPERATOR(pg_catalog.=) NEW.owner) OPERATOR(pg_catalog.>=) 100
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r
                 WHERE r.oid OPERATOR(pg_catalog.=) NEW.owner::pg_catalog.oid) THEN
        RAISE EXCEPTION 'role % already has 100 consumers', NEW.owner
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Drop consumers it no longer uses with evlog_consumer_drop().';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION evlog.consumers_check() IS
    'trigger: a consumer name is 1 to 63 characters, a role has at most 100 consumers, a position never moves back';
REVOKE ALL ON FUNCTION evlog.consumers_check() FROM PUBLIC;
CREATE TRIGGER consumers_check
    BEFORE INSERT OR UPDATE ON evlog.consumers
    FOR EACH ROW EXECUTE FUNCTION evlog.consumers_check();

-- The consumer functions run with the caller's rights: reading needs its
-- own SELECT on the log (evlog_read checks it), the rows are its own.
CREATE FUNCTION @extschema@.evlog_consumer_create(name text, after_seq bigint DEFAULT 0)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name OPERATOR(pg_catalog.=) '' THEN
        RAISE EXCEPTION 'consumer name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO evlog.consumers (name, position)
    VALUES (evlog_consumer_create.name, COALESCE(after_seq, 0));
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'consumer "%" already exists', name
        USING ERRCODE = 'duplicate_object',
              HINT = 'Resume it with evlog_consumer_next(), or drop it first with evlog_consumer_drop().';
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_consumer_create(text, bigint) IS
    'create a named consumer positioned after after_seq (0: from the beginning)';

CREATE FUNCTION @extschema@.evlog_consumer_next(name text, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pos bigint;
    lost bigint;
BEGIN
    SELECT c.position, c.pruned_unread_upto INTO pos, lost FROM evlog.consumers c
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_next.name
       AND c.owner OPERATOR(pg_catalog.=) evlog.consumer_owner(evlog_consumer_next.name);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with evlog_consumer_create(); a consumer is visible only to the role that created it.';
    END IF;
    IF lost OPERATOR(pg_catalog.>) pos THEN
        RAISE EXCEPTION 'consumer "%" fell behind retention: events after seq % up to seq % were pruned before it read them', name, pos, lost
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'It was more than evlog.max_consumer_lag_events seqs behind when evlog_prune ran.',
                  HINT = pg_catalog.format('Acknowledge seq %s with evlog_consumer_ack() to go on after the gap, or drop the consumer and create it anew.', lost);
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.evlog_read(pos, max_rows);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_consumer_next(text, integer) IS
    'the next committed events after the consumer''s acknowledged position (does not move it: acknowledge with evlog_consumer_ack); fails when retention removed events the consumer had not acknowledged (see evlog.max_consumer_lag_events)';

CREATE FUNCTION @extschema@.evlog_consumer_ack(name text, seq bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    safe bigint := @extschema@.evlog_safe_seq();
    pos bigint;
BEGIN
    IF seq IS NULL OR seq OPERATOR(pg_catalog.>) safe THEN
        RAISE EXCEPTION 'consumer "%" cannot acknowledge a seq above evlog_safe_seq()', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('seq %s is above the safe seq %s: events there may still be in flight and cannot have been read.',
                                             pg_catalog.quote_nullable(seq), safe),
                  HINT = 'Acknowledge the last seq evlog_consumer_next returned.';
    END IF;
    UPDATE evlog.consumers c
       SET position = pg_catalog.int8larger(c.position, seq), acked_at = pg_catalog.now()
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_ack.name
       AND c.owner OPERATOR(pg_catalog.=) evlog.consumer_owner(evlog_consumer_ack.name)
    RETURNING c.position INTO pos;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'A consumer is visible only to the role that created it.';
    END IF;
    RETURN pos;
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_consumer_ack(text, bigint) IS
    'acknowledge every event up to seq for a consumer; positions never move backwards; returns the new position';

CREATE FUNCTION @extschema@.evlog_consumer_drop(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM evlog.consumers c
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_drop.name
       AND c.owner OPERATOR(pg_catalog.=) evlog.consumer_owner(evlog_consumer_drop.name);
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_consumer_drop(text) IS 'forget a consumer and its position; true if it existed';

CREATE VIEW evlog.consumer_lag WITH (security_invoker = true) AS
SELECT c.name, c.position, s.safe_seq,
       (SELECT pg_catalog.count(*) FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position AND e.seq OPERATOR(pg_catalog.<=) s.safe_seq) AS events_behind,
       (SELECT e.ts FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position ORDER BY e.seq LIMIT 1) AS oldest_unread_ts,
       c.acked_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) c.acked_at AS since_ack,
       c.owner,
       c.pruned_unread_upto,
       (pg_catalog.current_setting('evlog.max_consumer_lag_events', true) IS NULL
        OR pg_catalog.current_setting('evlog.max_consumer_lag_events', true)::pg_catalog.int8 OPERATOR(pg_catalog.<) 0
        OR s.safe_seq OPERATOR(pg_catalog.-) c.position
           OPERATOR(pg_catalog.<=) pg_catalog.current_setting('evlog.max_consumer_lag_events', true)::pg_catalog.int8)
         AS holds_retention
  FROM evlog.consumers c, (SELECT @extschema@.evlog_safe_seq() AS safe_seq) s;
COMMENT ON VIEW evlog.consumer_lag IS
    'how far each of the caller''s consumers is behind: in events and in time; whether it holds retention back, and what retention removed unread';
COMMENT ON COLUMN evlog.consumer_lag.owner IS 'role the consumer belongs to';
COMMENT ON COLUMN evlog.consumer_lag.pruned_unread_upto IS
    'highest seq retention removed before this consumer acknowledged it; evlog_consumer_next fails until it acknowledges that seq';
COMMENT ON COLUMN evlog.consumer_lag.holds_retention IS
    'true when evlog_prune keeps this consumer''s unacknowledged events (evlog.max_consumer_lag_events is -1, or the consumer is within it, in this session''s setting)';
COMMENT ON COLUMN evlog.consumer_lag.name IS 'consumer name';
COMMENT ON COLUMN evlog.consumer_lag.position IS 'highest seq acknowledged';
COMMENT ON COLUMN evlog.consumer_lag.safe_seq IS 'evlog_safe_seq() now';
COMMENT ON COLUMN evlog.consumer_lag.events_behind IS 'committed events after the position, up to the safe seq';
COMMENT ON COLUMN evlog.consumer_lag.oldest_unread_ts IS 'ts of the first event not yet acknowledged';
COMMENT ON COLUMN evlog.consumer_lag.acked_at IS 'when the consumer last acknowledged';
COMMENT ON COLUMN evlog.consumer_lag.since_ack IS 'time since the last acknowledgement';


/* ------------------------------------------------------------------------
 * Tamper evidence: the hash chain (C: src/chain.c)
 *
 * hash(n) = SHA-256(hash(previous existing seq) || enc(event n)), with 32
 * zero bytes before the first event; enc() is defined in src/chain.c and
 * the README.  The chain is a side table rather than a column of the log:
 * appenders never wait for hashing, and the chain outlives pruned events.
 * No foreign key to evlog.event_log: links must survive retention (the
 * last pruned link stays as an anchor), and what a foreign key would
 * protect, a superuser can switch off like the log's own triggers.
 * ------------------------------------------------------------------------ */

CREATE TABLE evlog.chain (
    seq       bigint PRIMARY KEY,
    prev_seq  bigint CHECK (prev_seq OPERATOR(pg_catalog.<) seq),
    hash      bytea NOT NULL CHECK (pg_catalog.octet_length(hash) OPERATOR(pg_catalog.=) 32),
    sealed_at timestamptz NOT NULL
);
COMMENT ON TABLE evlog.chain IS 'hash chain over evlog.event_log: one link per sealed event; written only by evlog_seal';
COMMENT ON COLUMN evlog.chain.seq IS 'seq of the sealed event';
COMMENT ON COLUMN evlog.chain.prev_seq IS 'seq of the link this one follows (the previous existing event); NULL for the first event ever sealed';
COMMENT ON COLUMN evlog.chain.hash IS 'SHA-256(hash of prev_seq''s link, or 32 zero bytes || canonical encoding of the event)';
COMMENT ON COLUMN evlog.chain.sealed_at IS 'start of the transaction that sealed the event';
COMMENT ON INDEX evlog.chain_pkey IS 'one link per seq; the sealer and verifier walk it in seq order';

CREATE TABLE evlog.chain_anchor (
    seq         bigint PRIMARY KEY,
    hash        bytea NOT NULL CHECK (pg_catalog.octet_length(hash) OPERATOR(pg_catalog.=) 32),
    anchored_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE evlog.chain_anchor IS 'links kept when retention prunes a prefix of the log: the last pruned link, which the first remaining link follows';
COMMENT ON COLUMN evlog.chain_anchor.seq IS 'seq of the last pruned event';
COMMENT ON COLUMN evlog.chain_anchor.hash IS 'its chain hash, copied from evlog.chain';
COMMENT ON COLUMN evlog.chain_anchor.anchored_at IS 'when the prefix up to seq was pruned';
COMMENT ON INDEX evlog.chain_anchor_pkey IS 'one anchor per pruned prefix';

CREATE TRIGGER chain_no_update_delete
    BEFORE UPDATE OR DELETE ON evlog.chain
    FOR EACH ROW EXECUTE FUNCTION evlog.refuse_chain_change();
CREATE TRIGGER chain_no_truncate
    BEFORE TRUNCATE ON evlog.chain
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_chain_change();
CREATE TRIGGER chain_anchor_no_update_delete
    BEFORE UPDATE OR DELETE ON evlog.chain_anchor
    FOR EACH ROW EXECUTE FUNCTION evlog.refuse_chain_change();
CREATE TRIGGER chain_anchor_no_truncate
    BEFORE TRUNCATE ON evlog.chain_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_chain_change();
ALTER TABLE evlog.chain ENABLE ALWAYS TRIGGER chain_no_update_delete;
ALTER TABLE evlog.chain ENABLE ALWAYS TRIGGER chain_no_truncate;
ALTER TABLE evlog.chain_anchor ENABLE ALWAYS TRIGGER chain_anchor_no_update_delete;
ALTER TABLE evlog.chain_anchor ENABLE ALWAYS TRIGGER chain_anchor_no_truncate;

/* the chain must survive dump/restore and still verify */
SELECT pg_catalog.pg_extension_config_dump('evlog.chain', '');
SELECT pg_catalog.pg_extension_config_dump('evlog.chain_anchor', '');

CREATE FUNCTION @extschema@.evlog_seal(max_events integer DEFAULT 10000)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_seal'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_seal(integer) IS
    'extend the hash chain over up to max_events events (NULL: all) after the last link, in seq order, up to evlog_safe_seq(); returns how many were sealed. Run it periodically (background worker, cron or pg_cron)';

CREATE FUNCTION @extschema@.evlog_verify_chain(from_seq bigint DEFAULT NULL, to_seq bigint DEFAULT NULL,
    OUT first_bad_seq bigint, OUT expected bytea, OUT found bytea, OUT reason text,
    OUT events_checked bigint, OUT verified_to bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'evlog_verify_chain'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_verify_chain(bigint, bigint) IS
    'recompute the chain over sealed events in [from_seq, to_seq] (NULL: unbounded); first_bad_seq is NULL when intact, else the first seq where the log and the chain disagree, with the hash the chain recorded (expected), the hash of the data as found (found) and why';

CREATE FUNCTION @extschema@.evlog_chain_head(OUT seq bigint, OUT hash text, OUT sealed_at timestamptz)
RETURNS record
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT h.seq, h.hash, h.sealed_at
      FROM (SELECT c.seq, pg_catalog.encode(c.hash, 'hex') AS hash, c.sealed_at FROM evlog.chain c
            UNION ALL
            SELECT a.seq, pg_catalog.encode(a.hash, 'hex'), a.anchored_at FROM evlog.chain_anchor a
            UNION ALL
            SELECT 0, pg_catalog.repeat('0', 64), NULL) h
     ORDER BY h.seq DESC
     LIMIT 1;
END;
COMMENT ON FUNCTION @extschema@.evlog_chain_head() IS
    'the latest sealed seq and its chain hash in hex (seq 0 and 64 zeros before anything is sealed): note it somewhere safe; evlog_verify_chain(NULL, seq) later proves nothing up to it changed while the stored hash still equals the noted one';

CREATE VIEW evlog.chain_status WITH (security_invoker = true) AS
SELECT l.head_seq, s.safe_seq, COALESCE(c.seq, 0) AS sealed_seq,
       (SELECT pg_catalog.count(*) FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) COALESCE(c.seq, 0)) AS events_behind,
       c.sealed_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) c.sealed_at AS since_sealed
  FROM (SELECT @extschema@.evlog_last_seq() AS head_seq) l,
       (SELECT @extschema@.evlog_safe_seq() AS safe_seq) s
  LEFT JOIN LATERAL (SELECT ch.seq, ch.sealed_at FROM evlog.chain ch
                      ORDER BY ch.seq DESC LIMIT 1) c ON true;
COMMENT ON VIEW evlog.chain_status IS 'how far sealing lags the head of the log';
COMMENT ON COLUMN evlog.chain_status.head_seq IS 'highest seq in the log visible now';
COMMENT ON COLUMN evlog.chain_status.safe_seq IS 'evlog_safe_seq(): sealing can reach this far now';
COMMENT ON COLUMN evlog.chain_status.sealed_seq IS 'highest sealed seq (0: nothing sealed)';
COMMENT ON COLUMN evlog.chain_status.events_behind IS 'visible events not sealed yet';
COMMENT ON COLUMN evlog.chain_status.sealed_at IS 'when the highest sealed seq was sealed';
COMMENT ON COLUMN evlog.chain_status.since_sealed IS 'time since then';

/*
 * The documented export for third-party verification (tools/verify_chain.py):
 * one JSON object per line, in seq order, every sealed seq (a link without
 * its event, or an event without a link, shows up too, so the verifier
 * catches it), preceded by the anchors of pruned prefixes.
 *
 *   psql -XAt -c 'SELECT line FROM evlog.chain_export ORDER BY seq, anchor DESC' > export.jsonl
 *
 * ts: to_char's YYYY drops the era and widens years past 9999, so
 * such a ts could not be read back into the chain's microseconds.  Years 1
 * to 9999 print as such; the others as an ISO 8601 expanded year (sign,
 * at least six digits, astronomical numbering: +000000 is 1 BC), which
 * tools/verify_chain.py reads.  Read with the caller's rights, like every
 * view over the log: a role whose SELECT on evlog.event_log was revoked
 * reads no event through it.
 */
CREATE VIEW evlog.chain_export WITH (security_invoker = true) AS
SELECT a.seq, true AS anchor,
       pg_catalog.json_build_object('anchor_seq', a.seq, 'hash', pg_catalog.encode(a.hash, 'hex'))::text AS line
  FROM evlog.chain_anchor a
UNION ALL
SELECT COALESCE(c.seq, e.seq), false,
       pg_catalog.json_build_object(
           'seq', COALESCE(c.seq, e.seq),
           'ts', CASE
                 WHEN e.ts OPERATOR(pg_catalog.>=) '0001-01-01 00:00:00+00'::pg_catalog.timestamptz
                  AND e.ts OPERATOR(pg_catalog.<) '10000-01-01 00:00:00+00'::pg_catalog.timestamptz
                 THEN pg_catalog.to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                 ELSE (SELECT CASE WHEN y.astro OPERATOR(pg_catalog.<) 0 THEN '-' ELSE '+' END
                              OPERATOR(pg_catalog.||) pg_catalog.lpad(pg_catalog.abs(y.astro)::text, 6, '0')
                              OPERATOR(pg_catalog.||) pg_catalog.to_char(e.ts AT TIME ZONE 'UTC', '"-"MM-DD"T"HH24:MI:SS.US"Z"')
                         FROM (SELECT CASE WHEN x.year OPERATOR(pg_catalog.<) 0
                                           THEN x.year OPERATOR(pg_catalog.+) 1 ELSE x.year END AS astro
                                 FROM (SELECT pg_catalog.date_part('year', e.ts AT TIME ZONE 'UTC')::integer AS year) x) y)
                 END,
           'kind', e.kind, 'host_id', e.host_id, 'rollout_id', e.rollout_id,
           'payload', e.payload::text, 'event_id', e.event_id,
           'prev_seq', c.prev_seq, 'hash', pg_catalog.encode(c.hash, 'hex'))::text
  FROM evlog.chain c
  FULL JOIN evlog.event_log e ON e.seq OPERATOR(pg_catalog.=) c.seq
 WHERE COALESCE(c.seq, e.seq) OPERATOR(pg_catalog.<=) (SELECT pg_catalog.max(ch.seq) FROM evlog.chain ch);
COMMENT ON VIEW evlog.chain_export IS 'the sealed log as JSON lines for tools/verify_chain.py: SELECT line FROM evlog.chain_export ORDER BY seq, anchor DESC';
COMMENT ON COLUMN evlog.chain_export.seq IS 'seq of the event, link or anchor (sort key)';
COMMENT ON COLUMN evlog.chain_export.anchor IS 'true for an anchor line (sorts before an event of the same seq with anchor DESC)';
COMMENT ON COLUMN evlog.chain_export.line IS 'one JSON object: an event with its link (seq, ts, kind, host_id, rollout_id, payload, event_id, prev_seq, hash) or an anchor (anchor_seq, hash)';

/* ------------------------------------------------------------------------
 * Asynchronous append through a background worker
 * (C: src/enqueue.c, src/queue.c, src/worker.c; needs
 * shared_preload_libraries = 'evlog')
 * ------------------------------------------------------------------------ */

CREATE SEQUENCE evlog.enqueue_ticket_seq AS bigint START 1 NO CYCLE;
COMMENT ON SEQUENCE evlog.enqueue_ticket_seq IS
    'tickets returned by evlog_enqueue: increasing across restarts and restores; gap rows name lost events by ticket';

/*
 * Crash accounting, one row per database (see src/worker.c).  Not dumped:
 * it describes this cluster's shared memory, and a restored database starts
 * a fresh epoch (epoch_start_ticket NULL) when its writer first runs.
 */
CREATE TABLE evlog.queue_state (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch_start_ticket bigint,
    flushed_in_epoch   bigint NOT NULL DEFAULT 0,
    clean_shutdown     boolean NOT NULL DEFAULT false,
    epoch_started_at   timestamptz
);
INSERT INTO evlog.queue_state DEFAULT VALUES;
COMMENT ON TABLE evlog.queue_state IS 'the writer''s durable crash accounting: tickets allocated since epoch_start_ticket and not accounted for were lost';
COMMENT ON COLUMN evlog.queue_state.singleton IS 'always true: the table has one row';
COMMENT ON COLUMN evlog.queue_state.epoch_start_ticket IS 'tickets above this belong to the epoch: at a clean shutdown the last ticket handed out, after a crash-accounting pass the ticket below the first one of the new server lifetime (NULL: no epoch yet)';
COMMENT ON COLUMN evlog.queue_state.flushed_in_epoch IS 'entries with a ticket in the epoch accounted for: written, dead-lettered, dropped and recorded, or rolled back';
COMMENT ON COLUMN evlog.queue_state.clean_shutdown IS 'the epoch began at a clean shutdown that had drained the queue';
COMMENT ON COLUMN evlog.queue_state.epoch_started_at IS 'when the epoch began; an epoch begun before the current shared memory was created means the writer''s crash-accounting pass is still due';
COMMENT ON INDEX evlog.queue_state_pkey IS 'at most one row';

CREATE TABLE evlog.dead_letter (
    ticket      bigint PRIMARY KEY,
    kind        text NOT NULL,
    ts          timestamptz NOT NULL,
    host_id     text,
    rollout_id  text,
    payload     jsonb NOT NULL,
    event_id    text,
    enqueued_at timestamptz NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    error       text NOT NULL,
    sqlstate    text NOT NULL,
    enqueued_by oid
);
COMMENT ON TABLE evlog.dead_letter IS 'enqueued events the writer could not append (a constraint or trigger refused them), with the error; everything else in their batch landed';
COMMENT ON COLUMN evlog.dead_letter.ticket IS 'ticket evlog_enqueue returned for the event';
COMMENT ON COLUMN evlog.dead_letter.kind IS 'the event''s kind';
COMMENT ON COLUMN evlog.dead_letter.ts IS 'the event''s ts';
COMMENT ON COLUMN evlog.dead_letter.host_id IS 'the event''s host_id';
COMMENT ON COLUMN evlog.dead_letter.rollout_id IS 'the event''s rollout_id';
COMMENT ON COLUMN evlog.dead_letter.payload IS 'the event''s payload';
COMMENT ON COLUMN evlog.dead_letter.event_id IS 'the event''s event_id';
COMMENT ON COLUMN evlog.dead_letter.enqueued_at IS 'when evlog_enqueue was called';
COMMENT ON COLUMN evlog.dead_letter.failed_at IS 'when the writer gave up on it';
COMMENT ON COLUMN evlog.dead_letter.error IS 'the error that refused it';
COMMENT ON COLUMN evlog.dead_letter.sqlstate IS 'that error''s SQLSTATE';
COMMENT ON COLUMN evlog.dead_letter.enqueued_by IS 'OID of the role that called evlog_enqueue (current_user then); NULL for events enqueued before 1.2';
COMMENT ON INDEX evlog.dead_letter_pkey IS 'one row per ticket';
/* dead letters are data nobody else has: pg_dump must carry them */
SELECT pg_catalog.pg_extension_config_dump('evlog.dead_letter', '');
SELECT pg_catalog.pg_extension_config_dump('evlog.enqueue_ticket_seq', '');

CREATE FUNCTION @extschema@.evlog_enqueue(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload text, event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_enqueue_text'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_enqueue(text, timestamptz, text, text, text, text) IS
    'validate one event as evlog_append does and queue it for the background writer (at commit, or at once with evlog.enqueue_mode = call); returns its ticket';

CREATE FUNCTION @extschema@.evlog_enqueue(
    kind text, ts timestamptz, host_id text, rollout_id text,
    payload jsonb, event_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_enqueue_jsonb'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text) IS
    'evlog_enqueue with the payload as jsonb';

CREATE FUNCTION @extschema@.evlog_flush(timeout interval DEFAULT '30 s')
RETURNS boolean
AS 'MODULE_PATHNAME', 'evlog_flush'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_flush(interval) IS
    'wait until every event this session has queued (committed enqueues) is in the log or dead-lettered; false if timeout passed first (NULL: no limit)';

CREATE FUNCTION @extschema@.evlog_queue_status(
    OUT database name, OUT capacity bigint, OUT used bigint, OUT pending bigint,
    OUT accepted bigint, OUT flushed bigint, OUT batches bigint, OUT retries bigint,
    OUT dead_lettered bigint, OUT dropped bigint, OUT crash_lost bigint, OUT lost bigint,
    OUT last_error text, OUT last_flush_at timestamptz, OUT worker_pid integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'evlog_queue_status'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_queue_status() IS
    'state of each database''s queue since the server started (no rows without shared_preload_libraries)';

CREATE VIEW evlog.queue_status AS
SELECT * FROM @extschema@.evlog_queue_status();
COMMENT ON VIEW evlog.queue_status IS
    'the queue of this database (a superuser: of every database using evlog_enqueue): size and use, counters since server start, the writer';
COMMENT ON COLUMN evlog.queue_status.database IS 'database the queue belongs to';
COMMENT ON COLUMN evlog.queue_status.capacity IS 'bytes of shared memory in the queue (evlog.queue_size)';
COMMENT ON COLUMN evlog.queue_status.used IS 'bytes queued now';
COMMENT ON COLUMN evlog.queue_status.pending IS 'events queued now, not yet written';
COMMENT ON COLUMN evlog.queue_status.accepted IS 'events accepted into the queue (dropped ones included)';
COMMENT ON COLUMN evlog.queue_status.flushed IS 'events written to the log';
COMMENT ON COLUMN evlog.queue_status.batches IS 'batches committed';
COMMENT ON COLUMN evlog.queue_status.retries IS 'failed batch attempts that were retried';
COMMENT ON COLUMN evlog.queue_status.dead_lettered IS 'events moved to evlog.dead_letter';
COMMENT ON COLUMN evlog.queue_status.dropped IS 'events dropped under evlog.overflow = drop';
COMMENT ON COLUMN evlog.queue_status.crash_lost IS 'upper bound of events lost by the crash before this start (see evlog.gaps)';
COMMENT ON COLUMN evlog.queue_status.lost IS 'dropped + crash_lost';
COMMENT ON COLUMN evlog.queue_status.last_error IS
    'error of the last failed batch, until a batch succeeds (superusers only: it may quote an event; NULL for other roles)';
COMMENT ON COLUMN evlog.queue_status.last_flush_at IS 'when the last batch committed';
COMMENT ON COLUMN evlog.queue_status.worker_pid IS 'pid of the database''s writer (NULL: none running)';

CREATE VIEW evlog.gaps WITH (security_invoker = true) AS
SELECT e.seq, e.ts,
       e.payload OPERATOR(pg_catalog.->>) 'reason' AS reason,
       (e.payload OPERATOR(pg_catalog.->>) 'first_ticket')::bigint AS first_ticket,
       (e.payload OPERATOR(pg_catalog.->>) 'last_ticket')::bigint AS last_ticket,
       (e.payload OPERATOR(pg_catalog.->>) 'count')::bigint AS lost,
       (e.payload OPERATOR(pg_catalog.->>) 'exact')::boolean AS exact,
       e.payload
  FROM evlog.event_log e
 WHERE e.kind OPERATOR(pg_catalog.=) 'gap'
 ORDER BY e.seq;
COMMENT ON VIEW evlog.gaps IS 'gap sentinels: accepted events that were lost (dropped, or queued when the server crashed)';
COMMENT ON COLUMN evlog.gaps.seq IS 'seq of the gap row';
COMMENT ON COLUMN evlog.gaps.ts IS 'when the writer recorded the gap';
COMMENT ON COLUMN evlog.gaps.reason IS 'dropped (evlog.overflow = drop) or crash';
COMMENT ON COLUMN evlog.gaps.first_ticket IS 'lowest ticket that may be lost';
COMMENT ON COLUMN evlog.gaps.last_ticket IS 'highest ticket that may be lost';
COMMENT ON COLUMN evlog.gaps.lost IS 'events lost: exact for drops, an upper bound after a crash';
COMMENT ON COLUMN evlog.gaps.exact IS 'whether lost is exact (drops) or an upper bound (crash)';
COMMENT ON COLUMN evlog.gaps.payload IS 'the gap row''s payload';

-- A dead letter names the role that enqueued it, and that role (or any of
-- its members) sees its own through evlog.my_dead_letters: the writer role
-- has no access to evlog.dead_letter, which holds every role's events.

CREATE VIEW evlog.my_dead_letters WITH (security_barrier) AS
    SELECT d.ticket, d.kind, d.ts, d.host_id, d.rollout_id, d.payload, d.event_id,
           d.enqueued_at, d.failed_at, d.error, d.sqlstate
      FROM evlog.dead_letter d
     WHERE d.enqueued_by IS NOT NULL
       AND pg_catalog.pg_has_role(d.enqueued_by, 'MEMBER');
COMMENT ON VIEW evlog.my_dead_letters IS
    'the dead letters of events enqueued by the current role or a role it is a member of';
COMMENT ON COLUMN evlog.my_dead_letters.ticket IS 'ticket evlog_enqueue returned for the event';
COMMENT ON COLUMN evlog.my_dead_letters.kind IS 'the event''s kind';
COMMENT ON COLUMN evlog.my_dead_letters.ts IS 'the event''s ts';
COMMENT ON COLUMN evlog.my_dead_letters.host_id IS 'the event''s host_id';
COMMENT ON COLUMN evlog.my_dead_letters.rollout_id IS 'the event''s rollout_id';
COMMENT ON COLUMN evlog.my_dead_letters.payload IS 'the event''s payload';
COMMENT ON COLUMN evlog.my_dead_letters.event_id IS 'the event''s event_id';
COMMENT ON COLUMN evlog.my_dead_letters.enqueued_at IS 'when evlog_enqueue was called';
COMMENT ON COLUMN evlog.my_dead_letters.failed_at IS 'when the writer gave up on it';
COMMENT ON COLUMN evlog.my_dead_letters.error IS 'the error that refused it';
COMMENT ON COLUMN evlog.my_dead_letters.sqlstate IS 'that error''s SQLSTATE';
REVOKE ALL ON evlog.my_dead_letters FROM PUBLIC;

/* ------------------------------------------------------------------------
 * The replicated watermark (C: src/watermark.c)
 * ------------------------------------------------------------------------ */

CREATE TABLE evlog.watermark (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    safe_seq      bigint,
    partition_top bigint NOT NULL DEFAULT 0,
    published_at  timestamptz
);
COMMENT ON TABLE evlog.watermark IS 'one row: the publisher''s evlog_safe_seq() as last published, and the top of its partitions; publish it with evlog.event_log so subscribers know what they can read';
COMMENT ON COLUMN evlog.watermark.id IS 'always true: there is one row';
COMMENT ON COLUMN evlog.watermark.safe_seq IS 'evlog_safe_seq() when evlog_publish_watermark() last ran; NULL before';
COMMENT ON COLUMN evlog.watermark.partition_top IS 'highest seq the publisher''s partitions cover; subscribers create theirs up to it';
COMMENT ON COLUMN evlog.watermark.published_at IS 'when safe_seq was published';
COMMENT ON INDEX evlog.watermark_pkey IS 'at most one row';
SELECT pg_catalog.pg_extension_config_dump('evlog.watermark', '');

CREATE FUNCTION evlog.watermark_applied() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_watermark_applied'
LANGUAGE C;
COMMENT ON FUNCTION evlog.watermark_applied() IS 'trigger: on a subscriber, creates partitions up to the publisher''s partition top as its watermark row arrives';
CREATE TRIGGER watermark_applied
    AFTER INSERT OR UPDATE ON evlog.watermark
    FOR EACH ROW EXECUTE FUNCTION evlog.watermark_applied();
-- it must fire in the logical replication apply worker
ALTER TABLE evlog.watermark ENABLE ALWAYS TRIGGER watermark_applied;

CREATE FUNCTION @extschema@.evlog_publish_watermark()
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_publish_watermark'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_publish_watermark() IS
    'record evlog_safe_seq() in evlog.watermark (never backwards) for subscribers and standbys; returns it. Run it periodically (cron, pg_cron, the background worker)';

/* ------------------------------------------------------------------------
 * Retention and partitions (C: src/prune.c, src/partition.c)
 * ------------------------------------------------------------------------ */

CREATE FUNCTION @extschema@.evlog_prune(before timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_prune'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_prune(timestamptz) IS
    'drop the oldest whole partitions whose events all have ts < before, with their derived rows, chain links (the last becomes an anchor) and event_id entries, and append a retention event; returns the number of events removed';

CREATE FUNCTION @extschema@.evlog_create_partitions(ahead integer DEFAULT 2, upto bigint DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'evlog_create_partitions'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_create_partitions(integer, bigint) IS
    'create partitions of evlog.event_log (evlog.partition_size seqs each) covering ahead (0 to 64) partitions beyond the sequence''s position, and at least up to seq upto; at most 64 per call, the first one spanning any larger gap of spent seqs; returns how many it created';

-- counts of closed partitions, taken once in the background so that
-- evlog_prune does not count rows (src/prune.c, "Partition summaries");
-- not dumped: a restored database recounts
CREATE TABLE evlog.partition_summaries (
    hi            bigint PRIMARY KEY,
    relname       text NOT NULL,
    events        bigint NOT NULL,
    min_seq       bigint,
    max_seq       bigint,
    heap_blocks   bigint NOT NULL,
    summarised_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE evlog.partition_summaries IS 'one row per closed partition of evlog.event_log (no append can reach it any more): its event count, recorded by the partition worker or evlog_summarise_partitions() and read by evlog_prune';
COMMENT ON COLUMN evlog.partition_summaries.hi IS 'the partition''s highest seq (inclusive upper bound)';
COMMENT ON COLUMN evlog.partition_summaries.relname IS 'the partition''s name in schema evlog';
COMMENT ON COLUMN evlog.partition_summaries.events IS 'events in the partition';
COMMENT ON COLUMN evlog.partition_summaries.min_seq IS 'lowest seq present; NULL if empty';
COMMENT ON COLUMN evlog.partition_summaries.max_seq IS 'highest seq present; NULL if empty';
COMMENT ON COLUMN evlog.partition_summaries.heap_blocks IS 'heap size in blocks when counted: the summary is ignored once the size differs';
COMMENT ON COLUMN evlog.partition_summaries.summarised_at IS 'when it was counted';
COMMENT ON INDEX evlog.partition_summaries_pkey IS 'one summary per partition';

CREATE FUNCTION @extschema@.evlog_summarize_partitions()
RETURNS integer
AS 'MODULE_PATHNAME', 'evlog_summarise_partitions'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_summarize_partitions() IS
    'count the events of every closed partition not yet summarized (the partition worker does this as the log grows; run it after a bulk load); returns how many it summarized';

-- the name before 1.3 (PostgreSQL spells it "summarize"), same C function
CREATE FUNCTION @extschema@.evlog_summarise_partitions()
RETURNS integer
AS 'MODULE_PATHNAME', 'evlog_summarise_partitions'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_summarise_partitions() IS
    'alias of evlog_summarize_partitions(), the name before 1.3; kept for existing callers';

/* ------------------------------------------------------------------------
 * Monitoring and grants
 * ------------------------------------------------------------------------ */

CREATE VIEW evlog.partitions AS
SELECT c.oid::pg_catalog.regclass AS partition,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS bounds,
       pg_catalog.pg_total_relation_size(c.oid) AS bytes,
       s.events
  FROM pg_catalog.pg_inherits i
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
  LEFT JOIN evlog.partition_summaries s ON s.relname OPERATOR(pg_catalog.=) c.relname::pg_catalog.text
 WHERE i.inhparent OPERATOR(pg_catalog.=) 'evlog.event_log'::pg_catalog.regclass
 ORDER BY c.relname;
COMMENT ON VIEW evlog.partitions IS 'partitions of evlog.event_log in seq order, with their bounds and size on disk';
COMMENT ON COLUMN evlog.partitions.partition IS 'the partition';
COMMENT ON COLUMN evlog.partitions.bounds IS 'its seq range';
COMMENT ON COLUMN evlog.partitions.bytes IS 'table, indexes and TOAST, in bytes';
COMMENT ON COLUMN evlog.partitions.events IS 'events in it once it is closed and summarised (evlog.partition_summaries); NULL before';
/* ------------------------------------------------------------------------
 * Guards
 * ------------------------------------------------------------------------ */

-- A registered handler or target cannot be dropped: every append calls the
-- handler, which maintains the target.
CREATE FUNCTION evlog.guard_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    -- DROP EXTENSION evlog, or a DROP SCHEMA evlog CASCADE: nothing to guard
    IF pg_catalog.to_regclass('evlog.derived_views') IS NULL THEN
        RETURN;
    END IF;
    SELECT d.name, o.object_type, o.object_identity INTO v
      FROM pg_catalog.pg_event_trigger_dropped_objects() o
      JOIN evlog.derived_views d
        ON (o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
            AND o.objid OPERATOR(pg_catalog.=) d.handler::pg_catalog.oid)
        OR (o.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
            AND o.objsubid OPERATOR(pg_catalog.=) 0
            AND o.objid OPERATOR(pg_catalog.=) d.target::pg_catalog.oid)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'cannot drop % % because evlog view "%" uses it', v.object_type, v.object_identity, v.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'Every append calls a registered view''s handler, which maintains its table.',
                  HINT = pg_catalog.format('Unregister the view first: SELECT evlog_unregister_view(%L);', v.name);
    END IF;
END
$$;
COMMENT ON FUNCTION evlog.guard_drop() IS
    'event trigger: refuses to drop the handler or the table of a registered evlog view';
REVOKE ALL ON FUNCTION evlog.guard_drop() FROM PUBLIC;

CREATE EVENT TRIGGER evlog_guard_drop ON sql_drop
    EXECUTE FUNCTION evlog.guard_drop();
COMMENT ON EVENT TRIGGER evlog_guard_drop IS
    'refuses to drop the handler or the table of a registered evlog view (unregister it first)';

-- DETACH or DROP of a partition removes events the chain may not have
-- sealed, and a changed column breaks the layout evlog reads by position:
-- refused for every role except through evlog_prune (src/prune.c).
CREATE FUNCTION evlog.ddl_guard()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'evlog_ddl_guard'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION evlog.ddl_guard() IS
    'event trigger function: refuses DETACH PARTITION, DROP TABLE, ADD/DROP/RETYPE/RENAME COLUMN and RENAME on evlog''s tables, except inside evlog_prune and the extension''s scripts';
REVOKE ALL ON FUNCTION evlog.ddl_guard() FROM PUBLIC;

CREATE EVENT TRIGGER evlog_ddl_guard ON ddl_command_start
    WHEN TAG IN ('ALTER TABLE', 'DROP TABLE')
    EXECUTE FUNCTION evlog.ddl_guard();
COMMENT ON EVENT TRIGGER evlog_ddl_guard IS
    'keeps evlog''s tables whole: disabling it (ALTER EVENT TRIGGER evlog_ddl_guard DISABLE) is the visible act that DDL on them takes';

/* ------------------------------------------------------------------------
 * Administration
 * ------------------------------------------------------------------------ */

CREATE FUNCTION @extschema@.evlog_register_kind(kind text, description text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF kind IS NULL OR kind !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid event kind name %', pg_catalog.quote_nullable(kind)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A kind name is 1 to 63 characters: a lower-case letter, then lower-case letters, digits or underscores.';
    END IF;
    INSERT INTO evlog.kinds AS k (kind, description)
    VALUES (evlog_register_kind.kind, evlog_register_kind.description)
    ON CONFLICT ON CONSTRAINT kinds_pkey
    DO UPDATE SET description = COALESCE(EXCLUDED.description, k.description);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_register_kind(text, text) IS
    'register an event kind (idempotent; a non-NULL description replaces the stored one)';

CREATE FUNCTION @extschema@.evlog_grant_reader(role regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA evlog TO %s', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.event_log, evlog.kinds, evlog.probe_failures, '
                              'evlog.rollouts, evlog.host_states, evlog.derived_skips, evlog.derived_stats TO %s', role);
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %s', '@extschema@', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.inflight, evlog.consumer_lag, evlog.queue_status, evlog.gaps, evlog.watermark TO %s', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.chain, evlog.chain_anchor, evlog.chain_status, evlog.chain_export TO %s', role);
    -- its own consumers only (row-level security)
    EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON evlog.consumers TO %s', role);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION %1$I.evlog_last_seq(), '
        '%1$I.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer), '
        '%1$I.evlog_safe_seq(), %1$I.evlog_read(bigint, integer), %1$I.evlog_inflight(), '
        '%1$I.evlog_consumer_create(text, bigint), %1$I.evlog_consumer_next(text, integer), '
        '%1$I.evlog_consumer_ack(text, bigint), %1$I.evlog_consumer_drop(text), %1$I.evlog_queue_status(), '
        '%1$I.evlog_verify_chain(bigint, bigint), %1$I.evlog_chain_head() TO %2$s',
        '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_reader(regrole) IS
    'let a role read the log and its derived tables (SELECT, evlog_query, evlog_read, its own named consumers) and verify its hash chain, and nothing else';

CREATE FUNCTION @extschema@.evlog_grant_writer(role regrole)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@.evlog_grant_reader(role);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION '
        '%1$I.evlog_append(text, timestamptz, text, text, text, text), '
        '%1$I.evlog_append(text, timestamptz, text, text, jsonb, text), '
        '%1$I.evlog_append_batch(jsonb), '
        '%1$I.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[]), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, text, text), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, jsonb, text), '
        '%1$I.evlog_flush(interval), '
        '%1$I.evlog_append(text, timestamptz, text, text, text, text, bigint, text), '
        '%1$I.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text), '
        '%1$I.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text), '
        '%1$I.evlog_stream_head(text, text), '
        '%1$I.evlog_stream_read(text, text, bigint, integer) TO %2$s',
        '@extschema@', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.my_dead_letters TO %s', role);
    -- loading with COPY (1.4)
    EXECUTE pg_catalog.format('GRANT INSERT ON evlog.append_copy TO %s', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_writer(regrole) IS
    'let a role append (and enqueue) events, load them with COPY into evlog.append_copy, see its own dead letters and read the log; it still cannot UPDATE, DELETE or TRUNCATE';


/* Nothing for PUBLIC: access is granted per role with the functions above. */
REVOKE ALL ON ALL TABLES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.refuse_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.derive_trigger(), evlog.derived_views_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.refuse_chain_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.evlog_append(text, timestamptz, text, text, text, text),
    @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text),
    @extschema@.evlog_append_batch(jsonb),
    @extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[]),
    @extschema@.evlog_enqueue(text, timestamptz, text, text, text, text),
    @extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text),
    @extschema@.evlog_flush(interval),
    @extschema@.evlog_queue_status(),
    @extschema@.evlog_last_seq(),
    @extschema@.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer),
    @extschema@.evlog_safe_seq(),
    @extschema@.evlog_read(bigint, integer),
    @extschema@.evlog_inflight(),
    @extschema@.evlog_consumer_create(text, bigint),
    @extschema@.evlog_consumer_next(text, integer),
    @extschema@.evlog_consumer_ack(text, bigint),
    @extschema@.evlog_consumer_drop(text),
    @extschema@.evlog_seal(integer),
    @extschema@.evlog_verify_chain(bigint, bigint),
    @extschema@.evlog_chain_head(),
    @extschema@.evlog_register_kind(text, text),
    @extschema@.evlog_grant_reader(regrole),
    @extschema@.evlog_grant_writer(regrole),
    @extschema@.evlog_rebuild(text),
    @extschema@.evlog_verify(text),
    @extschema@.evlog_register_view(text, regprocedure, regclass, boolean),
    @extschema@.evlog_unregister_view(text),
    @extschema@.evlog_append(text, timestamptz, text, text, text, text, bigint, text),
    @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text, bigint, text),
    @extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[], bigint[], text[]),
    @extschema@.evlog_enqueue(text, timestamptz, text, text, jsonb, text, bigint, text),
    @extschema@.evlog_stream_head(text, text),
    @extschema@.evlog_stream_read(text, text, bigint, integer)
FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.watermark_applied() FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.evlog_prune(timestamptz),
    @extschema@.evlog_create_partitions(integer, bigint),
    @extschema@.evlog_summarise_partitions(),
    @extschema@.evlog_summarize_partitions(),
    @extschema@.evlog_publish_watermark(),
    @extschema@.evlog_progress()
FROM PUBLIC;
