# No idle transaction stalls the log.  A session idle in transaction holds
# a lock on the log (a reader: ACCESS SHARE; an appender, or one that also
# wrote a derived row: ROW EXCLUSIVE) while evlog_prune or evlog_rebuild
# wants its strong lock.  Appends and reads that arrive meanwhile must not
# queue behind the waiting maintenance: each completes within a generous
# bound, nothing is lost, no deadlock, and the maintenance itself succeeds
# once the idle transaction ends (or, with evlog.maintenance_lock_wait
# short, fails with 55P03 instead of waiting).  The append latencies seen
# meanwhile are printed (max and p99 per case).  Last, a burst across many
# partition boundaries beside an idle derived-row writer: partitions come
# from evlog's partition creator, never from an appender's transaction.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# bound on one append or read while maintenance waits; the design gives
# about evlog.maintenance_lock_timeout (50 ms), the rest is a loaded machine
my $bound_ms = 2000;

my $node = PostgreSQL::Test::Cluster->new('no_stalls');
$node->init;
$node->append_conf('postgresql.conf', "evlog.partition_size = 100\nlog_min_messages = warning");
$node->start;
my $db = 'postgres';
# the timing table and procedure, in each database that is timed
my $timing_sql = q{	CREATE TABLE lat (scenario text, i int, append_ms float8, read_ms float8, seq bigint);
	CREATE PROCEDURE timed(sc text, n int, probe bool) LANGUAGE plpgsql AS $$
	DECLARE
		t0 timestamptz;
		t1 timestamptz;
		t2 timestamptz;
		s bigint;
	BEGIN
		FOR i IN 1..n LOOP
			t0 := clock_timestamp();
			s := evlog_append('agent_event', '2000-01-01 00:00:00+00', 'timed-' || sc, NULL,
				CASE WHEN probe THEN '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2000-01-01T00:00:00Z"}'
				ELSE '{}' END);
			COMMIT;
			t1 := clock_timestamp();
			PERFORM count(*) FROM evlog.event_log WHERE seq = s;
			t2 := clock_timestamp();
			INSERT INTO lat VALUES (sc, i, extract(epoch FROM t1 - t0) * 1000, extract(epoch FROM t2 - t1) * 1000, s);
			COMMIT;
			PERFORM pg_sleep(0.02);
		END LOOP;
	END $$;

};
$node->safe_psql($db, q{
	CREATE EXTENSION evlog;
	SELECT evlog_append('agent_event', '2000-01-01', 'setup', NULL, '{}');
	SELECT evlog_create_partitions(40);
} . $timing_sql);

# old events in closed partitions, for the prunes
sub old_events
{
	my ($n) = @_;
	$node->safe_psql($db, qq{
		SELECT count(evlog_append('agent_event', '2000-01-01', 'old', NULL, '{}')) FROM generate_series(1, $n)});
}

# start a maintenance statement in its own psql; returns the harness
sub start_maintenance
{
	my ($sql, $out, $err) = @_;
	return IPC::Run::start([ 'psql', '-XAtq', '-v', 'VERBOSITY=verbose', '-d', $node->connstr($db), '-c', $sql ],
		'>', $out, '2>', $err, IPC::Run::timeout(180));
}

# is the maintenance statement still running?
sub still_running
{
	my ($pattern) = @_;
	return $node->safe_psql($db, qq{
		SET statement_timeout = '20s';
		SELECT count(*) FROM pg_stat_activity
		 WHERE query LIKE '%$pattern%' AND pid <> pg_backend_pid() AND state = 'active'}) eq '1';
}

# wait until the maintenance statement (evlog_rebuild shows its progress in
# pg_stat_activity.query) is waiting for its lock (or sleeping
# between attempts)
sub wait_for_waiting
{
	my ($pattern) = @_;
	$node->poll_query_until($db, qq{
		SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE query LIKE '%$pattern%' AND pid <> pg_backend_pid()
		   AND wait_event_type IN ('Lock', 'Extension')})
	  or die "maintenance never waited: $pattern";
}

