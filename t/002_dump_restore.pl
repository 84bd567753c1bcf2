# pg_dump of a database using evlog, restored into a fresh database, keeps
# every event, seq, user-registered kind and grant; appends after the restore
# continue above the old seqs, and the log is still append-only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql('postgres', 'CREATE ROLE app');
$node->safe_psql('src', q{
	CREATE EXTENSION evlog;
	SELECT evlog_register_kind('deploy_note', 'operator notes');
	SELECT evlog_grant_writer('app');
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h' || i % 7, 'r' || i % 3,
	                    json_build_object('i', i)::text, CASE WHEN i % 10 = 0 THEN 'ev-' || i END)
	  FROM generate_series(1, 1000) i;
	SELECT evlog_append('deploy_note', '2026-05-16 02:00:00+00', NULL, NULL, '{"text":"hello"}');
	-- a rolled-back append leaves a hole in seq that the restore must keep
	BEGIN;
	SELECT evlog_append('agent_event', '2026-05-16 03:00:00+00', NULL, NULL, '{}');
	ROLLBACK;
	SELECT evlog_append('agent_event', '2026-05-16 04:00:00+00', NULL, NULL, '{"last":true}');
});

my $fingerprint = q{SELECT count(*), max(seq),
	md5(string_agg(seq || ts::text || kind || coalesce(host_id, '-') || coalesce(rollout_id, '-')
	               || payload::text || coalesce(event_id, '-'), ',' ORDER BY seq)) FROM evlog.event_log};
my $src = $node->safe_psql('src', $fingerprint);

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

is($node->safe_psql('dst', $fingerprint), $src, 'every event and seq restored exactly');
is($node->safe_psql('dst', q{SELECT description FROM evlog.kinds WHERE kind = 'deploy_note'}),
	'operator notes', 'user-registered kind restored');
is($node->safe_psql('dst', 'SELECT count(*) FROM evlog.kinds'), '9', 'built-in kinds not duplicated');
is($node->safe_psql('dst',
	q{SELECT has_function_privilege('app', 'evlog_append(text,timestamptz,text,text,text,text)', 'EXECUTE')}),
	't', 'grants restored');

my $max = (split /\|/, $src)[1];
my $next = $node->safe_psql('dst',
	q{SELECT evlog_append('agent_event', '2026-05-16 05:00:00+00', NULL, NULL, '{}')});
cmp_ok($next, '>', $max, 'appends after restore continue above the old seqs');
is($node->safe_psql('dst',
	q{SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h3', 'r1', '{"i": 10}', 'ev-10')}),
	$node->safe_psql('src', q{SELECT seq FROM evlog.event_log WHERE event_id = 'ev-10'}),
	'event_id idempotency holds across the restore');

my ($ret, $out, $err) = $node->psql('dst', 'DELETE FROM evlog.event_log');
like($err, qr/append-only/, 'restored log is still append-only');

$node->stop;
done_testing();
