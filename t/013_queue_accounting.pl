# Asynchronous append: loss accounting around the writer's life, with the
# deterministic pauses of evlog.test_pause_at (a paused process waits for
# pg_advisory_lock(1163283527) of its database, which the test holds).
#
# - closed-queue handshake: a producer paused just before its PRE_COMMIT
#   push while the writer is terminated (drains, closes, marks a clean
#   epoch) gets an error from COMMIT instead of an acknowledgement; tickets
#   rolled back after the close do not count into the new epoch;
# - events queued before the writer's first crash-accounting pass (in a
#   database created after the server started), including a transaction
#   that holds tickets across the pass, are counted when a kill -9 of the
#   writer loses them;
# - with evlog.enqueue_timeout = 0, a COMMIT waiting for room while holding
#   a lock the writer waits for fails with 40P01 instead of waiting for ever.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time);
use Test::More;

my $KEY = 1163283527;
my $node = PostgreSQL::Test::Cluster->new('queue_accounting');
$node->init;
# nothing is written before evlog_flush asks or half the 64 kB ring fills
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
evlog.queue_size = '64kB'
evlog.flush_interval = '1h'
evlog.writer_idle_timeout = '1h'
evlog.flush_lock_timeout = '60s'
evlog.test_pause_at = 'writer_recovery'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog; CREATE DATABASE late');
$node->safe_psql('late', 'CREATE EXTENSION evlog');

sub writer_pid
{
	my ($db) = @_;
	return $node->safe_psql($db, q{SELECT worker_pid FROM evlog.queue_status WHERE database = current_database()});
}

sub paused_in
{
	my ($db) = @_;
	return $node->poll_query_until($db, qq{
		SELECT count(*) = 1 FROM pg_locks
		 WHERE locktype = 'advisory' AND objid = $KEY AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())});
}

# ---- the closed-queue handshake (writer terminated) --------------------
is($node->safe_psql('postgres', q{
	SELECT evlog_enqueue('agent_event', now(), 'warmup', NULL, '{}') > 0; SELECT evlog_flush('30 s')}),
	"t\nt", 'a writer runs in postgres');
my $old_writer = writer_pid('postgres');

my $gate = $node->background_psql('postgres');
$gate->query_safe("SELECT pg_advisory_lock($KEY)");

my $paused = $node->background_psql('postgres');
$paused->query_safe('\set ON_ERROR_STOP 0');
$paused->query_safe(q{SET evlog.test_pause_at = 'pre_commit_push'});
$paused->query_safe(q{BEGIN});
$paused->query_safe(q{SELECT evlog_enqueue('agent_event', now(), 'handshake', NULL, '{}')});
$paused->query_until(qr/committing/, qq{\\echo committing\nCOMMIT;\n});
ok(paused_in('postgres'), 'the producer is paused between its enqueue and its PRE_COMMIT push');

# a second transaction holds 100 tickets across the close, then rolls back
my $holder = $node->background_psql('postgres');
$holder->query_safe(q{BEGIN});
$holder->query_safe(q{SELECT count(evlog_enqueue('agent_event', now(), 'rolled-back', NULL, '{}')) FROM generate_series(1, 100)});

$node->safe_psql('postgres', "SELECT pg_terminate_backend($old_writer)");
ok($node->poll_query_until('postgres', qq{SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $old_writer}),
	'the terminated writer drained its queue and exited');
is($node->safe_psql('postgres', 'SELECT clean_shutdown FROM evlog.queue_state'), 't',
	'it closed the queue and marked a clean epoch');

$gate->query_safe("SELECT pg_advisory_unlock($KEY)");
$paused->query('SELECT 1');
like($paused->{stderr}, qr/evlog queue was closed before this transaction's events were queued/,
	'the paused COMMIT fails: its event is not acknowledged');
$paused->quit;
$holder->query_safe('ROLLBACK');
$holder->quit;

# a new writer takes over; the 100 tickets rolled back belong to the closed
# epoch and must not count into the new one
is($node->safe_psql('postgres', q{
	SELECT evlog_enqueue('agent_event', now(), 'after-close', NULL, '{}') > 0; SELECT evlog_flush('30 s')}),
	"t\nt", 'enqueue and flush work again after the close');
isnt(writer_pid('postgres'), $old_writer, 'a new writer serves the queue');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'handshake'}), '0',
	'the refused event is not in the log');
is($node->safe_psql('postgres', 'SELECT flushed_in_epoch FROM evlog.queue_state'), '1',
	'the new epoch counts only its own event, not the tickets rolled back from the closed one');

# 100 events stay queued in postgres until the crash below
$node->safe_psql('postgres', q{
	SET evlog.enqueue_mode = call;
	SELECT count(evlog_enqueue('agent_event', now(), 'queued', NULL, json_build_object('i', i)::text)) FROM generate_series(1, 100) i});

