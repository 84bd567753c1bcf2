--
-- enqueue_limits (evlog preloaded): evlog_enqueue refuses at call time what
-- evlog_append refuses, with the same SQLSTATE: the input limits, and an
-- event_id already in the log with different content.
--
\set VERBOSITY terse
SET client_min_messages = warning;
DROP DATABASE IF EXISTS evlog_enqueue_limits;
CREATE DATABASE evlog_enqueue_limits;
\c evlog_enqueue_limits
SET client_min_messages = warning;
\set VERBOSITY sqlstate
CREATE EXTENSION evlog;

-- each refused by evlog_append, then by evlog_enqueue, before a ticket
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', repeat('h', 3000), NULL, '{}');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', repeat('h', 3000), NULL, '{}');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', repeat('r', 1025), '{}');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{}', repeat('e', 1025));
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"a":[1e131071]}');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"a":[1e131071]}'::jsonb);
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"a":1e1000000}');

-- an event_id already in the log: the same content is accepted (the writer
-- will return the stored seq), different content is 23505 now
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"n":1}', 'id-1') AS stored_seq \gset
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"n":2}', 'id-1');
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"n":2}'::jsonb, 'id-1');
SELECT NOT is_called AS no_ticket_handed_out FROM evlog.enqueue_ticket_seq;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"n":1}', 'id-1') > 0 AS same_content_queued;
SELECT evlog_flush();
SELECT count(*) AS rows_with_id_1 FROM evlog.event_log WHERE event_id = 'id-1';
SELECT count(*) AS dead_letters FROM evlog.dead_letter;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE evlog_enqueue_limits WITH (FORCE);
