# A queue nobody pushed into, and the writer's first append.
#
# A transaction that enqueued and rolled back leaves its database's queue
# with no writer (none was asked for: nothing was pushed); the queue must
# still be given back, and its rolled-back tickets recorded.
#
# The writer's first append into a database whose log has no partition yet
# (a fresh CREATE EXTENSION) while DROP DATABASE is waiting for the
# database's sessions to leave.  DROP DATABASE holds the database's lock
# meanwhile, so no new background worker can connect to it: the writer must
# not wait for one (a partition creator) to make the first partition, or it
# stays connected until DROP DATABASE gives up after 5 s.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time);
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('queue_first_append');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION evlog');
is($node->safe_psql('fresh', 'SELECT count(*) FROM pg_inherits WHERE inhparent = \'evlog.event_log\'::regclass'),
	'0', 'a fresh log has no partition');

# hold the writer before its first append: it waits for the log's lock
my $holder = $node->background_psql('fresh');
$holder->query_safe('BEGIN; LOCK evlog.event_log IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('fresh', q{SELECT evlog_enqueue('agent_event', now(), 'h1', NULL, '{"i": 1}')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE backend_type = 'evlog writer' AND datname = 'fresh' AND wait_event_type = 'Lock'}),
	'the writer is connected and waits for the log');

# DROP DATABASE takes the database's lock, then waits up to 5 s for the
# holder and the writer to leave
my $dropper = $node->background_psql('postgres', on_error_stop => 0);
my $t0 = time;
$dropper->query_until(qr/sent/, qq{\\echo sent\nDROP DATABASE fresh;\n\\echo done\n});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
	WHERE query LIKE 'DROP DATABASE fresh%' AND state = 'active'}),
	'DROP DATABASE is waiting');
$holder->query_safe('COMMIT');
$holder->quit;

# the writer appends (making the first partition itself), idles out and leaves
$dropper->{stdout} = '';
$dropper->{stderr} = '';
$dropper->{run}->pump until $dropper->{stdout} =~ /done/ || time - $t0 > 30;
my $secs = time - $t0;
unlike($dropper->{stderr}, qr/being accessed by other users/,
	"DROP DATABASE does not give up on the writer ($secs s)");
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'fresh'}),
	'0', 'the database is gone');
$dropper->quit;

# ---- a rolled-back enqueue: the queue is given back all the same
$node->safe_psql('postgres', 'CREATE DATABASE rb');
$node->safe_psql('rb', 'CREATE EXTENSION evlog');
$node->safe_psql('rb', q{BEGIN; SELECT evlog_enqueue('agent_event', now(), 'h1', NULL, '{"i": 1}'); ROLLBACK});
ok($node->poll_query_until('rb', q{SELECT count(*) = 0 FROM evlog.queue_status}),
	'a queue only rolled-back enqueues used is given back');
is($node->safe_psql('rb', q{SELECT flushed_in_epoch FROM evlog.queue_state}), '1',
	'its rolled-back ticket is recorded');
# and a database dropped right after holds none
$node->safe_psql('rb', q{BEGIN; SELECT evlog_enqueue('agent_event', now(), 'h1', NULL, '{"i": 2}'); ROLLBACK});
$node->safe_psql('postgres', 'DROP DATABASE rb');
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION evlog');
ok($node->poll_query_until('other', q{SELECT count(*) = 0 FROM evlog.queue_status}),
	'the dropped database holds no queue');

$node->stop;
done_testing();
