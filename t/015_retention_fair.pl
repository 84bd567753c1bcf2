# Scheduled retention is fair across databases: with fewer background
# worker slots than databases, every database still gets its round (a
# database whose worker could not start keeps its turn instead of going
# back behind the ones at the front of the list), and a prune that cannot
# get its lock skips the round instead of holding the database's turn.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my @dbs = map { "app$_" } 1 .. 5;
my $node = PostgreSQL::Test::Cluster->new('retention_fair');
$node->init;
# evlog's launcher and the logical replication launcher take two slots:
# two are left for the retention workers of seven databases (postgres and
# template1 included)
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
max_worker_processes = 4
max_parallel_workers = 0
max_logical_replication_workers = 0
evlog.partition_size = 100
evlog.retention_check_interval = '2s'
evlog.maintenance_lock_wait = '1s'
log_min_messages = warning
});
$node->start;
for my $db (@dbs)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
		CREATE EXTENSION evlog;
		SELECT count(evlog_append('agent_event', now() - interval '365 days', 'h', NULL, '{}')) FROM generate_series(1, 250);
		SELECT evlog_create_partitions(3)});
	# recent events close the old partitions
	$node->safe_psql($db, q{
		SELECT count(evlog_append('agent_event', now(), 'h', NULL, '{}')) FROM generate_series(1, 100)});
}

# app3's log is held by an idle reader: its prune gives up, the round is
# skipped, and the others are not held up
my $idle = $node->background_psql('app3');
$idle->query_safe('BEGIN; SELECT count(*) FROM evlog.event_log');

is(join(',', map { $node->safe_psql($_, q{SELECT count(*) FROM evlog.event_log WHERE kind = 'retention'}) } @dbs),
	'0,0,0,0,0', 'nothing pruned before evlog.retention is set');
my $t0 = time();
$node->append_conf('postgresql.conf', "evlog.retention = '30d'");
$node->reload;
for my $db (grep { $_ ne 'app3' } @dbs)
{
	ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM evlog.event_log WHERE kind = 'retention'}),
		"$db got its round");
}
my $all = time() - $t0;
diag sprintf('every database but the held one pruned %.1f s after evlog.retention was set', $all);
cmp_ok($all, '<', 60, 'within a minute on a loaded machine (two check intervals plus worker start-ups)');
ok($node->wait_for_log(qr/evlog retention skipped this round: evlog_prune\(\) could not lock "event_log"/),
	'the held database\'s round was skipped, with the reason in the log');
is($node->safe_psql('app3', q{SELECT count(*) FROM evlog.event_log WHERE kind = 'retention'}), '0',
	'nothing pruned under the idle reader');
$idle->query_safe('COMMIT');
$idle->quit;
ok($node->poll_query_until('app3', q{SELECT count(*) > 0 FROM evlog.event_log WHERE kind = 'retention'}),
	'app3 is pruned at a later round, once the reader is gone');

$node->stop;
done_testing();
