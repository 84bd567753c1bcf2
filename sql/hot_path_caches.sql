--
-- hot_path_caches: what an append checks is cached per backend (catcache.c),
-- and every cached answer follows the catalog: a deleted or renamed kind,
-- a kind registered in a rolled-back (sub)transaction, a dropped and
-- recreated extension.
--
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS evlog;
RESET client_min_messages;
SELECT evlog_register_kind('cache_kind', 'registered, used, then removed');
SELECT evlog_append('cache_kind', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended;
-- the kind is now cached in this backend; removing it must be seen
DELETE FROM evlog.kinds WHERE kind = 'cache_kind';
SELECT evlog_append('cache_kind', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
-- renamed: the old name is gone, the new one works
SELECT evlog_register_kind('cache_kind2', 'to be renamed');
SELECT evlog_append('cache_kind2', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended;
UPDATE evlog.kinds SET kind = 'cache_kind3' WHERE kind = 'cache_kind2';
SELECT evlog_append('cache_kind2', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
SELECT evlog_append('cache_kind3', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended;
-- TRUNCATE of the registry (in a transaction rolled back afterwards)
BEGIN;
TRUNCATE evlog.kinds;
SELECT evlog_append('cache_kind3', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
ROLLBACK;
SELECT evlog_append('cache_kind3', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended;
-- a kind registered and used in a subtransaction that rolls back
BEGIN;
SAVEPOINT s;
SELECT evlog_register_kind('cache_kind4', 'rolled back');
SELECT evlog_append('cache_kind4', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended;
ROLLBACK TO SAVEPOINT s;
SELECT evlog_append('cache_kind4', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
ROLLBACK;
-- ... and in a transaction that rolls back
BEGIN;
SELECT evlog_register_kind('cache_kind5', 'rolled back');
SELECT evlog_append('cache_kind5', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended;
ROLLBACK;
SELECT evlog_append('cache_kind5', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
-- the extension dropped and created again: new relations, same names
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended;
SET client_min_messages = warning;
DROP EXTENSION evlog CASCADE;
RESET client_min_messages;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{}');
CREATE EXTENSION evlog;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', NULL, NULL, '{}') > 0 AS appended_again;
-- the trigger that resets the caches is part of the extension
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'evlog.kinds'::regclass AND NOT tgisinternal;
