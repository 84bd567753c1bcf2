/*
 * evlog--1.5--1.6.sql — update evlog 1.5 to 1.6.
 *
 * What changes: evlog_stream_head(stream, id), the read a conditional
 * appender makes before deciding, is evlog's C code (src/stream.c): it
 * looks in the log's partitions newest first and stops at the first that
 * holds the stream, as the conditional append's own check does.  As a
 * query on the log it was planned over every partition (some 0.1 ms each)
 * and read all their indexes, however recent the stream's head.  Same
 * answers, same privileges needed (SELECT on the log, or on seq and the
 * stream's column), row-level security applied as before.
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
