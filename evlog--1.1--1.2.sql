/*
 * evlog--1.1--1.2.sql — update evlog 1.1 to 1.2.  A fresh CREATE EXTENSION
 * evlog runs evlog--1.0.sql, evlog--1.0--1.1.sql and then this script.
 *
 * What changes (one section per concern below).
 *	- asynchronous append: evlog.queue_state's comments say where an epoch
 *	  now begins (queues and writers on first use, crash accounting that
 *	  counts events queued before the writer's first pass); no new objects.
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.2'" to load this file. \quit

-- ==== asynchronous append ====
-- The C library (queue.c, worker.c) changed how an epoch begins; the
-- table is unchanged, so a database still at 1.1 works with it too.
COMMENT ON COLUMN evlog.queue_state.epoch_start_ticket IS 'tickets above this belong to the epoch: at a clean shutdown the last ticket handed out, after a crash-accounting pass the ticket below the first one of the new server lifetime (NULL: no epoch yet)';
COMMENT ON COLUMN evlog.queue_state.epoch_started_at IS 'when the epoch began; an epoch begun before the current shared memory was created means the writer''s crash-accounting pass is still due';
