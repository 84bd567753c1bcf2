# Upgrade 1.0 -> 1.1 -> current: a database created at evlog 1.0 (events of every kind,
# derived rows, a sealed chain, a consumer, granted roles) keeps every event,
# derived row, chain link, consumer position and guarantee through
# ALTER EXTENSION evlog UPDATE; appends, reads and pruning then continue.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use EvlogTest;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', 'evlog.partition_size = 50');
$node->start;
my $db = 'postgres';
$node->safe_psql($db, q{CREATE EXTENSION evlog VERSION '1.0'});
is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'evlog'}), '1.0', 'installed at 1.0');

$node->safe_psql($db, q{CREATE ROLE app LOGIN; CREATE ROLE report LOGIN;
	SELECT evlog_grant_writer('app'); SELECT evlog_grant_reader('report')});
$node->safe_psql($db, append_every_kind('a', 20));
# a hole left by an aborted append, and appends by the granted writer
$node->safe_psql($db, q{BEGIN; SELECT evlog_append('agent_event', '2026-05-16 03:00:00+00', NULL, NULL, '{}'); ROLLBACK});
$node->safe_psql($db, q{SET ROLE app; SELECT evlog_append('plan_action', '2026-05-16 04:00:00+00', NULL, NULL, '{"by":"app"}', 'app-1')});
$node->safe_psql($db, q{SELECT evlog_seal(NULL); SELECT evlog_consumer_create('billing', 0)});
$node->safe_psql($db, q{SELECT evlog_consumer_ack('billing', 37)});

my %before = (
	events  => $node->safe_psql($db, fingerprint_sql()),
	derived => $node->safe_psql($db, derived_fingerprint_sql()),
	chain   => $node->safe_psql($db, q{SELECT seq || ':' || hash FROM evlog_chain_head()}),
	links   => $node->safe_psql($db, q{SELECT count(*) || md5(string_agg(seq || encode(hash, 'hex'), ',' ORDER BY seq)) FROM evlog.chain}),
	consumer => $node->safe_psql($db, q{SELECT position FROM evlog.consumers WHERE name = 'billing'}),
	ids     => $node->safe_psql($db, q{SELECT count(*) FROM evlog.event_log WHERE event_id IS NOT NULL}));
like($before{derived}, qr/^20[0-9a-f]{32}\/20[0-9a-f]{32}\/20[0-9a-f]{32}\/20[0-9a-f]{32}$/, 'derived rows at 1.0: probe failures, rollouts, host states, skips');

$node->safe_psql($db, q{ALTER EXTENSION evlog UPDATE TO '1.1'});
is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'evlog'}), '1.1', 'updated to 1.1');
is($node->safe_psql($db, q{SELECT relkind FROM pg_class WHERE oid = 'evlog.event_log'::regclass}), 'p',
	'the log is partitioned');
is($node->safe_psql($db, q{SELECT partition FROM evlog.partitions LIMIT 1}), 'evlog.event_log_p0000000000000000000',
	'the 1.0 table is its first partition');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog.partitions}), '2', 'and the next partition is there');
is($node->safe_psql($db, q{SELECT count(*) FROM pg_depend WHERE deptype = 'e'
	AND objid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'evlog.event_log'::regclass)}), '0',
	'partitions are not extension members');

is($node->safe_psql($db, fingerprint_sql()), $before{events}, 'every event and seq intact');
is($node->safe_psql($db, derived_fingerprint_sql()), $before{derived}, 'every derived row intact');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean');
is($node->safe_psql($db, q{SELECT seq || ':' || hash FROM evlog_chain_head()}), $before{chain}, 'chain head unchanged');
is($node->safe_psql($db, q{SELECT count(*) || md5(string_agg(seq || encode(hash, 'hex'), ',' ORDER BY seq)) FROM evlog.chain}),
	$before{links}, 'chain links unchanged');
is($node->safe_psql($db, q{SELECT coalesce(first_bad_seq::text, 'intact') FROM evlog_verify_chain()}), 'intact',
	'chain verifies after the update');
is($node->safe_psql($db, q{SELECT position FROM evlog.consumers WHERE name = 'billing'}), $before{consumer},
	'consumer position kept');