# run the timed appends and reads; they must all finish, each within the
# bound (every statement that could queue behind the maintenance has a
# statement_timeout: without the protection the test fails, it does not hang)
sub timed_appends
{
	my ($sc, $probe) = @_;
	my $t0 = time();
	my ($rc, $out, $err) = $node->psql($db,
		"SET statement_timeout = '20s'; CALL timed('$sc', 40, $probe)");
	is($rc, 0, "$sc: 40 appends and reads completed while the maintenance waited") or diag $err;
	my ($max_a, $p99_a, $max_r) = split /\|/, $node->safe_psql($db, qq{
		SELECT round(max(append_ms)::numeric, 1),
		       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY append_ms)::numeric, 1),
		       round(max(read_ms)::numeric, 1)
		  FROM lat WHERE scenario = '$sc'});
	$max_a = 'none' if !defined $max_a || $max_a eq '';
	$max_r = 'none' if !defined $max_r || $max_r eq '';
	diag sprintf("%s: append max %s ms, p99 %s ms; read max %s ms (%.1f s in all)",
		$sc, $max_a, $p99_a // 'none', $max_r, time() - $t0);
	ok($max_a ne 'none' && $max_a < $bound_ms, "$sc: no append held $bound_ms ms or more (max $max_a ms)");
	ok($max_r ne 'none' && $max_r < $bound_ms, "$sc: no read held $bound_ms ms or more (max $max_r ms)");
	is($node->safe_psql($db, qq{
		SET statement_timeout = '20s';
		SELECT count(*) FROM lat l JOIN evlog.event_log e ON e.seq = l.seq WHERE l.scenario = '$sc'}),
		'40', "$sc: every timed append is in the log");
}

# finish a maintenance harness; returns its stdout
sub finish_maintenance
{
	my ($h, $out, $err, $what) = @_;
	$h->finish;
	chomp $$out;
	unlike($$err, qr/ERROR/, "$what succeeded once the idle transaction ended") or diag $$err;
	return $$out;
}

# ---- an idle-in-transaction reader while evlog_prune runs
old_events(300);
my $idle = $node->background_psql($db);
$idle->query_safe('BEGIN; SELECT count(*) FROM evlog.event_log');
my ($out, $err) = ('', '');
my $prune = start_maintenance(q{SELECT evlog_prune('2001-01-01')}, \$out, \$err);
wait_for_waiting('evlog_prune(');
timed_appends('reader_prune', 'false');
ok(still_running('evlog_prune('), 'reader_prune: the prune still waits for the idle reader');
$idle->query_safe('COMMIT');
my $removed = finish_maintenance($prune, \$out, \$err, 'reader_prune: the prune');
cmp_ok($removed, '>=', 200, "reader_prune: the prune removed old events ($removed)");

# ---- an idle appender while evlog_rebuild runs
$idle->query_safe(q{BEGIN; SELECT evlog_append('agent_event', '2000-01-01', 'idle-appender', NULL, '{}')});
($out, $err) = ('', '');
my $rebuild = start_maintenance(q{SELECT evlog_rebuild('all')}, \$out, \$err);
wait_for_waiting('evlog_rebuild');
timed_appends('appender_rebuild', 'true');
ok(still_running('evlog_rebuild'), 'appender_rebuild: the rebuild still waits for the idle appender');
$idle->query_safe('COMMIT');
finish_maintenance($rebuild, \$out, \$err, 'appender_rebuild: the rebuild');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('all')}), '0',
	'appender_rebuild: the derived tables verify');

# ---- an idle derived-row writer (a failing probe) while evlog_prune runs
old_events(300);
$idle->query_safe(q{BEGIN; SELECT evlog_append('agent_event', '2000-01-01', 'idle-writer', NULL,
	'{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-01-01T00:00:00Z"}')});
