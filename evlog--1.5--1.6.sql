/*
 * evlog--1.5--1.6.sql — update evlog 1.5 to 1.6.
 *
 * What changes: the stream readers are evlog's C code (src/stream.c).
 *   - evlog_stream_head(stream, id), the read a conditional appender makes
 *     before deciding, looks in the log's partitions newest first and
 *     stops at the first that holds the stream, as the conditional
 *     append's own check does.  As a query on the log it was planned over
 *     every partition (some 0.1 ms each) and read all their indexes,
 *     however recent the stream's head.  Same answers, same privileges
 *     needed (SELECT on the log, or on seq and the stream's column).
 *   - evlog_stream_read(stream, id, after_seq, max_rows) reads with a
 *     snapshot taken after evlog_safe_seq(), as evlog_read does.  It read
 *     with the caller's snapshot, which can predate a late commit below
 *     the horizon (in REPEATABLE READ, or a commit between the statement's
 *     start and the horizon): it could return a higher seq of the stream
 *     without a lower one, which a reader resuming after the last seq it
 *     received then skipped for good.  Now VOLATILE (its snapshot is its
 *     own) and PARALLEL UNSAFE, as evlog_read.  It reads the partitions
 *     from the one holding after_seq upwards.
 *   Both apply row-level security as before: where it is in force on the
 *   log for the caller, they run their query on the log.
 *
 * Locks: none beyond the function's own catalog row.
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, CREATE OR
 * REPLACE only for evlog's own functions.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.6'" to load this file. \quit

CREATE OR REPLACE FUNCTION @extschema@.evlog_stream_head(stream text, id text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'evlog_stream_head'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@.evlog_stream_read(
    stream text, id text, after_seq bigint DEFAULT 0, max_rows integer DEFAULT 1000)
RETURNS SETOF evlog.event_log
AS 'MODULE_PATHNAME', 'evlog_stream_read'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