is($node->safe_psql($db, q{SELECT min(seq) FROM evlog_consumer_next('billing', 10)}), '38',
	'consumer resumes after its position');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog.event_ids}), $before{ids}, 'every event_id moved to evlog.event_ids');

# guarantees
my ($ret, $out, $err) = $node->psql($db, 'DELETE FROM evlog.event_log');
like($err, qr/append-only/, 'DELETE refused');
($ret, $out, $err) = $node->psql($db, q{UPDATE evlog.event_log SET payload = '{}'});
like($err, qr/append-only/, 'UPDATE refused');
($ret, $out, $err) = $node->psql($db, 'TRUNCATE evlog.event_log CASCADE');
like($err, qr/append-only/, 'TRUNCATE refused');
($ret, $out, $err) = $node->psql($db, 'TRUNCATE evlog.event_log_p0000000000000000000 CASCADE');
like($err, qr/append-only/, 'TRUNCATE of the old table refused');
($ret, $out, $err) = $node->psql($db, 'DELETE FROM evlog.chain');
like($err, qr/append-only/, 'chain still append-only');
is($node->safe_psql($db, q{SELECT seq FROM evlog.event_log WHERE event_id = 'a-3-probe'}),
	$node->safe_psql($db, q{
	  SELECT evlog_append('agent_event', ts, host_id, rollout_id, payload, event_id)
	    FROM evlog.event_log WHERE event_id = 'a-3-probe'}),
	'a retried append of a 1.0 event_id returns the stored seq');
($ret, $out, $err) = $node->psql($db, q{SELECT evlog_append('agent_event', now(), NULL, NULL, '{}', 'a-3-probe')});
like($err, qr/already in the log with different content/, 'a different event with a 1.0 event_id is refused');
is($node->safe_psql($db, q{SELECT count(*) || ':' || max(seq) FROM evlog_read(0, NULL)}),
	$node->safe_psql($db, q{SELECT count(*) || ':' || max(seq) FROM evlog.event_log}), 'evlog_read returns every event');

# the grants of the functions recreated by the update are carried over
is($node->safe_psql($db, q{SET ROLE report; SELECT count(*) > 0 FROM evlog_read(0, 5)}), 't', 'reader keeps evlog_read');
is($node->safe_psql($db, q{SET ROLE report; SELECT count(*) > 0 FROM evlog_query(max_rows => 5)}), 't', 'reader keeps evlog_query');
is($node->safe_psql($db, q{SET ROLE report; SELECT count(*) > 0 FROM evlog.event_log}), 't', 'reader keeps SELECT on the log');
($ret, $out, $err) = $node->psql($db, q{SET ROLE report; SELECT evlog_prune(now())});
like($err, qr/permission denied/, 'a reader cannot prune');

# the 1.2 library against a 1.1 database: the batch's JSON form already
# takes expectations; the rollout stream's index exists, the host stream's not
is($node->safe_psql($db, q{SELECT array_length(evlog_append_batch(jsonb_build_array(jsonb_build_object(
	'kind', 'effect', 'ts', '2026-05-16T05:00:00Z', 'rollout_id', 'occ-11', 'payload', '{}'::jsonb,
	'expected_stream', 'rollout', 'expected_seq', 0))), 1)}), '1', 'at 1.1: a conditional batch on a rollout stream');
($ret, $out, $err) = $node->psql($db, q{SELECT evlog_append_batch(jsonb_build_array(jsonb_build_object(
	'kind', 'effect', 'ts', '2026-05-16T05:00:00Z', 'host_id', 'occ-11', 'payload', '{}'::jsonb,
	'expected_stream', 'host', 'expected_seq', 0)))});
like($err, qr/expectations on the host stream need evlog 1\.2/, 'at 1.1: the host stream is refused, naming the update');

# appends continue, into new partitions, and pruning works on the upgraded log
my $max = $node->safe_psql($db, 'SELECT max(seq) FROM evlog.event_log');
my $next = $node->safe_psql($db, q{SET ROLE app;
	SELECT evlog_append('plan_action', '2026-05-17 00:00:00+00', NULL, NULL, '{"after":"update"}', 'app-2')});
