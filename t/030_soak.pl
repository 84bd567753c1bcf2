# Soak: a mixed load for a fixed time — single appends (some rolled back),
# batches, enqueues through the background worker, a named consumer, a
# rebuilder and a sealer, all at once — then:
#   * every acknowledged event is present exactly once, no rolled-back one is;
#   * the consumer received exactly the committed set, without duplicates;
#   * every derived table verifies clean against a fresh replay;
#   * the hash chain verifies;
#   * the server log holds no error the test did not cause, and no crash.
# EVLOG_SOAK_SECONDS sets the duration (CI: 60; the bench suite: 600).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Time::HiRes qw(time sleep);
use Test::More;

my $seconds = $ENV{EVLOG_SOAK_SECONDS} // 60;
my $writers = 3;
srand(42);

my $node = PostgreSQL::Test::Cluster->new('soak');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'evlog'
evlog.writer_idle_timeout = '1h'
max_connections = 40
evlog.flush_interval = '50ms'
log_min_messages = warning
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');
my $start = $node->safe_psql('postgres', 'SELECT evlog_last_seq()');
$node->safe_psql('postgres', 'SELECT evlog_consumer_create(\'soak\', ' . $start . ')');

# --- writer scripts: each statement prints "ack|<event id>" only on success
my $probe = sub {
	my ($fail) = @_;
	return '{"kind":"ProbeResult","probeName":"cis","status":"' . ($fail ? 'fail' : 'pass')
	  . '","mode":"enforce","observedAt":"2026-05-16T01:00:00Z","subResults":[{"controlId":"c1","framework":"cis","status":"'
	  . ($fail ? 'fail' : 'pass') . '","effectiveMode":"enforce"}]}';
};
# A writer runs a script of 20,000 statements; when it finishes before the
# deadline it starts another round with fresh event ids.
my $write_script = sub {
	my ($w, $round) = @_;
	my @sql = ("\\set ON_ERROR_STOP 0", "\\pset tuples_only on", "\\pset format unaligned");
	for my $i (1 .. 20000)
	{
		my $n = "$round.$i";
		my $r = rand();
		my $host = "h$w-" . ($i % 17);
		my $rollout = 'r' . ($i % 5);
		if ($r < 0.55)
		{
			my $payload = $probe->(rand() < 0.3);
			push @sql, "SELECT 'ack', 'a$w-$n' FROM (SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', '$host', '$rollout', '$payload', 'a$w-$n')) s;";
		}
		elsif ($r < 0.65)
		{
			push @sql, "BEGIN;",
			  "SELECT 'pending', evlog_append('agent_event', '2026-05-16 01:00:00+00', '$host', '$rollout', '{\"kind\":\"DispatchAck\"}', 'rb$w-$n');",
			  "ROLLBACK;";
		}
		elsif ($r < 0.8)
		{
			my $entries = join(',', map {
				"{\"kind\":\"effect\",\"ts\":\"2026-05-16T01:00:00Z\",\"host_id\":\"$host\",\"rollout_id\":\"$rollout\","
				  . "\"payload\":{\"effect\":\"RecordTransition\",\"to\":\"S$_\",\"at\":\"2026-05-16T01:00:0${_}Z\"},\"event_id\":\"b$w-$n-$_\"}"
			} 1 .. 9);
			push @sql, "SELECT 'ackb', 'b$w-$n' FROM (SELECT evlog_append_batch('[$entries]'::jsonb)) s;";
		}
		else
		{
			push @sql, "SELECT 'acke', 'e$w-$n' FROM (SELECT evlog_enqueue('plan_action', '2026-05-16 01:00:00+00', NULL, '$rollout', '{\"action\":\"Noop\"}', 'e$w-$n')) s;";
		}
	}
	my $file = $node->basedir . "/writer$w-$round.sql";
	open my $fh, '>', $file or die;
	print $fh join("\n", @sql), "\n";
	close $fh;
	return $file;
};

my (@harness, @outputs, @round);
my $start_writer = sub {
	my ($w) = @_;
	$round[$w]++;
	# output goes to a file, not a pipe: a pipe nobody drains while this
	# loop waits for a rebuild would stall the writer inside a transaction
	# that the rebuild waits for
	my $out = $node->basedir . "/writer$w-$round[$w].out";
	push @outputs, $out;
	$harness[$w] = IPC::Run::start(
		[ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		  '-f', $write_script->($w, $round[$w]) ],
		'>', $out, '2>', $out . '.err');
};
$start_writer->($_) for 1 .. $writers;

