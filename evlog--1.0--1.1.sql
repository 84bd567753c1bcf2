/*
 * evlog--1.0--1.1.sql — update evlog 1.0 to 1.1 (issue 7: retention by
 * partition, logical-replication fan-out).  A fresh CREATE EXTENSION evlog
 * runs evlog--1.0.sql and then this script.
 *
 * What changes:
 *   - evlog.event_log becomes partitioned by RANGE (seq).  The 1.0 table is
 *     kept, renamed, and ATTACHed as the first partition (no row is copied);
 *     an empty 1.0 table (a fresh install) is dropped instead, and the first
 *     append creates the first partition.  Partitions are not extension
 *     members: pg_dump dumps each one (definition, ATTACH, rows), and
 *     CREATE EXTENSION on restore creates the parent alone.
 *   - event_id uniqueness moves to evlog.event_ids (a unique index on a
 *     seq-partitioned table cannot cover event_id).
 *   - everything bound to the 1.0 table's OID or row type is created again
 *     on the parent: triggers, the derived tables' foreign keys, the
 *     SQL-standard function bodies and views, and the functions returning
 *     SETOF evlog.event_log (their grants are carried over).
 *   - new: kind "retention", evlog_prune, evlog_create_partitions,
 *     evlog.partition_summaries and evlog_summarise_partitions,
 *     evlog.watermark and evlog_publish_watermark.
 *   - the append-only trigger functions become C, so that evlog_prune, and
 *     nothing else, can remove chain links and event_id entries.
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own 1.0 functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.1'" to load this file. \quit

/* ------------------------------------------------------------------------
 * Initial privileges.  A GRANT or REVOKE run by an extension script records
 * the object's privileges at that moment, user grants included, as the
 * extension's initial privileges (pg_init_privs), which pg_dump leaves out
 * of dumps, taking them for something CREATE EXTENSION recreates.  Keep
 * them as the 1.0 install recorded them, and put them back at the end.
 * ------------------------------------------------------------------------ */

CREATE TABLE evlog.update_init_privs AS
SELECT i.objoid, i.classoid, i.objsubid, i.initprivs
  FROM pg_catalog.pg_init_privs i
  JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) i.classoid
                             AND d.objid OPERATOR(pg_catalog.=) i.objoid
 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
   AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e
                                          WHERE e.extname OPERATOR(pg_catalog.=) 'evlog')
   AND d.deptype OPERATOR(pg_catalog.=) 'e';

/* ------------------------------------------------------------------------
 * Kinds
 * ------------------------------------------------------------------------ */

INSERT INTO evlog.kinds (kind, description) VALUES
    ('retention', 'evlog_prune removed old events: payload gives the cut, the seq range, the count and the partitions dropped');
SELECT pg_catalog.pg_extension_config_dump('evlog.kinds',
    $$WHERE kind NOT IN ('agent_event', 'plan_action', 'effect', 'gate_decision',
                         'verify_outcome', 'manifest_poll', 'rollout_event', 'gap', 'retention')$$);

/* ------------------------------------------------------------------------
 * Append-only triggers in C: evlog_prune's bypass lives in the library
 * ------------------------------------------------------------------------ */

CREATE OR REPLACE FUNCTION evlog.refuse_change() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_refuse_change'
LANGUAGE C;
CREATE OR REPLACE FUNCTION evlog.refuse_chain_change() RETURNS trigger
AS 'MODULE_PATHNAME', 'evlog_refuse_chain_change'
LANGUAGE C;
COMMENT ON FUNCTION evlog.refuse_chain_change() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE on evlog.chain, evlog.chain_anchor and evlog.event_ids (evlog_prune alone removes links and entries of pruned events)';

/* ------------------------------------------------------------------------
 * event_id uniqueness: a side table
 * ------------------------------------------------------------------------ */

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
INSERT INTO evlog.event_ids (event_id, seq)
SELECT e.event_id, e.seq FROM evlog.event_log e WHERE e.event_id IS NOT NULL;

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
    'create partitions of evlog.event_log (evlog.partition_size seqs each) covering ahead partitions beyond the sequence''s position, and at least up to seq upto; returns how many it created';

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

CREATE FUNCTION @extschema@.evlog_summarise_partitions()
RETURNS integer
AS 'MODULE_PATHNAME', 'evlog_summarise_partitions'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_summarise_partitions() IS
    'count the events of every closed partition not yet summarised (the partition worker does this as the log grows; run it after a bulk load); returns how many it summarised';

/* ------------------------------------------------------------------------
 * The log becomes partitioned by seq
 * ------------------------------------------------------------------------ */