cmp_ok($next, '>', $max, 'appends continue above the old seqs');
$node->safe_psql($db, append_every_kind('b', 20));
cmp_ok($node->safe_psql($db, q{SELECT count(*) FROM evlog.partitions}), '>=', 4, 'new partitions created');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean after more appends');
$node->safe_psql($db, 'SELECT evlog_seal(NULL)');
# the consumer (at 37) holds retention back, on a 1.1 database too
is($node->safe_psql($db, q{SELECT evlog_prune('2026-05-16 12:00:00+00')}), '0',
	'a named consumer holds retention back');
$node->safe_psql($db, q{SELECT evlog_consumer_ack('billing', evlog_safe_seq())});
my $pruned = $node->safe_psql($db, q{SELECT evlog_prune('2026-05-16 12:00:00+00')});
is($pruned, (split /:/, $before{events})[0], 'evlog_prune drops the 1.0 table with exactly its events');
is($node->safe_psql($db, q{SELECT count(*) FROM pg_class WHERE relname = 'event_log_p0000000000000000000'}), '0',
	'the 1.0 table is gone');
is($node->safe_psql($db, q{SELECT coalesce(first_bad_seq::text, 'intact') FROM evlog_verify_chain()}), 'intact',
	'chain verifies from the anchor');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean after pruning');

# and on to the current version: the same guarantees hold after it
$node->safe_psql($db, 'ALTER EXTENSION evlog UPDATE');
is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'evlog'}),
	$node->safe_psql($db, q{SELECT default_version FROM pg_available_extensions WHERE name = 'evlog'}),
	'updated on to the default version');
is($node->safe_psql($db, q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean at the default version');
is($node->safe_psql($db, q{SELECT coalesce(first_bad_seq::text, 'intact') FROM evlog_verify_chain()}), 'intact',
	'chain verifies at the default version');
# a writer since 1.0 appends conditionally after the update, on both streams
is($node->safe_psql($db, q{SET ROLE app;
	SELECT evlog_append('effect', now(), 'occ-h', 'occ-12', '{}', 'rollout', 0) AS seq \\gset
	SELECT evlog_stream_head('rollout', 'occ-12') = :seq;
	SELECT evlog_append('effect', now(), 'occ-h', NULL, '{}', 'host', evlog_stream_head('host', 'occ-h')) > 0}),
	"t\nt", 'a writer granted at 1.0 appends conditionally at the default version');
# and loads with COPY (1.4: INSERT on evlog.append_copy); a reader cannot
is($node->safe_psql($db, q{SET ROLE app;
	INSERT INTO evlog.append_copy (kind, ts, host_id, payload) VALUES ('effect', now(), 'copy-h', '{}');
	SELECT count(*) FROM evlog.event_log WHERE host_id = 'copy-h'}),
	'1', 'a writer granted at 1.0 loads with COPY at the default version');
is($node->safe_psql($db, q{SELECT has_table_privilege('report', 'evlog.append_copy', 'INSERT')}), 'f',
	'a reader granted at 1.0 cannot load with COPY');

# the carried-over grants are the database's own: a dump of the updated
# database carries them, and a restore gives the roles their rights back
my $dump = $node->basedir . '/updated.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr($db), '-f', $dump ], 'dump of the updated database');
$node->safe_psql($db, 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), '-L', restore_list($node, $dump), $dump ],
	'restore of the updated database');
is($node->safe_psql('restored', q{SET ROLE report; SELECT count(*) > 0 FROM evlog_read(0, 5)}), 't',
	'after a restore, the reader keeps evlog_read');
is($node->safe_psql('restored', q{SET ROLE report; SELECT count(*) > 0 FROM evlog.event_log}), 't',
	'after a restore, the reader keeps SELECT on the log');
is($node->safe_psql('restored', q{SET ROLE app; SELECT evlog_stream_head('rollout', 'occ-12') > 0}), 't',
	'after a restore, the writer keeps the conditional-append functions');
is($node->safe_psql('restored', q{SELECT has_table_privilege('app', 'evlog.append_copy', 'INSERT')}), 't',
	'after a restore, the writer keeps INSERT on evlog.append_copy');

$node->stop;
done_testing();
