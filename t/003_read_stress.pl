# Late-commit-safe reading under load: several writers append concurrently,
# sleep inside their transactions and roll back at random, while a consumer
# loops evlog_read from the last seq it received.  At the end the consumer
# holds exactly the committed set: no gap, no duplicate.  Also: one NOTIFY
# per committing transaction, carrying its highest seq.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf('postgresql.conf', 'max_connections = 40');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');

# --- push: one notification per committing transaction, with its highest seq
my $out = $node->safe_psql('postgres', q{
	LISTEN evlog;
	BEGIN;
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":1}');
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":2}');
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":3}');
	COMMIT;
	BEGIN;
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":4}');
	ROLLBACK;
	SELECT 'done';
});
my @notes = ($out =~ /Asynchronous notification "evlog" with payload "(\d+)"/g);
my @seqs = ($out =~ /^(\d+)$/mg);
is(scalar(@notes), 1, 'one NOTIFY for a committed transaction of three appends, none for a rollback');
is($notes[0], $seqs[2], 'the NOTIFY carries the highest seq the transaction appended');
$out = $node->safe_psql('postgres', q{
	LISTEN evlog;
	SET evlog.notify = off;
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":5}');
	SELECT 'done';
});
unlike($out, qr/Asynchronous notification/, 'no NOTIFY with evlog.notify = off');

# --- stress: writers with random rollbacks and sleeps inside transactions
my $start = $node->safe_psql('postgres', 'SELECT evlog_last_seq()');
my $script = $node->basedir . '/writer.sql';
open my $fh, '>', $script or die;
print $fh q{
\set n random(1, 3)
\set r random(1, 4)
BEGIN;
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'w' || :client_id, NULL, '{"w":1}');
SELECT pg_sleep(random() * 0.005);
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'w' || :client_id, NULL, '{"w":2}') FROM generate_series(2, :n);
\if :r = 1
ROLLBACK;
\else
COMMIT;
\endif
};
close $fh;

my $duration = $ENV{EVLOG_STRESS_SECONDS} // 8;
my ($pgb_out, $pgb_err) = ('', '');
my $pgbench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', $duration, '-f', $script,
	  '-h', $node->host, '-p', $node->port, 'postgres' ],
	'>', \$pgb_out, '2>', \$pgb_err);

my $pos = $start;
my %seen;
my $dups = 0;
my $reads = 0;
my $read = sub {
	my $got = $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(seq::text, ',' ORDER BY seq), '') FROM evlog_read($pos, 500)");
	$reads++;
	for my $s (split /,/, $got)
	{
		$dups++ if $seen{$s}++;
		$pos = $s if $s > $pos;
	}
	return length $got;
};
while ($pgbench->pumpable)
{
	$read->();
	$pgbench->pump_nb;
}
$pgbench->finish;
like($pgb_out, qr/number of transactions actually processed: \d+/, 'writers ran');

# drain: once nothing is in flight, the consumer must reach the head
1 while $read->();
is($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.inflight'), '0', 'nothing left in flight');

my @committed = split /,/, $node->safe_psql('postgres',
	"SELECT string_agg(seq::text, ',' ORDER BY seq) FROM evlog.event_log WHERE seq > $start");
my @received = sort { $a <=> $b } keys %seen;
cmp_ok(scalar(@committed), '>', 100, 'a meaningful number of events committed (' . scalar(@committed) . ')');
is($dups, 0, 'no event received twice');
is_deeply(\@received, \@committed, "consumer received exactly the committed set ($reads reads)");

my $rolled_back = $node->safe_psql('postgres',
	q{SELECT last_value - (SELECT count(*) FROM evlog.event_log) FROM evlog.event_log_seq_seq});
cmp_ok($rolled_back, '>', 0, "rollbacks left $rolled_back holes that were passed over");

$node->stop;
done_testing();