-- grants on the 1.0 table (evlog_grant_reader/writer gave SELECT) and on
-- the functions returning SETOF evlog.event_log, to put back on the new ones
CREATE TABLE evlog.update_grants AS
SELECT pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
                         p.oid::pg_catalog.regprocedure::text,
                         CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                              ELSE pg_catalog.quote_ident(r.rolname) END) AS stmt
  FROM pg_catalog.pg_proc p
 CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
 WHERE p.oid OPERATOR(pg_catalog.=) ANY (ARRAY[
           '@extschema@.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer)'::pg_catalog.regprocedure,
           '@extschema@.evlog_read(bigint, integer)'::pg_catalog.regprocedure,
           '@extschema@.evlog_consumer_next(text, integer)'::pg_catalog.regprocedure]::pg_catalog.oid[])
   AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
UNION ALL
SELECT pg_catalog.format('GRANT %s ON evlog.event_log TO %s', a.privilege_type,
                         CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                              ELSE pg_catalog.quote_ident(r.rolname) END)
  FROM pg_catalog.pg_class c
 CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
  LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
 WHERE c.oid OPERATOR(pg_catalog.=) 'evlog.event_log'::pg_catalog.regclass
   AND a.grantee OPERATOR(pg_catalog.<>) c.relowner;

-- what the parent will carry: the old table's row triggers and foreign keys
DROP TRIGGER event_log_no_update_delete ON evlog.event_log;
DROP TRIGGER event_log_derive ON evlog.event_log;
ALTER TABLE evlog.probe_failures DROP CONSTRAINT probe_failures_event_log_seq_fkey;
ALTER TABLE evlog.rollouts DROP CONSTRAINT rollouts_opened_event_log_seq_fkey;
ALTER TABLE evlog.rollouts DROP CONSTRAINT rollouts_last_transition_event_log_seq_fkey;
ALTER TABLE evlog.host_states DROP CONSTRAINT host_states_event_log_seq_fkey;
ALTER TABLE evlog.derived_skips DROP CONSTRAINT derived_skips_event_log_seq_fkey;
ALTER TABLE evlog.event_log DROP CONSTRAINT event_log_event_id_key;

ALTER TABLE evlog.event_log RENAME TO event_log_p0000000000000000000;
ALTER INDEX evlog.event_log_pkey RENAME TO event_log_p0000000000000000000_pkey;
ALTER INDEX evlog.event_log_host_ts_idx RENAME TO event_log_p0000000000000000000_host_id_ts_idx;
ALTER INDEX evlog.event_log_rollout_seq_idx RENAME TO event_log_p0000000000000000000_rollout_id_seq_idx;
ALTER INDEX evlog.event_log_kind_ts_idx RENAME TO event_log_p0000000000000000000_kind_ts_idx;
ALTER INDEX evlog.event_log_ts_brin_idx RENAME TO event_log_p0000000000000000000_ts_idx;
ALTER SEQUENCE evlog.event_log_seq_seq OWNED BY NONE;

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
-- lookups by event_id (the uniqueness itself is evlog.event_ids')
CREATE INDEX event_log_event_id_idx   ON evlog.event_log (event_id);

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
COMMENT ON INDEX evlog.event_log_event_id_idx IS 'reads by event_id; uniqueness is kept by evlog.event_ids';

/* Append-only, on the parent; row triggers are cloned to every partition. */
CREATE TRIGGER event_log_no_update_delete
    BEFORE UPDATE OR DELETE ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION evlog.refuse_change();
CREATE TRIGGER event_log_no_truncate
    BEFORE TRUNCATE ON evlog.event_log
    FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_change();
CREATE TRIGGER event_log_derive
    AFTER INSERT ON evlog.event_log
    FOR EACH ROW EXECUTE FUNCTION evlog.derive_trigger();
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_update_delete;
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_truncate;
ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_derive;

/* ------------------------------------------------------------------------
 * Functions and views bound to the 1.0 table
 * ------------------------------------------------------------------------ */

DROP FUNCTION @extschema@.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer);
DROP FUNCTION @extschema@.evlog_consumer_next(text, integer);
DROP FUNCTION @extschema@.evlog_read(bigint, integer);

CREATE OR REPLACE FUNCTION @extschema@.evlog_last_seq()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.max(e.seq), 0) FROM evlog.event_log e;
END;

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

