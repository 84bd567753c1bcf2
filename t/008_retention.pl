# Scheduled pruning: with evlog.retention set, the background worker prunes
# every database's log on its own (a worker per database and round, started
# by the launcher), appends the retention event, leaves partitions that are
# not wholly older, keeps the derived tables verifying, summarises the
# closed partitions, and ignores databases without evlog.  Off by default.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('retention');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
evlog.partition_size = 100
evlog.retention_check_interval = '1s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('postgres', 'CREATE DATABASE other');    # no evlog there
$node->safe_psql('app', 'CREATE EXTENSION evlog');

# 250 events a year old (probe failures), then 150 recent ones
my $old = q{SELECT count(*) FROM (SELECT evlog_append('agent_event', now() - interval '365 days' + i * interval '1 second',
  'h' || i % 7, NULL,
  json_build_object('kind', 'ProbeResult', 'probeName', 'p' || i, 'mode', 'enforce', 'status', 'fail',
                    'observedAt', '2026-01-01T00:00:00Z')::text) FROM generate_series(1, 250) i) s};
is($node->safe_psql('app', $old), '250', 'old events appended');
is($node->safe_psql('app', q{SELECT count(*) FROM (SELECT evlog_append('agent_event', now(), 'h', NULL, '{}')
  FROM generate_series(1, 150)) s}), '150', 'recent events appended');

# off by default: nothing happens for a few rounds' worth of time
sleep 3;
is($node->safe_psql('app', q{SELECT count(*) FROM evlog.event_log WHERE kind = 'retention'}), '0',
	'no scheduled pruning while evlog.retention is 0');

# the partition worker, started as appends near the last partition's top,
# has counted the partitions the log moved past (1-100 and 101-200 were
# closed once the first transaction committed)
ok($node->poll_query_until('app', q{SELECT count(*) >= 2 FROM evlog.partition_summaries WHERE hi <= 200}),
	'the partition worker summarised the closed partitions');
is($node->safe_psql('app', q{SELECT string_agg(events::text, ',' ORDER BY hi) FROM evlog.partition_summaries WHERE hi <= 200}),
	'100,100', 'with their event counts');

$node->append_conf('postgresql.conf', "evlog.retention = '30d'");
$node->reload;
ok($node->poll_query_until('app', q{SELECT count(*) > 0 FROM evlog.event_log WHERE kind = 'retention'}),
	'the worker pruned on its own');

# partitions 1-100 and 101-200 are wholly a year old; 201-300 also holds
# recent events and stays (it is closed: the log has moved past it)
is($node->safe_psql('app', q{SELECT (payload->>'from_seq') || '-' || (payload->>'to_seq') || ':' || (payload->>'count')
  FROM evlog.event_log WHERE kind = 'retention'}), '1-200:200', 'the retention event records what went');
is($node->safe_psql('app', q{SELECT min(seq) FROM evlog.event_log WHERE kind <> 'retention'}), '201',
	'the log starts at the first partition that is not wholly older');
is($node->safe_psql('app', q{SELECT count(*) FROM evlog.probe_failures WHERE event_log_seq <= 200}), '0',
	'derived rows of pruned events are gone');
is($node->safe_psql('app', q{SELECT count(*) FROM evlog_verify('all')}), '0', 'derived tables verify');

# later rounds find nothing more to prune and add no retention event
sleep 3;
is($node->safe_psql('app', q{SELECT count(*) FROM evlog.event_log WHERE kind = 'retention'}), '1',
	'later rounds remove nothing more');
ok($node->poll_query_until('app', q{SELECT count(*) > 0 FROM evlog.partition_summaries WHERE hi = 300}),
	'the closed partition that stays is summarised');
is($node->safe_psql('app', q{SELECT events FROM evlog.partition_summaries WHERE hi = 300}), '100',
	'its summary counts its events');

my $log = slurp_file($node->logfile);
like($log, qr/evlog retention removed 200 events/, 'the server log says what was removed');
unlike($log, qr/ERROR|FATAL/, 'no round failed, in app or in the database without evlog');
$node->stop;
done_testing();
