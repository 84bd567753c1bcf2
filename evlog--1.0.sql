/*
 * evlog--1.0.sql — install script for evlog 1.0.
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
    ('gap',            'sentinel: accepted events were lost; payload gives the range and count');

/* ------------------------------------------------------------------------
 * The canonical log
 * ------------------------------------------------------------------------ */

/*
 * seq has no DEFAULT: it is assigned by evlog's C append path from
 * evlog.event_log_seq_seq (see src/log_writer.c for why allocation goes
 * through one function), and replicated or restored rows bring their own.
 */
CREATE SEQUENCE evlog.event_log_seq_seq AS bigint START 1 NO CYCLE;

CREATE TABLE evlog.event_log (
    seq        bigint PRIMARY KEY,
    ts         timestamptz NOT NULL,
    kind       text NOT NULL,
    host_id    text,
    rollout_id text,
    payload    jsonb NOT NULL,
    event_id   text UNIQUE
);
ALTER SEQUENCE evlog.event_log_seq_seq OWNED BY evlog.event_log.seq;

CREATE INDEX event_log_host_ts_idx    ON evlog.event_log (host_id, ts);
CREATE INDEX event_log_rollout_seq_idx ON evlog.event_log (rollout_id, seq);
CREATE INDEX event_log_kind_ts_idx    ON evlog.event_log (kind, ts);
-- time-range reads across hosts and kinds: ts follows append order closely,
-- so a BRIN index serves them for a fraction of a btree's upkeep
CREATE INDEX event_log_ts_brin_idx    ON evlog.event_log USING brin (ts);

COMMENT ON TABLE evlog.event_log IS 'append-only canonical event log; write it with evlog_append*, never UPDATE/DELETE/TRUNCATE';
COMMENT ON COLUMN evlog.event_log.seq IS 'position in the log, strictly increasing in append order';
COMMENT ON COLUMN evlog.event_log.ts IS 'caller-supplied event time (no default: a frozen test clock never mixes with wall-clock rows)';
COMMENT ON COLUMN evlog.event_log.kind IS 'registered kind (evlog.kinds)';
COMMENT ON COLUMN evlog.event_log.host_id IS 'host the event concerns, if any';
COMMENT ON COLUMN evlog.event_log.rollout_id IS 'rollout the event concerns, if any';
COMMENT ON COLUMN evlog.event_log.payload IS 'event body, always a JSON object, validated at append';
COMMENT ON COLUMN evlog.event_log.event_id IS 'optional idempotency key: a retried append with the same key lands once';
COMMENT ON SEQUENCE evlog.event_log_seq_seq IS 'source of evlog.event_log.seq; advanced only by evlog''s append path';
COMMENT ON INDEX evlog.event_log_host_ts_idx IS 'per-host reads by time';
COMMENT ON INDEX evlog.event_log_rollout_seq_idx IS 'per-rollout reads in log order';
COMMENT ON INDEX evlog.event_log_kind_ts_idx IS 'per-kind reads by time';
COMMENT ON INDEX evlog.event_log_ts_brin_idx IS 'time-range reads (since/until) over the whole log';
COMMENT ON INDEX evlog.event_log_pkey IS 'one row per seq; reads in log order';
COMMENT ON INDEX evlog.event_log_event_id_key IS 'event_id is unique when present (idempotent appends)';

/*
 * Append-only, for every role including the owner: privileges alone are not
 * enough (owners and pg_write_all_data bypass REVOKE), so row and statement
 * triggers refuse the change.  ENABLE ALWAYS keeps them firing under
 * session_replication_role = replica too.
 */
CREATE FUNCTION evlog.refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'evlog.event_log is append-only'
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s is refused for every role, the owner included.', TG_OP),
              HINT = 'Append corrections as new events; rows leave the log only through a logged retention function.';
END
$$;
COMMENT ON FUNCTION evlog.refuse_change() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE on evlog.event_log';

CREATE TRIGGER event_log_no_update_delete
    BEFORE UPDATE OR DELETE ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION evlog.refuse_change();
CREATE TRIGGER event_log_no_truncate
    BEFORE TRUNCATE ON evlog.event_log
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_change();
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_update_delete;
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_truncate;

/* pg_dump must carry the log, its seq position and user-registered kinds. */
SELECT pg_catalog.pg_extension_config_dump('evlog.event_log', '');
SELECT pg_catalog.pg_extension_config_dump('evlog.event_log_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('evlog.kinds',
    $$WHERE kind NOT IN ('agent_event', 'plan_action', 'effect', 'gate_decision',
                         'verify_outcome', 'manifest_poll', 'rollout_event', 'gap')$$);

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
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.event_log, evlog.kinds TO %s', role);
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %s', '@extschema@', role);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION %I.evlog_last_seq(), '
        '%I.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer) TO %s',
        '@extschema@', '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_reader(regrole) IS
    'let a role read the log (SELECT, evlog_query, evlog_last_seq) and nothing else';

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
        '%1$I.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[]) TO %2$s',
        '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_writer(regrole) IS
    'let a role append events and read the log; it still cannot UPDATE, DELETE or TRUNCATE';

/* Nothing for PUBLIC: access is granted per role with the functions above. */
REVOKE ALL ON ALL TABLES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.refuse_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.evlog_append(text, timestamptz, text, text, text, text),
    @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text),
    @extschema@.evlog_append_batch(jsonb),
    @extschema@.evlog_append_batch(text[], timestamptz[], text[], text[], jsonb[], text[]),
    @extschema@.evlog_last_seq(),
    @extschema@.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer),
    @extschema@.evlog_register_kind(text, text),
    @extschema@.evlog_grant_reader(regrole),
    @extschema@.evlog_grant_writer(regrole)
FROM PUBLIC;