($out, $err) = ('', '');
$prune = start_maintenance(q{SELECT evlog_prune('2001-01-01')}, \$out, \$err);
wait_for_waiting('evlog_prune(');
timed_appends('writer_prune', 'true');
ok(still_running('evlog_prune('), 'writer_prune: the prune still waits for the idle writer');
$idle->query_safe('COMMIT');
$removed = finish_maintenance($prune, \$out, \$err, 'writer_prune: the prune');
cmp_ok($removed, '>=', 200, "writer_prune: the prune removed old events ($removed)");
is($node->safe_psql($db, q{SELECT count(*) FROM evlog.probe_failures WHERE host_id = 'idle-writer'}), '1',
	'writer_prune: the idle writer\'s derived row committed');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('all')}), '0',
	'writer_prune: the derived tables verify');

# ---- the total wait is bounded: 55P03, and the appenders never noticed
old_events(300);
$idle->query_safe('BEGIN; SELECT count(*) FROM evlog.event_log');
my $t0 = time();
my ($rc, $o, $e) = $node->psql($db, q{
	\set VERBOSITY verbose
	SET evlog.maintenance_lock_wait = '1s';
	SELECT evlog_prune('2001-01-01')});
my $took = time() - $t0;
like($e, qr/ERROR:  55P03: evlog_prune\(\) could not lock "event_log" within evlog.maintenance_lock_wait/,
	'with the idle reader still there, the prune gives up with 55P03');
cmp_ok($took, '<', 15, sprintf('and gives up after about evlog.maintenance_lock_wait (%.1f s)', $took));
$idle->query_safe('COMMIT');
$idle->quit;
$removed = $node->safe_psql($db, q{SELECT evlog_prune('2001-01-01')});
cmp_ok($removed, '>=', 200, 'the next prune, with the reader gone, succeeds');
is($node->safe_psql($db, q{SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'}), '0',
	'nobody is left waiting for a lock');

# ---- a burst that crosses many partition boundaries, with an idle
# derived-row writer that crosses some itself: partitions come from evlog's
# partition creator, never from an appender's transaction, so nobody holds
# the log's SHARE UPDATE EXCLUSIVE lock to the end of a transaction, nobody
# waits for it and the idle writer cannot deadlock with anyone
# (a database of its own: the one above has partitions made far ahead)
my $bdb = 'boundaries';
$node->safe_psql('postgres', "CREATE DATABASE $bdb");
$node->safe_psql($bdb, 'CREATE EXTENSION evlog; ' . $timing_sql);
my $writer = $node->background_psql($bdb);
$writer->query_safe(q{SET evlog.partition_size = 16});
$writer->query_safe(q{BEGIN; SELECT evlog_append('agent_event', '2000-01-01', 'boundary-writer', NULL,
	'{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2026-01-01T00:00:00Z"}')});
$writer->query_safe(q{SELECT count(evlog_append('agent_event', '2000-01-01', 'boundary-writer', NULL, '{}'))
	FROM generate_series(1, 10)});
my $writer_pid = $writer->query_safe('SELECT pg_backend_pid()');
chomp $writer_pid;
my $parts_before = $node->safe_psql($bdb, q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'evlog.event_log'::regclass});
# the timed procedure appends one event per transaction at partition_size 16
($rc, $o, $e) = $node->psql($bdb, q{
	SET evlog.partition_size = 16;
	SET statement_timeout = '20s';
	CALL timed('boundaries', 60, false)});
is($rc, 0, 'boundaries: 60 appends across partition boundaries completed beside the idle writer') or diag $e;
my ($max_b, $p99_b) = split /\|/, $node->safe_psql($bdb, q{
	SELECT round(max(append_ms)::numeric, 1),
	       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY append_ms)::numeric, 1)
	  FROM lat WHERE scenario = 'boundaries'});
$max_b = 'none' if !defined $max_b || $max_b eq '';
diag "boundaries: append max $max_b ms, p99 " . ($p99_b // 'none') . ' ms';
ok($max_b ne 'none' && $max_b < $bound_ms, "boundaries: no append held $bound_ms ms or more (max $max_b ms)");
cmp_ok($node->safe_psql($bdb, q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'evlog.event_log'::regclass}),
	'>=', $parts_before + 3, 'boundaries: the appends crossed at least three new partitions');