# ---- events queued before the writer's first crash-accounting pass ----
my $gate2 = $node->background_psql('late');
$gate2->query_safe("SELECT pg_advisory_lock($KEY)");
$node->safe_psql('late', q{
	SET evlog.enqueue_mode = call;
	SELECT count(evlog_enqueue('agent_event', now(), 'early', NULL, json_build_object('i', i)::text)) FROM generate_series(1, 200) i});
ok(paused_in('late'), 'the new database\'s writer is paused before its first crash-accounting pass');
is($node->safe_psql('late', 'SELECT epoch_start_ticket IS NULL FROM evlog.queue_state'), 't',
	'no epoch yet');
my $open = $node->background_psql('late');
$open->query_safe(q{BEGIN});
$open->query_safe(q{SELECT count(evlog_enqueue('agent_event', now(), 'open', NULL, json_build_object('i', i)::text)) FROM generate_series(1, 50) i});
$gate2->query_safe("SELECT pg_advisory_unlock($KEY)");
ok($node->poll_query_until('late', 'SELECT epoch_start_ticket IS NOT NULL FROM evlog.queue_state'),
	'the pass ran with 200 events queued and 50 tickets held by an open transaction');
$open->query_safe('COMMIT');
$open->quit;
$gate2->quit;
$gate->quit;
is($node->safe_psql('late', q{SELECT pending FROM evlog.queue_status WHERE database = current_database()}), '250',
	'250 events queued in late');
is($node->safe_psql('postgres', q{SELECT pending FROM evlog.queue_status WHERE database = current_database()}), '100',
	'100 events queued in postgres');

# ---- kill -9 of the writer ----
my $victim = writer_pid('late');
kill 'KILL', $victim;
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'server did not restart';
for my $case ([ 'postgres', 100 ], [ 'late', 250 ])
{
	my ($db, $queued) = @$case;
	ok($node->poll_query_until($db, q{SELECT count(*) > 0 FROM evlog.gaps}), "$db: a gap row after the crash");
	my ($reason, $lost, $exact, $first, $last) = split /\|/,
	  $node->safe_psql($db, q{SELECT reason, lost, exact, first_ticket, last_ticket FROM evlog.gaps});
	is($reason, 'crash', "$db: reason crash");
	ok($lost >= $queued && $lost <= $queued + 32,
		"$db: the gap counts $lost lost: at least the $queued that were lost, at most 32 more");
	ok($last - $first + 1 >= $lost, "$db: the ticket range covers the count");
	is($node->safe_psql($db, q{SELECT count(*) FROM evlog.event_log WHERE host_id IN ('queued', 'early', 'open')}),
		'0', "$db: the queued events were indeed lost");
}

# ---- a COMMIT waiting for room must not wait for ever on its own lock ----
# 150 events of ~300 bytes are more than half the ring: once the ring is
# half full they cannot fit
my $big = q{json_build_object('i', i, 'pad', repeat('x', 200))::text};
my $locker = $node->background_psql('postgres');
$locker->query_safe('\set ON_ERROR_STOP 0');
$locker->query_safe(q{SET evlog.enqueue_timeout = 0});
$locker->query_safe(q{BEGIN});
$locker->query_safe(q{LOCK TABLE evlog.event_log IN SHARE MODE});
$locker->query_safe(qq{SELECT count(evlog_enqueue('agent_event', now(), 'locker', NULL, $big)) FROM generate_series(1, 150) i});
# fill past half the ring: the writer wakes up and waits for the locker's lock
my $filled = 0;
while ($node->safe_psql('postgres', q{SELECT used * 2 <= capacity FROM evlog.queue_status WHERE database = current_database()}) eq 't')
{
	$node->safe_psql('postgres', qq{SELECT count(evlog_enqueue('agent_event', now(), 'fill', NULL, $big)) FROM generate_series(1, 10) i});
	$filled += 10;
}
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE a.backend_type = 'evlog writer' AND NOT l.granted AND l.locktype = 'relation'}),
	"the writer waits for the lock the locker holds ($filled events queued)");
my $t0 = time;
$locker->query('COMMIT');
like($locker->{stderr}, qr/ERROR:  deadlock detected/, 'the COMMIT that cannot get room fails with deadlock detected');
like($locker->{stderr}, qr/evlog writer \(PID \d+\) that would make room waits for a lock this transaction holds/,
	'... saying why');
cmp_ok(time - $t0, '<', 20, 'within seconds although evlog.enqueue_timeout = 0');
$locker->quit;
# one more event and evlog_flush: the flush waits for everything queued before
is($node->safe_psql('postgres', q{
	SELECT evlog_enqueue('agent_event', now(), 'fill', NULL, '{}') > 0;
	SELECT evlog_flush('60 s');
	SELECT count(*) FROM evlog.event_log WHERE host_id = 'fill'}),
	"t\nt\n" . ($filled + 1), 'once the lock is gone, every filler event lands');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'locker'}), '0',
	'the failed transaction logged nothing');

$node->stop;
done_testing();