CREATE FUNCTION @extschema@.evlog_read(after_seq bigint, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
AS 'MODULE_PATHNAME', 'evlog_read'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.evlog_read(bigint, integer) IS
    'committed events with seq > after_seq, in seq order, stopping before the lowest seq still in flight; resume from the last seq received to get every event exactly once';

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
    'the next committed events after the consumer''s acknowledged position (does not move it: acknowledge with evlog_consumer_ack); a position below a pruned prefix resumes at the first remaining event';

REVOKE ALL ON FUNCTION
    @extschema@.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer),
    @extschema@.evlog_read(bigint, integer),
    @extschema@.evlog_consumer_next(text, integer)
FROM PUBLIC;

-- The grants put back are the database's, not the extension's: the
-- initial privileges of the new log and the recreated functions are those
-- of a fresh install, recorded here (see "Initial privileges" above).
REVOKE ALL ON evlog.event_log FROM PUBLIC;
INSERT INTO evlog.update_init_privs
SELECT i.objoid, i.classoid, i.objsubid, i.initprivs
  FROM pg_catalog.pg_init_privs i
 WHERE (i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
        AND i.objoid OPERATOR(pg_catalog.=) 'evlog.event_log'::pg_catalog.regclass)
    OR (i.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND i.objoid OPERATOR(pg_catalog.=) ANY (ARRAY[
           '@extschema@.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer)'::pg_catalog.regprocedure,
           '@extschema@.evlog_read(bigint, integer)'::pg_catalog.regprocedure,
           '@extschema@.evlog_consumer_next(text, integer)'::pg_catalog.regprocedure]::pg_catalog.oid[]));

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT u.stmt FROM evlog.update_grants u LOOP
        EXECUTE g.stmt;
    END LOOP;
END
$$;
DROP TABLE evlog.update_grants;


CREATE OR REPLACE VIEW evlog.consumer_lag AS
SELECT c.name, c.position, s.safe_seq,
       (SELECT pg_catalog.count(*) FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position AND e.seq OPERATOR(pg_catalog.<=) s.safe_seq) AS events_behind,
       (SELECT e.ts FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) c.position ORDER BY e.seq LIMIT 1) AS oldest_unread_ts,
       c.acked_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) c.acked_at AS since_ack
  FROM evlog.consumers c, (SELECT @extschema@.evlog_safe_seq() AS safe_seq) s;

CREATE OR REPLACE VIEW evlog.chain_status AS
SELECT l.head_seq, s.safe_seq, COALESCE(c.seq, 0) AS sealed_seq,
       (SELECT pg_catalog.count(*) FROM evlog.event_log e
         WHERE e.seq OPERATOR(pg_catalog.>) COALESCE(c.seq, 0)) AS events_behind,
       c.sealed_at,
       pg_catalog.now() OPERATOR(pg_catalog.-) c.sealed_at AS since_sealed
  FROM (SELECT @extschema@.evlog_last_seq() AS head_seq) l,
       (SELECT @extschema@.evlog_safe_seq() AS safe_seq) s
  LEFT JOIN LATERAL (SELECT ch.seq, ch.sealed_at FROM evlog.chain ch
                      ORDER BY ch.seq DESC LIMIT 1) c ON true;

CREATE OR REPLACE VIEW evlog.chain_export AS
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

CREATE OR REPLACE VIEW evlog.gaps AS
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

/*
 * The 1.0 table: attached as the partition up to the sequence's position
 * (the next partition follows it), or dropped when it never held a row.
 * Either way it stops being an extension member, like every partition.
 */
DO $$
DECLARE
    pos bigint;
    n bigint;
    r record;
BEGIN
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END INTO pos
      FROM evlog.event_log_seq_seq s;
    SELECT pg_catalog.count(*) INTO n FROM evlog.event_log_p0000000000000000000;
    EXECUTE 'ALTER EXTENSION evlog DROP TABLE evlog.event_log_p0000000000000000000';
    IF n OPERATOR(pg_catalog.=) 0 AND pos OPERATOR(pg_catalog.=) 0 THEN
        DROP TABLE evlog.event_log_p0000000000000000000;
    ELSE
        EXECUTE pg_catalog.format('ALTER TABLE evlog.event_log ATTACH PARTITION evlog.event_log_p0000000000000000000'
                                  ' FOR VALUES FROM (MINVALUE) TO (%s)', pos OPERATOR(pg_catalog.+) 1);
        EXECUTE pg_catalog.format('COMMENT ON TABLE evlog.event_log_p0000000000000000000 IS %L',
                                  pg_catalog.format('partition of evlog.event_log: the evlog 1.0 table, seqs up to %s (dropped by evlog_prune)', pos));
        -- the next partition, so that the next append has one; made here, it
        -- would be an extension member: it must not be (pg_dump)
        PERFORM @extschema@.evlog_create_partitions(1);
        FOR r IN SELECT i.inhrelid::pg_catalog.regclass AS part FROM pg_catalog.pg_inherits i
                  WHERE i.inhparent OPERATOR(pg_catalog.=) 'evlog.event_log'::pg_catalog.regclass
                    AND EXISTS (SELECT FROM pg_catalog.pg_depend d
                                 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                                   AND d.objid OPERATOR(pg_catalog.=) i.inhrelid
                                   AND d.deptype OPERATOR(pg_catalog.=) 'e') LOOP
            EXECUTE pg_catalog.format('ALTER EXTENSION evlog DROP TABLE %s', r.part);
        END LOOP;
    END IF;
