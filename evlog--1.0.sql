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
COMMENT ON COLUMN evlog.queue_state.epoch_start_ticket IS 'last ticket handed out when the epoch began (NULL: no epoch yet)';
COMMENT ON COLUMN evlog.queue_state.flushed_in_epoch IS 'entries with a ticket in the epoch accounted for: written, dead-lettered, dropped and recorded, or rolled back';
COMMENT ON COLUMN evlog.queue_state.clean_shutdown IS 'the epoch began at a clean shutdown that had drained the queue';
COMMENT ON COLUMN evlog.queue_state.epoch_started_at IS 'when the epoch began';
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
    sqlstate    text NOT NULL
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
COMMENT ON VIEW evlog.queue_status IS 'one row per database using evlog_enqueue: queue size and use, counters since server start, the writer';
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
COMMENT ON COLUMN evlog.queue_status.last_error IS 'error of the last failed batch, until a batch succeeds';
COMMENT ON COLUMN evlog.queue_status.last_flush_at IS 'when the last batch committed';
COMMENT ON COLUMN evlog.queue_status.worker_pid IS 'pid of the database''s writer (NULL: none running)';

CREATE VIEW evlog.gaps AS
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
    EXECUTE pg_catalog.format('GRANT SELECT ON evlog.inflight, evlog.consumer_lag, evlog.queue_status, evlog.gaps TO %s', role);
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION %1$I.evlog_last_seq(), '
        '%1$I.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer), '
        '%1$I.evlog_safe_seq(), %1$I.evlog_read(bigint, integer), %1$I.evlog_inflight(), '
        '%1$I.evlog_consumer_create(text, bigint), %1$I.evlog_consumer_next(text, integer), '
        '%1$I.evlog_consumer_ack(text, bigint), %1$I.evlog_queue_status() TO %2$s',
        '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_reader(regrole) IS
    'let a role read the log (SELECT, evlog_query, evlog_read, named consumers) and nothing else';

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
        '%1$I.evlog_enqueue(text, timestamptz, text, text, text, text), '
        '%1$I.evlog_enqueue(text, timestamptz, text, text, jsonb, text), '
        '%1$I.evlog_flush(interval) TO %2$s',
        '@extschema@', role);
END
$$;
COMMENT ON FUNCTION @extschema@.evlog_grant_writer(regrole) IS
    'let a role append (and enqueue) events and read the log; it still cannot UPDATE, DELETE or TRUNCATE';

/* Nothing for PUBLIC: access is granted per role with the functions above. */
REVOKE ALL ON ALL TABLES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.refuse_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.evlog_append(text, timestamptz, text, text, text, text),
    @extschema@.evlog_append(text, timestamptz, text, text, jsonb, text),
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
    @extschema@.evlog_register_kind(text, text),
    @extschema@.evlog_grant_reader(regrole),
    @extschema@.evlog_grant_writer(regrole)
FROM PUBLIC;