# the idle writer crosses boundaries itself, inside its open transaction
$writer->query_safe(q{SET statement_timeout = '20s'});
$writer->query_safe(q{SELECT count(evlog_append('agent_event', '2000-01-01', 'boundary-writer', NULL, '{}'))
	FROM generate_series(1, 40)});
is($node->safe_psql($bdb, qq{
	SELECT count(*) FROM pg_locks
	 WHERE pid = $writer_pid AND relation = 'evlog.event_log'::regclass
	   AND mode IN ('ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')}),
	'0', 'boundaries: the writer crossed partition boundaries without taking a DDL lock on the log');
$writer->query_safe('COMMIT');
is($node->safe_psql($bdb, q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'boundary-writer'}), '51',
	'boundaries: the writer\'s 51 events committed (no deadlock)');
is($node->safe_psql($bdb, q{SELECT count(*) FROM lat l JOIN evlog.event_log e ON e.seq = l.seq WHERE l.scenario = 'boundaries'}),
	'60', 'boundaries: every timed append is in the log');

# ---- the creator cannot take its lock: an append that needs a partition
# waits evlog.partition_wait, then fails with 55000, holding no DDL lock;
# appends within existing partitions are not held up
$writer->query_safe(q{BEGIN; LOCK TABLE evlog.event_log IN SHARE UPDATE EXCLUSIVE MODE});
$t0 = time();
($rc, $o, $e) = $node->psql($bdb, q{
	\set VERBOSITY verbose
	SET evlog.partition_size = 16;
	SET evlog.partition_wait = '500ms';
	SET statement_timeout = '20s';
	SELECT count(evlog_append('agent_event', '2000-01-01', 'blocked', NULL, '{}')) FROM generate_series(1, 100)});
$took = time() - $t0;
like($e, qr/ERROR:  55000: no partition of evlog.event_log covers seq \d+ yet/,
	'blocked creator: the append that outran the partitions fails with 55000') or diag $e;
like($e, qr/DETAIL:  evlog's partition creator did not attach one within evlog.partition_wait \(500 ms\)/,
	'blocked creator: the detail names evlog.partition_wait');
cmp_ok($took, '<', 15, sprintf('blocked creator: it failed after about evlog.partition_wait (%.1f s)', $took));
$writer->query_safe('COMMIT');
is($node->safe_psql($bdb, q{
	SET evlog.partition_size = 16;
	SET statement_timeout = '20s';
	SELECT count(evlog_append('agent_event', '2000-01-01', 'unblocked', NULL, '{}')) FROM generate_series(1, 100)}),
	'100', 'blocked creator: once the lock is gone, 100 appends across boundaries succeed');
$writer->quit;
# the writer routes each row by the partition bounds itself (no executor
# partition check): every row of this database, over dozens of partitions,
# lies within its partition's bound, where partition pruning finds it
is($node->safe_psql($bdb, q{
	SELECT count(*) FILTER (WHERE (SELECT count(*) FROM evlog.event_log l WHERE l.seq = e.seq) <> 1)
	       || ' of ' || (count(DISTINCT e.tableoid) > 10)
	  FROM evlog.event_log e}),
	'0 of true', 'boundaries: every row is in the partition whose bound holds its seq');

# ---- where an appender still creates a partition itself: the transaction
# that created the extension (a creator could not see the log)
$node->safe_psql('postgres', 'CREATE DATABASE same_xact');
is($node->safe_psql('same_xact', q{
	BEGIN;
	CREATE EXTENSION evlog;
	SELECT count(*) FROM (SELECT evlog_append('agent_event', '2000-01-01', 'h', NULL, '{}')) a;
	COMMIT;
	SELECT count(*) FROM evlog.event_log}), "1\n1", 'an append in the transaction that created the extension works');

$node->stop;
done_testing();
