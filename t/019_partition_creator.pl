# The partition creator is not held back by the summaries.  After creating
# partitions, evlog counts the partitions the log has moved past
# (evlog.partition_summaries); that count can take long (a large restored
# log, whose summaries no longer match) or wait for a lock on the summary
# table.  Appends that need a partition meanwhile must get it: counting must
# not keep the one-creator-per-database lock.  Deterministic: a session
# keeps evlog.partition_summaries locked for as long as the test runs, so
# counting waits (evlog.maintenance_lock_wait is long), while one statement
# appends across many partition boundaries.
#
# The creator works as the log's owner, who need not be able to log in: the
# superuser who installed evlog may have been made NOLOGIN since.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('partition_creator');
$node->init;
$node->append_conf('postgresql.conf', qq{evlog.partition_size = 16
evlog.maintenance_lock_wait = '10min'
log_min_messages = warning});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{
	CREATE EXTENSION evlog;
	CREATE ROLE app LOGIN;
	SELECT evlog_grant_writer('app');
});
# committed events: the first partitions are closed, so counting reads
# the summary table
$node->safe_psql($db, q{
	SELECT count(evlog_append('agent_event', '2000-01-01', 'old', NULL, '{}')) FROM generate_series(1, 40)});

my $idle = $node->background_psql($db);
$idle->query_safe('BEGIN; LOCK TABLE evlog.partition_summaries IN ACCESS EXCLUSIVE MODE');

# 200 appends in one statement: about twelve partitions it must wait for
my ($rc, $out, $err) = $node->psql($db, q{
	SET ROLE app;
	SET evlog.partition_wait = '60s';
	SELECT count(evlog_append('agent_event', '2000-01-01', 'burst', NULL, '{}')) FROM generate_series(1, 200)});
is($rc, 0, 'appends across partition boundaries got their partitions while counting waited') or diag $err;
is($out, '200', 'all 200 appended');

# counting still waits for the lock: it was never given up
ok($node->safe_psql($db, q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event_type = 'Lock'
	   AND query LIKE 'evlog: summarising%'}) eq 't', 'counting is still waiting for the summary table');

$idle->query_safe('COMMIT');
$idle->quit;

# once the lock is gone the closed partitions get their summaries
$node->safe_psql($db, q{SELECT evlog_append('agent_event', '2000-01-01', 'after', NULL, '{}')});
$node->poll_query_until($db, q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE 'evlog: summarising%'})
  or die 'counting never finished';
is($node->safe_psql($db, q{SELECT count(*) > 0 FROM evlog.partition_summaries}), 't',
	'closed partitions are summarised once the lock is released');

# ---- the log's owner cannot log in
$node->safe_psql('postgres', q{
	CREATE ROLE installer SUPERUSER LOGIN;
	CREATE DATABASE nologin OWNER installer;
});
$node->safe_psql('nologin', q{
	SET ROLE installer;
	CREATE EXTENSION evlog;
	SELECT evlog_grant_writer('app');
});
$node->safe_psql('postgres', 'ALTER ROLE installer NOLOGIN');
($rc, $out, $err) = $node->psql('nologin', q{
	SET ROLE app;
	SET evlog.partition_wait = '60s';
	SELECT count(evlog_append('agent_event', '2000-01-01', 'nologin', NULL, '{}')) FROM generate_series(1, 50)});
is($rc, 0, 'appends get partitions when the log\'s owner cannot log in') or diag $err;
is($node->safe_psql('nologin', q{
	SELECT string_agg(DISTINCT c.relowner::regrole::text, ',')
	  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	 WHERE i.inhparent = 'evlog.event_log'::regclass}), 'installer', 'the partitions belong to the log\'s owner');

$node->stop;
done_testing();