# --- consumer, rebuilder and sealer share this loop until the deadline
my %seen;
my $dups = 0;
my ($rebuilds, $seals, $reads) = (0, 0, 0);
my $consume = sub {
	my $got = $node->safe_psql('postgres',
		q{SELECT coalesce(string_agg(seq::text, ',' ORDER BY seq), '') FROM evlog_consumer_next('soak', 2000)});
	$reads++;
	my $last;
	for my $s (split /,/, $got) { $dups++ if $seen{$s}++; $last = $s; }
	$node->safe_psql('postgres', "SELECT evlog_consumer_ack('soak', $last)") if defined $last;
	return defined $last;
};
my $deadline = time() + $seconds;
my ($next_rebuild, $next_seal) = (time() + 5, time() + 2);
while (time() < $deadline)
{
	$consume->();
	if (time() >= $next_rebuild)
	{
		$node->safe_psql('postgres', q{SELECT evlog_rebuild('all')});
		$rebuilds++;
		$next_rebuild = time() + 7;
	}
	if (time() >= $next_seal)
	{
		$node->safe_psql('postgres', 'SELECT evlog_seal(NULL)');
		$seals++;
		$next_seal = time() + 3;
	}
	for my $w (1 .. $writers)
	{
		next if $harness[$w]->pumpable;
		$harness[$w]->finish;
		$start_writer->($w);
	}
	sleep(0.05);
}
for my $w (1 .. $writers)
{
	$harness[$w]->kill_kill;
	$harness[$w]->finish;
}

# wait for the worker to drain every accepted enqueue
ok($node->poll_query_until('postgres',
	q{SELECT coalesce(sum(pending), 0) = 0 FROM evlog.queue_status}), 'queue drained');
1 while $consume->();
is($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.inflight'), '0', 'nothing left in flight');

# --- acknowledged events: present exactly once; rolled back: absent
my (%acked, $pending_shown);
for my $o (@outputs)
{
	# a writer killed at the deadline may leave a half-written last line:
	# only lines psql finished count as acknowledgements
	my @lines = split /\n/, slurp_file($o), -1;
	pop @lines;
	for my $line (@lines)
	{
		if ($line =~ /^ack\|(\S+)$/) { $acked{$1} = 1 }
		elsif ($line =~ /^ackb\|(\S+)$/) { $acked{"$1-$_"} = 1 for 1 .. 9 }
		elsif ($line =~ /^acke\|(\S+)$/) { $acked{$1} = 1 }
	}
}
my $nacked = scalar keys %acked;
cmp_ok($nacked, '>', 500, "writers acknowledged $nacked events");
$node->safe_psql('postgres', 'CREATE TABLE soak_acked (event_id text PRIMARY KEY)');
my $copy = join("\n", keys %acked) . "\n";
my ($in, $o, $e) = ($copy, '', '');
IPC::Run::run([ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
		'-c', 'COPY soak_acked FROM STDIN' ], '<', \$in, '>', \$o, '2>', \$e);
is($node->safe_psql('postgres', 'SELECT count(*) FROM soak_acked'), $nacked, 'acknowledgements loaded');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM soak_acked a
	 WHERE (SELECT count(*) FROM evlog.event_log e WHERE e.event_id = a.event_id) <> 1}),
	'0', 'every acknowledged event is present exactly once')
  or diag($node->safe_psql('postgres', q{
	SELECT string_agg(a.event_id, ' ') FROM soak_acked a
	 WHERE (SELECT count(*) FROM evlog.event_log e WHERE e.event_id = a.event_id) <> 1}));
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE event_id LIKE 'rb%'}),
	'0', 'no rolled-back event is present');

# --- consumer: exactly the committed set
my @committed = split /,/, $node->safe_psql('postgres',
	"SELECT coalesce(string_agg(seq::text, ',' ORDER BY seq), '') FROM evlog.event_log WHERE seq > $start");
my @received = sort { $a <=> $b } keys %seen;
is($dups, 0, 'consumer received no event twice');
is_deeply(\@received, \@committed, 'consumer received exactly the committed set ('
	  . scalar(@committed) . " events, $reads reads, $rebuilds rebuilds, $seals seals, "
	  . (eval { my $t = 0; $t += $_ - 1 for @round[1 .. $writers]; $t } // 0) . ' extra writer rounds)');

# --- derived tables and chain
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog_verify('all')}), '0',
	'every derived table verifies clean against a fresh replay');
$node->safe_psql('postgres', 'SELECT evlog_seal(NULL)');
is($node->safe_psql('postgres', 'SELECT first_bad_seq IS NULL FROM evlog_verify_chain()'), 't',
	'hash chain verifies');
is($node->safe_psql('postgres', q{SELECT coalesce(sum(dead_lettered + lost), 0) FROM evlog.queue_status}),
	'0', 'nothing dead-lettered or lost in the queue');

# --- server log: no crash, no error this test did not cause
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC/, 'no crash');
# autovacuum giving way to a rebuild's lock is PostgreSQL working as designed
my @errors = grep { !/could not receive data from client|unexpected EOF|connection to client lost|canceling autovacuum task/ }
  ($log =~ /^.*\b(?:ERROR|FATAL):.*$/mg);
is(scalar(@errors), 0, 'no unexpected error in the server log')
  or diag(join("\n", @errors[0 .. ($#errors < 9 ? $#errors : 9)]));

$node->stop;
done_testing();
