# Asynchronous append across many databases, with default settings (only
# shared_preload_libraries set): a database gets a queue and a writer on
# first use only, the writer leaves after evlog.writer_idle_timeout, and
# the queue is released once drained.  So 20 databases (more than the 8 of
# max_worker_processes) can enqueue at once, and CREATE DATABASE ...
# TEMPLATE, DROP DATABASE and ALTER DATABASE ... RENAME work without FORCE
# right after a database's last enqueue.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time);
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('queue_databases');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE db0');
$node->safe_psql('db0', 'CREATE EXTENSION evlog');

sub use_queue
{
	my ($db, $tag, $n) = @_;
	return $node->safe_psql($db, qq{
		SELECT count(evlog_enqueue('agent_event', now(), '$tag', NULL, json_build_object('i', i)::text)) FROM generate_series(1, $n) i;
		SELECT evlog_flush('60 s')});
}

sub timed
{
	my ($db, $sql) = @_;
	my $t0 = time;
	my ($rc, $out, $err) = $node->psql($db, $sql);
	return ($rc, $err, time - $t0);
}

# ---- CREATE DATABASE ... TEMPLATE right after the template's last enqueue
is(use_queue('db0', 'template', 10), "10\nt", 'db0 enqueued and flushed');
my ($rc, $err, $secs) = timed('postgres', 'CREATE DATABASE db1 TEMPLATE db0');
is($rc, 0, "CREATE DATABASE ... TEMPLATE db0 right after its last enqueue succeeds ($secs s) $err");
cmp_ok($secs, '<', 5, '... without waiting out the 5 s for other sessions to leave');
for my $i (2 .. 19)
{
	$node->safe_psql('postgres', "CREATE DATABASE db$i TEMPLATE db0");
}

# ---- 20 databases enqueuing at once
my @s = map { $node->background_psql("db$_") } 0 .. 19;
for my $i (0 .. 19)
{
	$s[$i]->query_until(qr/sent/, qq{\\echo sent
		SELECT count(evlog_enqueue('agent_event', now(), 'many', NULL, json_build_object('i', i)::text)) FROM generate_series(1, 500) i;
});
}
for my $i (0 .. 19)
{
	like($s[$i]->query_safe(q{SELECT evlog_flush('120 s')}), qr/t$/, "db$i: its 500 events were written");
	$s[$i]->quit;
}
my @counts = map { $node->safe_psql("db$_", q{SELECT count(DISTINCT payload->>'i') FROM evlog.event_log WHERE host_id = 'many'}) } 0 .. 19;
is_deeply(\@counts, [ map { '500' } 0 .. 19 ], 'every database holds its 500 events');
ok(!$node->log_contains('every evlog queue is in use|could not start|no queue left'),
	'no database was refused a queue or a writer');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'evlog writer'}),
	'idle writers leave');
is($node->safe_psql('db3', 'SELECT count(*) FROM evlog.queue_status'), '0',
	'drained queues are released');

# ---- DROP DATABASE and ALTER DATABASE ... RENAME right after use
is(use_queue('db5', 'drop', 10), "10\nt", 'db5 enqueued and flushed');
($rc, $err, $secs) = timed('postgres', 'DROP DATABASE db5');
is($rc, 0, "DROP DATABASE right after the last enqueue succeeds ($secs s) $err");
cmp_ok($secs, '<', 5, '... without waiting out the 5 s');
is(use_queue('db6', 'rename', 10), "10\nt", 'db6 enqueued and flushed');
($rc, $err, $secs) = timed('postgres', 'ALTER DATABASE db6 RENAME TO db6_renamed');
is($rc, 0, "ALTER DATABASE ... RENAME right after the last enqueue succeeds ($secs s) $err");
is(use_queue('db6_renamed', 'renamed', 5), "5\nt", 'the renamed database enqueues again');

# ---- DROP DATABASE ... WITH (FORCE) while its writer is still connected:
# the writer, terminated, drains and gives the queue back
$node->safe_psql('postgres', q{ALTER SYSTEM SET evlog.writer_idle_timeout = '1h'; SELECT pg_reload_conf()});
is(use_queue('db7', 'force', 10), "10\nt", 'db7 enqueued and flushed');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'evlog writer' AND datname = 'db7'}),
	'db7 keeps its writer (idle timeout 1h)');
($rc, $err, $secs) = timed('postgres', 'DROP DATABASE db7 WITH (FORCE)');
is($rc, 0, "DROP DATABASE ... WITH (FORCE) with the writer connected $err");
ok($node->poll_query_until('db3', q{SELECT count(*) = 0 FROM evlog.queue_status WHERE database IS NULL}),
	'the dropped database holds no queue');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET evlog.writer_idle_timeout; SELECT pg_reload_conf()});

$node->stop;
done_testing();
