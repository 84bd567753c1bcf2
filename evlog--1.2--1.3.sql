/*
 * evlog--1.2--1.3.sql — update evlog 1.2 to 1.3.
 *
 * What changes (one section per concern below).
 *   - no stalls: (filled in by the section)
 *   - hot path: (filled in by the section)
 *   - structure: (filled in by the section)
 *
 * Script safety as in evlog--1.0.sql: schema-qualified names, plain CREATE
 * for new objects (CREATE OR REPLACE only for evlog's own functions and
 * views), OPERATOR(pg_catalog.x) in bodies.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION evlog UPDATE TO '1.3'" to load this file. \quit

-- ==== no stalls ====

-- ==== hot path ====

-- ==== structure ====
