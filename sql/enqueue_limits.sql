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

-- what can only fail later is dead-lettered, and the role that enqueued it
-- sees it (evlog.my_dead_letters), while other writers do not: here the
-- same transaction appends the enqueued event_id with other content first
CREATE ROLE evlog_el_writer;
CREATE ROLE evlog_el_other;
SELECT evlog_grant_writer('evlog_el_writer');
SELECT evlog_grant_writer('evlog_el_other');
SET ROLE evlog_el_writer;
BEGIN;
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"n":1}', 'id-2') > 0 AS queued;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h', NULL, '{"n":2}', 'id-2') > 0 AS appended;
COMMIT;
SELECT evlog_flush();
SELECT event_id, payload, sqlstate FROM evlog.my_dead_letters;
SELECT count(*) FROM evlog.dead_letter;
RESET ROLE;
SET ROLE evlog_el_other;
SELECT count(*) AS others_see FROM evlog.my_dead_letters;
RESET ROLE;
SELECT count(*) AS all_dead_letters, bool_and(enqueued_by = 'evlog_el_writer'::regrole) AS named
  FROM evlog.dead_letter;

\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE evlog_enqueue_limits WITH (FORCE);
DROP ROLE evlog_el_writer, evlog_el_other;
