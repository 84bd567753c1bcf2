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

/* Named consumers with durable positions (at-least-once). */
CREATE TABLE evlog.consumers (
    name       text PRIMARY KEY,
    position   bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acked_at   timestamptz
);
COMMENT ON TABLE evlog.consumers IS 'named consumers and the seq each has acknowledged';
COMMENT ON COLUMN evlog.consumers.name IS 'consumer name';
COMMENT ON COLUMN evlog.consumers.position IS 'highest seq acknowledged; evlog_consumer_next returns rows after it';
COMMENT ON COLUMN evlog.consumers.created_at IS 'when the consumer was created';
COMMENT ON COLUMN evlog.consumers.acked_at IS 'when the consumer last acknowledged';
COMMENT ON INDEX evlog.consumers_pkey IS 'one row per consumer';
SELECT pg_catalog.pg_extension_config_dump('evlog.consumers', '');

CREATE FUNCTION @extschema@.evlog_consumer_create(name text, after_seq bigint DEFAULT 0)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pos bigint;
BEGIN
    SELECT c.position INTO pos FROM evlog.consumers c
     WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_next.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create it with evlog_consumer_create().';
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.evlog_read(pos, max_rows);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_consumer_next(text, integer) IS
    'the next committed events after the consumer''s acknowledged position (does not move it: acknowledge with evlog_consumer_ack)';

CREATE FUNCTION @extschema@.evlog_consumer_ack(name text, seq bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
    RETURNING c.position INTO pos;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    RETURN pos;
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_consumer_ack(text, bigint) IS
    'acknowledge every event up to seq for a consumer; positions never move backwards; returns the new position';

CREATE FUNCTION @extschema@.evlog_consumer_drop(name text)
RETURNS boolean
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    WITH d AS (DELETE FROM evlog.consumers c WHERE c.name OPERATOR(pg_catalog.=) evlog_consumer_drop.name RETURNING 1)
    SELECT EXISTS (SELECT FROM d);
END;
COMMENT ON FUNCTION @extschema@.evlog_consumer_drop(text) IS 'forget a consumer and its position; true if it existed';

CREATE VIEW evlog.consumer_lag AS
SELECT c.name, c.position, s.safe_seq,
       (SELECT pg_catalog.count(*) FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position AND e.seq OPERATOR(pg_catalog.<=) s.safe_seq) AS events_behind,
       (SELECT e.ts FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position ORDER BY e.seq LIMIT 1) AS oldest_unread_ts,
       c.acked_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) c.acked_at AS since_ack
  FROM evlog.consumers c, (SELECT @extschema@.evlog_safe_seq() AS safe_seq) s;
COMMENT ON VIEW evlog.consumer_lag IS 'how far each consumer is behind: in events and in time';
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

CREATE FUNCTION evlog.refuse_chain_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('%s is refused for every role, the owner included.', TG_OP),
              HINT = 'Links are written only by evlog_seal(); anchors only by retention.';
END
$$;
COMMENT ON FUNCTION evlog.refuse_chain_change() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE on evlog.chain and evlog.chain_anchor';

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

CREATE VIEW evlog.chain_status AS
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
 */
CREATE VIEW evlog.chain_export AS
SELECT a.seq, true AS anchor,
       pg_catalog.json_build_object('anchor_seq', a.seq, 'hash', pg_catalog.encode(a.hash, 'hex'))::text AS line
  FROM evlog.chain_anchor a
UNION ALL
SELECT COALESCE(c.seq, e.seq), false,
       pg_catalog.json_build_object(
           'seq', COALESCE(c.seq, e.seq),
           'ts', pg_catalog.to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
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
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.inflight, evlog.consumer_lag TO %s', role);
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.chain, evlog.chain_anchor, evlog.chain_status, evlog.chain_export TO %s', role);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION %1$I.evlog_last_seq(), '
        '%1$I.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer), '
        '%1$I.evlog_safe_seq(), %1$I.evlog_read(bigint, integer), %1$I.evlog_inflight(), '
        '%1$I.evlog_consumer_create(text, bigint), %1$I.evlog_consumer_next(text, integer), '
        '%1$I.evlog_consumer_ack(text, bigint), '
        '%1$I.evlog_verify_chain(bigint, bigint), %1$I.evlog_chain_head() TO %2$s',
        '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_reader(regrole) IS
    'let a role read the log (SELECT, evlog_query, evlog_read, named consumers) and verify its hash chain, and nothing else';

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
        '%1$I.evlog_append(text, timestamptz, text, text, jsonb, text) TO %2$s',
        '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_writer(regrole) IS
    'let a role append events and read the log; it still cannot UPDATE, DELETE or TRUNCATE';

/* Nothing for PUBLIC: access is granted per role with the functions above. */
REVOKE ALL ON ALL TABLES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.refuse_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.refuse_chain_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.evlog_append(text, timestamptz, text, text, text, text),
    @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text),
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
    @extschema@.evlog_grant_writer(regrole)
FROM PUBLIC;
