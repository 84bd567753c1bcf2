# Appended events survive a clean restart and a crash restart, keep their
# seqs, and appends afterwards continue above them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');

my $append = q{SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h' || i, 'r1',
                                    json_build_object('i', i)::text)
               FROM generate_series(1, 500) i};
$node->safe_psql('postgres', $append);
my $before = $node->safe_psql('postgres',
	'SELECT count(*), min(seq), max(seq), md5(string_agg(seq || payload::text, \',\' ORDER BY seq)) FROM evlog.event_log');
is((split /\|/, $before)[0], 500, '500 events appended');

$node->restart;
is($node->safe_psql('postgres',
	'SELECT count(*), min(seq), max(seq), md5(string_agg(seq || payload::text, \',\' ORDER BY seq)) FROM evlog.event_log'),
	$before, 'every row and seq unchanged after a clean restart');

my $max = (split /\|/, $before)[2];
my $next = $node->safe_psql('postgres',
	q{SELECT evlog_append('plan_action', '2026-05-16 02:00:00+00', NULL, 'r1', '{}')});
cmp_ok($next, '>', $max, 'append after restart continues above the old seqs');

# crash: committed appends survive, the sequence does not go backwards
$node->safe_psql('postgres', $append);
my $committed = $node->safe_psql('postgres', 'SELECT count(*), max(seq) FROM evlog.event_log');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*), max(seq) FROM evlog.event_log'),
	$committed, 'committed events survive an immediate shutdown');
my $after_crash = $node->safe_psql('postgres',
	q{SELECT evlog_append('plan_action', '2026-05-16 03:00:00+00', NULL, 'r1', '{}')});
cmp_ok($after_crash, '>', (split /\|/, $committed)[1], 'seq keeps increasing after crash recovery');

# a batch moves the sequence past its seqs in one step (setval): that step
# is WAL-logged, so after a crash no seq of the batch is handed out again
my $batch_last = $node->safe_psql('postgres', q{
	SELECT max(s) FROM unnest(evlog_append_batch(array_fill('plan_action'::text, ARRAY[100]),
		array_fill('2026-05-16 04:00:00+00'::timestamptz, ARRAY[100]), NULL, NULL,
		array_fill('{}'::jsonb, ARRAY[100]))) s});
$node->stop('immediate');
$node->start;
my $after_batch = $node->safe_psql('postgres',
	q{SELECT evlog_append('plan_action', '2026-05-16 05:00:00+00', NULL, 'r1', '{}')});
cmp_ok($after_batch, '>', $batch_last, 'seq continues above a batch after crash recovery');

$node->stop;
done_testing();
