/*
 * evlog--1.1--1.2.sql — update evlog 1.1 to 1.2.  A fresh CREATE EXTENSION
 * evlog runs evlog--1.0.sql, evlog--1.0--1.1.sql and then this script.
 *
 * What changes (one section per concern below).
 *   - input limits: evlog_create_partitions' comment (at most 64 partitions per call)
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.2'" to load this file. \quit

-- ==== input limits ====
-- The limits themselves live in the C library (payload printed size, number
-- digits, id lengths, partitions per transaction, the log's column layout),
-- so a database still at 1.1 gets them too; only the documentation of
-- evlog_create_partitions changes here.
COMMENT ON FUNCTION @extschema@.evlog_create_partitions(integer, bigint) IS
    'create partitions of evlog.event_log (evlog.partition_size seqs each) covering ahead (0 to 64) partitions beyond the sequence''s position, and at least up to seq upto; at most 64 per call, the first one spanning any larger gap of spent seqs; returns how many it created';
