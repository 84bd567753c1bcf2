# pg_dump of a database using evlog, restored into a fresh database, keeps
# every event, seq, user-registered kind and grant; appends after the restore
# continue above the old seqs, and the log is still append-only.  The log has
# several partitions (evlog 1.1), one of them already pruned: they are not
# extension members, so pg_dump dumps each, and the documented restore list
# (t/EvlogTest.pm, doc/operations.md) restores them without an error.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use EvlogTest;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
$node->append_conf('postgresql.conf', 'evlog.partition_size = 100');
$node->reload;
$node->safe_psql('postgres', 'CREATE ROLE app');
$node->safe_psql('src', q{
	CREATE EXTENSION evlog;
	SELECT evlog_register_kind('deploy_note', 'operator notes');
	SELECT evlog_grant_writer('app');
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00'::timestamptz + (i > 200)::int * interval '45 minutes',
	                    'h' || i % 7, 'r' || i % 3,
	                    json_build_object('i', i)::text, CASE WHEN i % 10 = 0 THEN 'ev-' || i END)
	  FROM generate_series(1, 1000) i;
	SELECT evlog_append('deploy_note', '2026-05-16 02:00:00+00', NULL, NULL, '{"text":"hello"}');
	-- a rolled-back append leaves a hole in seq that the restore must keep
	BEGIN;
	SELECT evlog_append('agent_event', '2026-05-16 03:00:00+00', NULL, NULL, '{}');
	ROLLBACK;
	SELECT evlog_append('agent_event', '2026-05-16 04:00:00+00', NULL, NULL, '{"last":true}');
});
$node->safe_psql('src', append_every_kind('x', 10));
$node->safe_psql('src', q{SELECT evlog_seal(NULL); SELECT evlog_prune('2026-05-16 01:30:00+00')});
$node->safe_psql('src', q{SELECT evlog_publish_watermark()});
cmp_ok($node->safe_psql('src', 'SELECT count(*) FROM evlog.partitions'), '>=', 10, 'several partitions');
is($node->safe_psql('src', 'SELECT min(seq) FROM evlog.event_log'), '201', 'the oldest two were pruned');

my $fingerprint = q{SELECT count(*), max(seq),
	md5(string_agg(seq || ts::text || kind || coalesce(host_id, '-') || coalesce(rollout_id, '-')
	               || payload::text || coalesce(event_id, '-'), ',' ORDER BY seq)) FROM evlog.event_log};
my $src = $node->safe_psql('src', $fingerprint);

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->command_ok([ 'pg_restore', '-L', restore_list($node, $dump), '-d', $node->connstr('dst'), $dump ],
	'pg_restore with the documented list');

# a plain pg_restore reports the partitions' indexes as already there (ATTACH
# made them) and nothing else, and restores the same log
my ($stdout, $stderr);
IPC::Run::run([ 'pg_restore', '-d', $node->connstr('dst_plain'), $dump ], '>', \$stdout, '2>', \$stderr);
my @errors = grep { /ERROR:/ } split /\n/, $stderr;
my @unexpected = grep { !/multiple primary keys for table "event_log_p\d{19}"|relation "event_log_p\d{19}_\w+" already exists/ } @errors;
ok(@errors > 0 && @unexpected == 0, 'plain pg_restore: only the partitions\' index errors')
  or diag(join "\n", @unexpected);
is($node->safe_psql('dst_plain', $fingerprint), $node->safe_psql('src', $fingerprint), 'plain pg_restore: same log');

is($node->safe_psql('dst', $fingerprint), $src, 'every event and seq restored exactly');
is($node->safe_psql('dst', q{SELECT description FROM evlog.kinds WHERE kind = 'deploy_note'}),
	'operator notes', 'user-registered kind restored');
is($node->safe_psql('dst', 'SELECT count(*) FROM evlog.kinds'), '10', 'built-in kinds not duplicated');
is($node->safe_psql('dst', 'SELECT partition || bounds FROM evlog.partitions'),
	$node->safe_psql('src', 'SELECT partition || bounds FROM evlog.partitions'), 'same partitions');
is($node->safe_psql('dst', derived_fingerprint_sql()), $node->safe_psql('src', derived_fingerprint_sql()),
	'derived rows regenerated from the restored log');
is($node->safe_psql('dst', q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean');
is($node->safe_psql('dst', q{SELECT coalesce(first_bad_seq::text, 'intact') FROM evlog_verify_chain()}), 'intact',
	'chain with its anchor verifies');
is($node->safe_psql('dst', q{SELECT count(*) FROM evlog.event_ids}), $node->safe_psql('src', q{SELECT count(*) FROM evlog.event_ids}),
	'event_id entries restored');
is($node->safe_psql('dst', q{SELECT safe_seq FROM evlog.watermark}), $node->safe_psql('src', q{SELECT safe_seq FROM evlog.watermark}),
	'watermark restored');
is($node->safe_psql('dst', q{SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	WHERE c.relispartition AND c.relnamespace = 'evlog'::regnamespace AND t.tgenabled = 'A'}),
	$node->safe_psql('src', q{SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	WHERE c.relispartition AND c.relnamespace = 'evlog'::regnamespace AND t.tgenabled = 'A'}),
	'partitions keep their ENABLE ALWAYS triggers');
is($node->safe_psql('dst',
	q{SELECT has_function_privilege('app', 'evlog_append(text,timestamptz,text,text,text,text)', 'EXECUTE')}),
	't', 'grants restored');

my $max = (split /\|/, $src)[1];
my $next = $node->safe_psql('dst',
	q{SELECT evlog_append('agent_event', '2026-05-16 05:00:00+00', NULL, NULL, '{}')});
cmp_ok($next, '>', $max, 'appends after restore continue above the old seqs');
is($node->safe_psql('dst',
	q{SELECT evlog_append('agent_event', '2026-05-16 01:45:00+00', 'h3', 'r2', '{"i": 500}', 'ev-500')}),
	$node->safe_psql('src', q{SELECT seq FROM evlog.event_log WHERE event_id = 'ev-500'}),
	'event_id idempotency holds across the restore');

my ($ret, $out, $err) = $node->psql('dst', 'DELETE FROM evlog.event_log');
like($err, qr/append-only/, 'restored log is still append-only');
my $part = $node->safe_psql('dst', 'SELECT partition FROM evlog.partitions LIMIT 1');
($ret, $out, $err) = $node->psql('dst', "UPDATE $part SET payload = '{}'");
like($err, qr/append-only/, 'and so are its partitions');
# appends keep creating partitions in the restored database
$node->safe_psql('dst', append_every_kind('y', 20));
is($node->safe_psql('dst', q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean after more appends');

$node->stop;
done_testing();
