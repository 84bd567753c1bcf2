--
-- core_validation: bad input is an ERROR with a precise SQLSTATE and
-- message, and nothing is written.
--
CREATE EXTENSION IF NOT EXISTS evlog;
\set VERBOSITY verbose
\set SHOW_CONTEXT never
SELECT evlog_last_seq() AS start \gset

-- seed 001: malformed_payload_rejected_at_append
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, 'not-json{');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '{"a": 1,}');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, E'{"a":\n  [1, 2}');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '');
-- JSON, but not an object
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '[1,2]');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '42');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, 'null');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, '"text"'::jsonb);
-- kinds
SELECT evlog_append('', '2026-05-16 01:00:00+00', 'h1', NULL, '{}');
SELECT evlog_append('no_such_kind', '2026-05-16 01:00:00+00', 'h1', NULL, '{}');
-- NULLs where a value is required, named
SELECT evlog_append(NULL, '2026-05-16 01:00:00+00', 'h1', NULL, '{}');
SELECT evlog_append('agent_event', NULL, 'h1', NULL, '{}');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, NULL::text);
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, NULL::jsonb);
-- infinite timestamps
SELECT evlog_append('agent_event', 'infinity', 'h1', NULL, '{}');
SELECT evlog_append('agent_event', '-infinity', 'h1', NULL, '{}');
-- payload size limit (a GUC only superusers may change)
SET evlog.max_payload_bytes = 64;
SHOW evlog.max_payload_bytes;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL,
                    json_build_object('pad', repeat('x', 100))::text);
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL,
                    jsonb_build_object('pad', repeat('x', 100)));
RESET evlog.max_payload_bytes;
SHOW evlog.max_payload_bytes;
SET evlog.no_such_setting = 1;
-- NUL bytes and invalid UTF-8 cannot reach a text argument from SQL: the
-- server refuses them at input, before evlog is called
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', E'h\000', NULL, '{}');
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, convert_from('\x7b22a0223a317d'::bytea, 'UTF8'));
-- jsonb's own errors keep their SQLSTATE (22P05, 54001); shown as the
-- SQLSTATE alone, since the server's message and location are not ours
\set VERBOSITY sqlstate
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL, E'{"a":"\\u0000"}');
-- deep nesting is refused by the parser, not by a crash
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h1', NULL,
                    repeat('{"a":', 100000) || '1' || repeat('}', 100000)) IS NULL AS deep;
\set VERBOSITY terse

-- none of the above wrote anything
SELECT evlog_last_seq() = :start AS nothing_written;
SELECT nextval('evlog.event_log_seq_seq') = :start + 1 AS seq_not_consumed;
