# Faults: the server is killed or interrupted at the worst moment and evlog
# keeps every promise it made.
#   1. kill -9 of a backend in the middle of a large batch: nothing of the
#      batch is visible after crash recovery, and the next append works;
#   2. cancel (pg_cancel_backend) of a caller waiting for room in a full
#      queue: it gets an error, and nothing of its event is accepted;
#   3. the queue's writer terminated while it flushes: it is restarted and
#      every accepted event lands exactly once.
# Disk full is not simulated: the tests run as an unprivileged user that
# cannot mount a small filesystem (doc/operations.md, "Hardening and faults").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Time::HiRes qw(sleep);
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('faults');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'evlog'
evlog.writer_idle_timeout = '1h'
restart_after_crash = on
evlog.queue_size = '256kB'
evlog.flush_interval = '20ms'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');

my $bg = sub {
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-X', '-At', '-h', $node->host, '-p', $node->port,
			'-d', 'postgres', '-c', $sql ], '>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
};

# --- 1. kill -9 in the middle of a large batch (the largest one allowed,
# evlog.max_batch_entries), once its rows are being written: the log's
# partitions have grown by more than a few pages
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM evlog.event_log');
my $log_size = q{SELECT coalesce(sum(pg_relation_size(inhrelid)), 0) FROM pg_inherits
	WHERE inhparent = 'evlog.event_log'::regclass};
my $size0 = $node->safe_psql('postgres', $log_size);
my ($h, $out, $err) = $bg->(q{
	SELECT set_config('application_name', 'big-batch', false);
	SELECT count(*) FROM unnest(evlog_append_batch((
	  SELECT jsonb_agg(jsonb_build_object('kind', 'effect', 'ts', '2026-05-16T01:00:00Z',
	         'host_id', 'kb-' || (g % 100), 'payload', jsonb_build_object('effect', 'Noop', 'g', g),
	         'event_id', 'kb-' || g))
	  FROM generate_series(1, 100000) g)))});
ok($node->poll_query_until('postgres', "SELECT ($log_size) > $size0 + 10 * 8192"),
	'large batch writing its rows');
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE query LIKE '%kb-%' AND state = 'active' AND pid <> pg_backend_pid()});
ok(kill('KILL', $pid), "backend $pid killed with SIGKILL mid-batch");
$h->finish;
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'server back after crash recovery');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE event_id LIKE 'kb-%'}),
	'0', 'nothing of the killed batch is visible');
is($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.event_log'), $before,
	'the log holds exactly what it held before');
like($node->safe_psql('postgres',
	q{SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'after-crash', NULL, '{}')}),
	qr/^\d+$/, 'the next append works');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog_verify('all')}), '0',
	'derived tables consistent after the crash');

# --- 2. cancel while waiting for room in a full queue
# hold the log so the writer cannot flush (SHARE blocks its inserts, not the
# enqueuers' read of the log for an event_id already there), then fill the
# 256 kB queue
my ($locker, $lout, $lerr) = $bg->(
	q{BEGIN; LOCK TABLE evlog.event_log IN SHARE MODE; SELECT pg_sleep(60); COMMIT});
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_locks WHERE relation = 'evlog.event_log'::regclass AND mode = 'ShareLock' AND granted}),
	'log locked: the writer cannot flush');
my $filled = $node->safe_psql('postgres', q{
	SET evlog.enqueue_timeout = '200ms';
	SET evlog.enqueue_mode = 'call';
	DO $$ BEGIN
	  FOR i IN 1..100000 LOOP
	    BEGIN
	      PERFORM evlog_enqueue('effect', '2026-05-16 01:00:00+00', 'fill', NULL,
	                            json_build_object('effect', 'Noop', 'pad', repeat('x', 200), 'i', i)::text, 'fill-' || i);
	    EXCEPTION WHEN insufficient_resources THEN
	      RAISE NOTICE 'full after % events', i - 1;
	      RETURN;
	    END;
	  END LOOP;
	END $$;
	SELECT used > 0 FROM evlog.queue_status});
is($filled, 't', 'queue filled while the writer is blocked');
my $accepted_before = $node->safe_psql('postgres', 'SELECT accepted FROM evlog.queue_status');
my ($waiter, $wout, $werr) = $bg->(q{
	SET evlog.enqueue_timeout = '60s';
	SET evlog.enqueue_mode = 'call';
	SELECT set_config('application_name', 'waiter', false);
	SELECT evlog_enqueue('effect', '2026-05-16 01:00:00+00', 'waiter', NULL, '{"effect":"Noop"}', 'cancelled-1')});
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'waiter' AND wait_event IS NOT NULL AND state = 'active'}),
	'a caller waits for room');
$node->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'waiter'});
$waiter->finish;
like($$werr, qr/canceling statement due to user request/, 'the waiting caller is cancelled with an error');
is($node->safe_psql('postgres', 'SELECT accepted FROM evlog.queue_status'), $accepted_before,
	'the cancelled event was not accepted');
$node->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_locks WHERE relation = 'evlog.event_log'::regclass AND mode = 'ShareLock'});
$locker->finish;
ok($node->poll_query_until('postgres', q{SELECT pending = 0 FROM evlog.queue_status}), 'queue drained once the lock is gone');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE event_id = 'cancelled-1'}), '0',
	'the cancelled event never lands');
is($node->safe_psql('postgres', q{SELECT count(*) = (SELECT flushed FROM evlog.queue_status) FROM evlog.event_log WHERE event_id LIKE 'fill-%'}),
	't', 'every accepted fill event landed');

# --- 3. the writer terminated while it flushes
$node->safe_psql('postgres', q{ALTER SYSTEM SET evlog.batch_size = 200; SELECT pg_reload_conf();});
my $accepted = 0;
for my $round (1 .. 5)
{
	$node->safe_psql('postgres', qq{
		SELECT count(evlog_enqueue('plan_action', '2026-05-16 01:00:00+00', NULL, 'wk', '{"action":"Noop"}', 'wk-$round-' || g))
		  FROM generate_series(1, 1000) g});
	$accepted += 1000;
	my $wpid = $node->safe_psql('postgres', 'SELECT worker_pid FROM evlog.queue_status');
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($wpid)") if $wpid =~ /^\d+$/;
}
# a terminated writer drains what it holds before it exits (and gives the
# drained queue back, so its row may be gone), and the launcher starts a new
# one while events are pending
ok($node->poll_query_until('postgres', q{SELECT coalesce(bool_and(pending = 0), true) FROM evlog.queue_status}),
	'queue drained after repeated terminations of its writer');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE event_id LIKE 'wk-%'}), $accepted,
	"all $accepted accepted events present exactly once");
is($node->safe_psql('postgres', q{SELECT (SELECT count(*) FROM evlog.gaps) + (SELECT count(*) FROM evlog.dead_letter)}),
	'0', 'nothing lost or dead-lettered');

my $log = slurp_file($node->logfile);
my $signals = () = $log =~ /terminated by signal 9/g;
is($signals, 1, 'exactly one crash: the backend this test killed');

$node->stop;
done_testing();
