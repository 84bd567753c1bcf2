# Pruning while appends and a consumer run: pgbench appenders (single
# appends, and rolled-back ones), a pruner dropping whole partitions every
# few hundred milliseconds, and a named consumer reading and acknowledging
# throughout.  Then nothing unpruned is lost (every seq is either still in
# the log, inside a recorded retention range, or a rolled-back hole), the
# consumer got each event at most once, in order, caught up to the head
# (it never stalled behind a prune), the derived tables verify and the hash
# chain verifies from its anchor.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('prune');
$node->init;
$node->append_conf('postgresql.conf', "evlog.partition_size = 200\nlog_min_messages = warning");
$node->start;
my $db = 'postgres';
$node->safe_psql($db, 'CREATE EXTENSION evlog');
$node->safe_psql($db, q{SELECT evlog_consumer_create('live', 0)});
# a witness of every committed append: a registered view writing each seq to
# a table evlog_prune leaves alone (it has no event_log_seq column)
$node->safe_psql($db, q{
	CREATE TABLE committed (seq bigint PRIMARY KEY);
	CREATE FUNCTION witness(e evlog.event_log) RETURNS void LANGUAGE sql AS 'INSERT INTO public.committed VALUES (e.seq)';
	SELECT evlog_register_view('witness', 'witness(evlog.event_log)', 'committed', false)});

my $dir = $node->basedir;
open my $fh, '>', "$dir/append.sql" or die $!;
print $fh q{\set h random(1, 32)
SELECT evlog_append('agent_event', '2000-01-01 00:00:00+00', 'host-' || :h, 'r1',
  '{"kind":"ProbeResult","probeName":"p","mode":"enforce","status":"fail","observedAt":"2000-01-01T00:00:00Z"}');
};
close $fh;
open $fh, '>', "$dir/abort.sql" or die $!;
print $fh q{BEGIN;
SELECT evlog_append('agent_event', '2000-01-01 00:00:00+00', 'rolled-back', NULL, '{}');
ROLLBACK;
};
close $fh;
open $fh, '>', "$dir/prune.sql" or die $!;
# a prune gives way (55P03) to an appender that needs its partition lock
print $fh q{SELECT evlog_seal(NULL);
DO $$ BEGIN PERFORM evlog_prune('2001-01-01'); EXCEPTION WHEN lock_not_available THEN NULL; END $$;
SELECT pg_sleep(0.2);
};
close $fh;

my ($out, $err, $pout, $perr) = ('', '', '', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '3', '-j', '2', '-T', '8',
	  '-f', "$dir/append.sql\@9", '-f', "$dir/abort.sql\@1", $node->connstr($db) ],
	'>', \$out, '2>', \$err);
my $pruner = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-T', '8', '-f', "$dir/prune.sql", $node->connstr($db) ],
	'>', \$pout, '2>', \$perr);

my @received;
my ($dups, $disorder, $reads) = (0, 0, 0);
my %seen;
my $consume = sub {
	my $rows = $node->safe_psql($db,
		q{SELECT string_agg(seq::text, ',' ORDER BY seq) FROM evlog_consumer_next('live', 500)});
	$reads++;
	return 0 if $rows eq '';
	my @seqs = split /,/, $rows;
	for my $s (@seqs)
	{
		$dups++ if $seen{$s}++;
		$disorder++ if @received && $s <= $received[-1];
		push @received, $s;
	}
	$node->safe_psql($db, "SELECT evlog_consumer_ack('live', $seqs[-1])");
	return scalar @seqs;
};
while ($bench->pumpable || $pruner->pumpable)
{
	$consume->();
	$bench->pump_nb if $bench->pumpable;
	$pruner->pump_nb if $pruner->pumpable;
}
ok($bench->finish, 'appenders finished') or diag($err);
ok($pruner->finish, 'pruner finished') or diag($perr);
my ($appended) = $out =~ /actually processed: (\d+)/;
# drain what is left
while ($consume->() > 0) { }

# each prune leaves an anchor; its retention event goes with a later prune
my $retained = $node->safe_psql($db, q{SELECT count(*) FROM evlog.chain_anchor});
cmp_ok($retained, '>=', 3, "pruned while appends ran ($retained prunes)");
my ($count, $max, $min_left) = split /\|/, $node->safe_psql($db,
	q{SELECT count(*), max(seq), min(seq) FILTER (WHERE kind <> 'retention') FROM evlog.event_log});
my $witnessed = $node->safe_psql($db, 'SELECT count(*) FROM committed');
cmp_ok($witnessed, '>', 1000, "a meaningful load ($witnessed appends committed, $count events remain)");
my $latest_from = $node->safe_psql($db,
	q{SELECT (payload->>'from_seq')::bigint FROM evlog.event_log WHERE kind = 'retention' ORDER BY seq DESC LIMIT 1});

# nothing unpruned is lost: every committed append at or above the start of
# the remaining log is still there; everything below it was pruned
is($node->safe_psql($db, "SELECT count(*) FROM committed c WHERE c.seq >= $min_left
	AND NOT EXISTS (SELECT FROM evlog.event_log e WHERE e.seq = c.seq)"), '0',
	'every committed event above the pruned prefix is in the log');
is($node->safe_psql($db, "SELECT count(*) FROM evlog.event_log WHERE seq < $min_left AND kind <> 'retention'"), '0',
	'the pruned part is a prefix');
cmp_ok($latest_from, '<', $min_left, 'the latest retention event covers the start of the log');
my $missed = grep { !$seen{$_} } split /,/, $node->safe_psql($db,
	q{SELECT string_agg(seq::text, ',') FROM evlog.event_log});
is($missed, 0, 'consumer received every event still in the log');
is($node->safe_psql($db, 'SELECT count(*) FROM committed WHERE seq <= ' . $max), $witnessed, 'witness consistent');
my $phantom = grep { !$node->safe_psql($db, "SELECT count(*) FROM committed WHERE seq = $_") } grep { $_ % 97 == 0 } @received;
is($phantom, 0, 'consumer received no event that never committed (sampled)');
is($dups, 0, 'consumer received no event twice');
is($disorder, 0, 'consumer received events in seq order');
is($node->safe_psql($db, q{SELECT position FROM evlog.consumers WHERE name = 'live'}), $max,
	"consumer caught up to the head ($reads reads): it never stalled behind a prune");

is($node->safe_psql($db, q{SELECT count(*) FROM evlog.probe_failures WHERE event_log_seq < } . $min_left), '0',
	'no derived row of a pruned event is left');
# (the witness view keeps rows of pruned events, by design: its table has
# no event_log_seq column; the built-in tables must match a fresh replay)
is($node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('probe_failures')})
	+ $node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('rollouts')})
	+ $node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('host_states')}), 0, 'derived tables verify');
$node->safe_psql($db, 'SELECT evlog_seal(NULL)');
is($node->safe_psql($db, q{SELECT coalesce(first_bad_seq::text, 'intact') FROM evlog_verify_chain()}), 'intact',
	'chain verifies from its anchor');

$node->stop;
done_testing();
