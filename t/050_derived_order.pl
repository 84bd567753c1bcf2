# Derived tables under concurrency: several sessions append batches of
# rollout, host and probe events for a few shared rollouts, sleep inside
# their transactions and roll back at random, while another rebuilds the
# derived tables now and then.  A batch gets all its seqs before its rows
# reach the derive trigger, and an entry for one rollout may wait for
# another session's lock on another rollout while its later entries' seqs
# are taken: lower seqs are often applied (and committed) after higher
# ones.  At the end the live tables equal a replay of the log
# in seq order: evlog_verify('all') is empty.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('derived_order');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nevlog.partition_size = 2000");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION evlog;
	-- rollouts come and go: the ones in use are tick / 6 to tick / 6 + 2,
	-- so every rollout's first openings race each other
	CREATE SEQUENCE stress_tick;
	-- one random entry about rollout rs-<r>: an opening (often not the
	-- first), a wave, a rollout transition, a host transition or a failing
	-- probe; payload times in RFC 3339
	CREATE FUNCTION stress_entry(r int) RETURNS jsonb LANGUAGE sql VOLATILE AS $$
	  SELECT jsonb_build_object('kind', CASE WHEN t IN (0, 1, 5) THEN 'rollout_event'
	                                         WHEN t IN (2, 3) THEN 'effect' ELSE 'agent_event' END,
	           'ts', '2026-05-16T01:00:00Z', 'rollout_id', rid, 'host_id', 'h' || (k % 3),
	           'payload', CASE t
	    WHEN 0 THEN jsonb_build_object('kind', 'RolloutOpened', 'rolloutId', rid, 'channel', 'c' || k, 'at', at)
	    WHEN 1 THEN jsonb_build_object('kind', 'WaveAdvanced', 'rolloutId', rid, 'toWave', k % 7)
	    WHEN 2 THEN jsonb_build_object('effect', 'RecordRolloutTransition', 'rolloutId', rid,
	                  'to', (ARRAY['Active', 'Paused', 'Terminal', 'Superseded'])[1 + k % 4], 'at', at)
	    WHEN 3 THEN jsonb_build_object('effect', 'RecordTransition', 'to', 'S' || k, 'at', at)
	    WHEN 4 THEN jsonb_build_object('kind', 'ProbeResult', 'probeName', 'p' || k, 'mode', 'enforce',
	                  'status', 'fail', 'observedAt', at)
	    ELSE jsonb_build_object('kind', 'RolloutOpened', 'rolloutId', rid, 'channel', 'd' || k) END)
	    FROM (SELECT (random() * 5.99)::int % 6 AS t, (random() * 1000)::int AS k, 'rs-' || r AS rid,
	                 to_char(timestamp '2026-05-16' + random() * interval '1 day',
	                         'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at) x
	$$;
	-- a random delay between an event's seq and its derived rows, as a
	-- slow batch or a busy server gives: fires before evlog's trigger
	CREATE FUNCTION stress_delay() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
	  IF random() < 0.5 THEN PERFORM pg_sleep(random() * 0.003); END IF;
	  RETURN NULL;
	END $$;
	CREATE TRIGGER a_delay AFTER INSERT ON evlog.event_log FOR EACH ROW EXECUTE FUNCTION stress_delay();
});

my $appender = $node->basedir . '/appender.sql';
open my $fh, '>', $appender or die;
print $fh q{
\set n random(1, 3)
\set abort random(1, 5)
SELECT nextval('stress_tick') / 6 AS base \gset
BEGIN;
SELECT count(*) FROM evlog_append_batch((SELECT jsonb_agg(stress_entry(:base + (random() * 2.99)::int)) FROM generate_series(1, :n)));
SELECT pg_sleep(random() * 0.003);
\if :abort = 1
ROLLBACK;
\else
COMMIT;
\endif
};
close $fh;
my $rebuilder = $node->basedir . '/rebuild.sql';
open $fh, '>', $rebuilder or die;
print $fh "SET client_min_messages = warning;\nSELECT evlog_rebuild('all');\n";
close $fh;

# Transactions touching several rollouts can deadlock on their rows (as any
# two transactions updating the same rows in opposite orders do); pgbench
# retries those.  Two rounds: with rebuilds running among the appenders
# (their catch-up meets lower seqs committed late), then without (a rebuild
# would mend what the live rules got wrong before the check).
my $duration = $ENV{EVLOG_STRESS_SECONDS} // 5;
my $last_count = 0;
for my $round ([ 'with rebuilds', 1 ], [ 'appenders only', 0 ])
{
	my ($label, $rebuilds) = @$round;
	my @scripts = ('-f', "$appender\@30");
	push @scripts, ('-f', "$rebuilder\@1") if $rebuilds;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', $duration, '--max-tries=50', @scripts,
		  '-h', $node->host, '-p', $node->port, 'postgres' ],
		'>', \$out, '2>', \$err);
	like($out, qr/number of transactions actually processed: \d+/, "$label: appenders ran");
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	is($failed // 0, 0, "$label: no transaction failed for good") or diag($err);
	my $count = $node->safe_psql('postgres', 'SELECT count(*) FROM evlog.event_log');
	cmp_ok($count - $last_count, '>', 50, "$label: a meaningful number of events committed (" . ($count - $last_count) . ")");
	$last_count = $count;
	is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog_verify('all')}), '0',
		"$label: the live derived tables equal a replay in seq order");
}
note("derived_order stress: $last_count events committed");
cmp_ok($node->safe_psql('postgres',
	q{SELECT last_value - (SELECT count(*) FROM evlog.event_log) FROM evlog.event_log_seq_seq}),
	'>', 0, 'some appends rolled back');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.derived_skips WHERE reason = 'duplicate_open'}),
	'>', 0, 'rollouts were opened more than once');

# and a rebuild changes nothing
$node->safe_psql('postgres', q{CREATE TABLE before AS SELECT * FROM evlog.rollouts});
$node->safe_psql('postgres', q{SET client_min_messages = warning; SELECT evlog_rebuild('all')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM (SELECT * FROM before EXCEPT SELECT * FROM evlog.rollouts) d}),
	'0', 'a rebuild leaves the rollouts as they were');

$node->stop;
done_testing();