END
$$;

/* Derived tables reference the parent. */
ALTER TABLE evlog.probe_failures ADD CONSTRAINT probe_failures_event_log_seq_fkey
    FOREIGN KEY (event_log_seq) REFERENCES evlog.event_log (seq);
ALTER TABLE evlog.rollouts ADD CONSTRAINT rollouts_opened_event_log_seq_fkey
    FOREIGN KEY (opened_event_log_seq) REFERENCES evlog.event_log (seq);
ALTER TABLE evlog.rollouts ADD CONSTRAINT rollouts_last_transition_event_log_seq_fkey
    FOREIGN KEY (last_transition_event_log_seq) REFERENCES evlog.event_log (seq);
ALTER TABLE evlog.host_states ADD CONSTRAINT host_states_event_log_seq_fkey
    FOREIGN KEY (event_log_seq) REFERENCES evlog.event_log (seq);
ALTER TABLE evlog.derived_skips ADD CONSTRAINT derived_skips_event_log_seq_fkey
    FOREIGN KEY (event_log_seq) REFERENCES evlog.event_log (seq);
-- evlog_prune deletes by these and DETACH checks them: index them
CREATE INDEX rollouts_opened_event_log_seq_idx ON evlog.rollouts (opened_event_log_seq);
CREATE INDEX host_states_event_log_seq_idx ON evlog.host_states (event_log_seq);
COMMENT ON INDEX evlog.rollouts_opened_event_log_seq_idx IS 'pruning finds the rollouts opened by pruned events';
COMMENT ON INDEX evlog.host_states_event_log_seq_idx IS 'pruning finds the states set by pruned events';

/* user views' handlers still take the 1.0 row type: say so */
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT d.name, d.handler FROM evlog.derived_views d LOOP
        RAISE WARNING 'evlog: handler % of derived view % takes the 1.0 row type of evlog.event_log', v.handler, v.name
            USING HINT = 'Recreate the handler as function(evlog.event_log) and register the view again (evlog_unregister_view, evlog_register_view).';
    END LOOP;
END
$$;

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

CREATE OR REPLACE FUNCTION @extschema@.evlog_grant_reader(role regrole)
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
    EXECUTE pg_catalog.format(
        'GRANT EXECUTE ON FUNCTION %1$I.evlog_last_seq(), '
        '%1$I.evlog_query(timestamptz, timestamptz, text, text, text[], bigint, integer), '
        '%1$I.evlog_safe_seq(), %1$I.evlog_read(bigint, integer), %1$I.evlog_inflight(), '
        '%1$I.evlog_consumer_create(text, bigint), %1$I.evlog_consumer_next(text, integer), '
        '%1$I.evlog_consumer_ack(text, bigint), %1$I.evlog_queue_status(), '
        '%1$I.evlog_verify_chain(bigint, bigint), %1$I.evlog_chain_head() TO %2$s',
        '@extschema@', role);
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA evlog FROM PUBLIC;
REVOKE ALL ON FUNCTION evlog.watermark_applied() FROM PUBLIC;
REVOKE ALL ON FUNCTION
    @extschema@.evlog_prune(timestamptz),
    @extschema@.evlog_create_partitions(integer, bigint),
    @extschema@.evlog_summarise_partitions(),
    @extschema@.evlog_publish_watermark()
FROM PUBLIC;

-- initial privileges as recorded before this script's grants and revokes
-- (see "Initial privileges" at the top)
UPDATE pg_catalog.pg_init_privs i SET initprivs = u.initprivs
  FROM evlog.update_init_privs u
 WHERE i.objoid OPERATOR(pg_catalog.=) u.objoid AND i.classoid OPERATOR(pg_catalog.=) u.classoid
   AND i.objsubid OPERATOR(pg_catalog.=) u.objsubid;
DROP TABLE evlog.update_init_privs;
