/*
 * evlog--1.4--1.5.sql — update evlog 1.4 to 1.5.
 *
 * What changes: every append writes one index entry fewer, and most
 * appends two fewer.
 *   - event_log_host_ts_idx (host_id, ts) is dropped.  evlog_query returns
 *     events in seq order, so its host filter is served at least as well by
 *     event_log_host_seq_idx (host_id, seq), which conditional appends
 *     have needed since 1.2; with a time range as well, the planner
 *     combines that index with the BRIN index on ts.
 *   - event_log_event_id_idx holds only the rows that have an event_id:
 *     lookups are always by a value, and the events without one (most of
 *     them) no longer each add an entry.
 * Building the new event_id index reads every partition of the log, and
 * appends wait for it (CREATE INDEX locks each partition in SHARE mode);
 * run the update when a pause of that length is acceptable.
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.5'" to load this file. \quit

DROP INDEX evlog.event_log_host_ts_idx;

DROP INDEX evlog.event_log_event_id_idx;
CREATE INDEX event_log_event_id_idx ON evlog.event_log (event_id) WHERE event_id IS NOT NULL;
COMMENT ON INDEX evlog.event_log_event_id_idx IS 'reads by event_id (rows that have one); uniqueness is kept by evlog.event_ids';
COMMENT ON INDEX evlog.event_log_host_seq_idx IS
    'a host''s stream in seq order: its head for conditional appends, evlog_stream_head, evlog_stream_read and evlog_query''s host filter';
