# Asynchronous append (issue 5): two databases at once, each with its own
# writer and no database name configured; then a backend is killed with
# SIGKILL while events are still queued.  After the automatic crash restart
# every event reported flushed is in the log, and a `gap` row per database
# accounts for the rest: an upper bound, at least what was queued and at
# most that plus the 32 values a sequence pre-logs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('queue_crash');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
evlog.writer_idle_timeout = '1h'
evlog.flush_interval = '1h'
evlog.batch_size = 100000
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql($_, 'CREATE EXTENSION evlog') for qw(postgres db2);

sub enqueue
{
	my ($db, $tag, $n) = @_;
	return $node->safe_psql($db, qq{
		SELECT count(evlog_enqueue('agent_event', now(), '$tag', NULL, json_build_object('i', i)::text))
		  FROM generate_series(1, $n) i});
}

# ---- two databases at once: concurrent producers, one writer each
my @bg = map { $node->background_psql($_) } qw(postgres db2);
$bg[0]->query_until(qr/started/, q{\echo started
	SELECT count(evlog_enqueue('agent_event', now(), 'flushed', NULL, json_build_object('i', i)::text)) FROM generate_series(1, 3000) i;
	SELECT evlog_flush('60 s');
});
$bg[1]->query_until(qr/started/, q{\echo started
	SELECT count(evlog_enqueue('agent_event', now(), 'flushed', NULL, json_build_object('i', i)::text)) FROM generate_series(1, 2000) i;
	SELECT evlog_flush('60 s');
});
like($bg[0]->query_safe(q{SELECT evlog_flush('60 s')}), qr/t$/, 'database postgres: flushed');
like($bg[1]->query_safe(q{SELECT evlog_flush('60 s')}), qr/t$/, 'database db2: flushed');
$_->quit for @bg;
is($node->safe_psql('postgres', q{SELECT count(DISTINCT payload->>'i') FROM evlog.event_log WHERE host_id = 'flushed'}),
	'3000', 'postgres holds its 3000 events');
is($node->safe_psql('db2', q{SELECT count(DISTINCT payload->>'i') FROM evlog.event_log WHERE host_id = 'flushed'}),
	'2000', 'db2 holds its 2000 events, and none of the other database');
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT worker_pid), sum(flushed) FROM evlog.queue_status WHERE database IN ('postgres', 'db2')}),
	'2|2|5000', 'two queues, two writers, 5000 events flushed');

# ---- crash with events queued
enqueue('postgres', 'queued', 300);
enqueue('db2', 'queued', 200);
is($node->safe_psql('postgres', q{SELECT string_agg(database || ':' || pending, ',' ORDER BY database) FROM evlog.queue_status}),
	'db2:200,postgres:300', 'events still queued before the crash');

my $victim = $node->background_psql('postgres');
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $pid;
eval { $victim->quit };
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not restart';
ok($node->log_contains('server process \(PID \d+\) was terminated by signal 9'), 'the server went through a crash restart');

for my $case ([ 'postgres', 3000, 300 ], [ 'db2', 2000, 200 ])
{
	my ($db, $flushed, $queued) = @$case;
	$node->poll_query_until($db, q{SELECT count(*) > 0 FROM evlog.gaps})
	  or die "no gap row in $db";
	is($node->safe_psql($db, q{SELECT count(DISTINCT payload->>'i') FROM evlog.event_log WHERE host_id = 'flushed'}),
		$flushed, "$db: every event reported flushed survived the crash");
	is($node->safe_psql($db, q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'queued'}),
		'0', "$db: the queued events were lost with shared memory");
	my ($reason, $lost, $exact, $first, $last) = split /\|/,
	  $node->safe_psql($db, q{SELECT reason, lost, exact, first_ticket, last_ticket FROM evlog.gaps});
	is($reason, 'crash', "$db: one gap row, reason crash");
	ok($lost >= $queued && $lost <= $queued + 32, "$db: gap counts $lost lost, an upper bound of the $queued queued");
	is($exact, 'f', "$db: the crash gap says it is an upper bound");
	ok($last - $first + 1 >= $lost, "$db: the ticket range covers the count");
	is($node->safe_psql($db, q{SELECT crash_lost FROM evlog.queue_status WHERE database = current_database()}),
		$lost, "$db: queue_status reports the same loss");
}

# the queue works after the crash, and a clean restart adds no gap
is($node->safe_psql('postgres', q{
	SELECT count(evlog_enqueue('agent_event', now(), 'after', NULL, '{}')) FROM generate_series(1, 10);
	SELECT evlog_flush('60 s')}), "10\nt", 'enqueue and flush work after the crash');
$node->restart;
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'after'}), '10', 'events after the crash landed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.gaps}), '1', 'a clean restart adds no gap row');

$node->stop;
done_testing();
