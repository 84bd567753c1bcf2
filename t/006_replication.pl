# Fan-out with built-in logical replication, and reads on a physical hot
# standby (doc/operations.md, "Scaling out").
#
# A publisher running evlog publishes evlog.event_log (via the partition
# root) and evlog.watermark; a subscriber running evlog maintains its own
# derived tables from the replicated rows (the derive trigger is ENABLE
# ALWAYS, so it fires in the apply worker) and creates its own partitions
# from the replicated partition top.  Appends of every kind, then: the same
# log and derived rows on both sides, evlog_verify clean on both, the same
# chain head when both seal, and a consumer on the subscriber that gets
# every row exactly once.  The subscriber's evlog_safe_seq trusts only the
# publisher's watermark: a late commit on the publisher is never skipped.
# A physical standby of the publisher reads the same way, and refuses
# writes with a clear error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use EvlogTest;

my $pub = PostgreSQL::Test::Cluster->new('publisher');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', "evlog.partition_size = 100\nmax_wal_senders = 10");
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init(allows_streaming => 'logical');
$sub->append_conf('postgresql.conf', 'evlog.partition_size = 100');
$sub->start;

$pub->safe_psql('postgres', 'CREATE EXTENSION evlog');
$pub->safe_psql('postgres', append_every_kind('pre', 5));

# the physical standby, from a backup of the publisher
$pub->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($pub, 'bk', has_streaming => 1);
$standby->start;
my ($ret, $out, $err);

# before any watermark the standby refuses to guess
($ret, $out, $err) = $standby->psql('postgres', 'SELECT evlog_safe_seq()');
like($err, qr/no evlog watermark has reached this standby yet/, 'standby: no reads before a watermark');

# ---- the recipe
$pub->safe_psql('postgres', q{
	CREATE PUBLICATION evlog_pub FOR TABLE evlog.event_log, evlog.watermark
	  WITH (publish_via_partition_root = true)});
$pub->safe_psql('postgres', 'SELECT evlog_publish_watermark()');
$sub->safe_psql('postgres', 'CREATE EXTENSION evlog');
my $top = $pub->safe_psql('postgres', 'SELECT partition_top FROM evlog.watermark');
$sub->safe_psql('postgres', "SELECT evlog_create_partitions(upto => $top)");
my $connstr = $pub->connstr . ' dbname=postgres';
$sub->safe_psql('postgres', "CREATE SUBSCRIPTION evlog_sub CONNECTION '$connstr' PUBLICATION evlog_pub");
$sub->wait_for_subscription_sync($pub, 'evlog_sub');

($ret, $out, $err) = $sub->psql('postgres', q{SELECT evlog_append('plan_action', now(), NULL, NULL, '{}')});
like($err, qr/subscriber here/, 'subscriber refuses local appends');

# ---- appends of every kind, crossing partition boundaries
$pub->safe_psql('postgres', append_every_kind('main', 30));
$pub->safe_psql('postgres', 'SELECT evlog_publish_watermark()');
$pub->wait_for_catchup('evlog_sub');

my $fp = fingerprint_sql();
my $dfp = derived_fingerprint_sql();
is($sub->safe_psql('postgres', $fp), $pub->safe_psql('postgres', $fp), 'same log on the subscriber');
is($sub->safe_psql('postgres', $dfp), $pub->safe_psql('postgres', $dfp), 'subscriber derived its own rows, the same');
cmp_ok($sub->safe_psql('postgres', 'SELECT count(*) FROM evlog.probe_failures'), '>', 30, 'probe failures derived');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM evlog.rollouts WHERE state IN ('Active', 'Terminal')}), '35',
	'rollout transitions derived');
is($pub->safe_psql('postgres', q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean on the publisher');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify clean on the subscriber');
cmp_ok($sub->safe_psql('postgres', 'SELECT count(*) FROM evlog.partitions'), '>=', 4,
	'subscriber created partitions as the publisher did');
$pub->safe_psql('postgres', 'SELECT evlog_seal(NULL)');
$sub->safe_psql('postgres', 'SELECT evlog_seal(NULL)');
is($sub->safe_psql('postgres', 'SELECT seq, hash FROM evlog_chain_head()'),
	$pub->safe_psql('postgres', 'SELECT seq, hash FROM evlog_chain_head()'), 'both sides seal to the same chain head');
is($sub->safe_psql('postgres', q{SELECT coalesce(first_bad_seq::text, 'intact') FROM evlog_verify_chain()}), 'intact',
	'chain verifies on the subscriber');

# ---- a late commit on the publisher: seq s1 in flight while s2 > s1 commits
my $late = $pub->background_psql('postgres');
$late->query_safe('BEGIN');
my $s1 = $late->query_safe(q{SELECT evlog_append('plan_action', '2026-05-16 05:00:00+00', NULL, NULL, '{"late":true}')});
my $s2 = $pub->safe_psql('postgres', q{SELECT evlog_append('plan_action', '2026-05-16 05:00:01+00', NULL, NULL, '{"early":true}')});
cmp_ok($s2, '>', $s1, 'the later seq commits first');
is($pub->safe_psql('postgres', 'SELECT evlog_publish_watermark()'), $s1 - 1, 'publisher watermark stops below the seq in flight');
$pub->wait_for_catchup('evlog_sub');
$pub->wait_for_catchup($standby);
is($sub->safe_psql('postgres', "SELECT count(*) FROM evlog.event_log WHERE seq = $s2"), '1', 'subscriber has the later row');
is($sub->safe_psql('postgres', 'SELECT evlog_safe_seq()'), $s1 - 1, 'subscriber safe seq is the watermark');
is($sub->safe_psql('postgres', "SELECT count(*) FROM evlog_read(0, NULL) WHERE seq >= $s1"), '0',
	'subscriber evlog_read does not pass the late commit');
is($standby->safe_psql('postgres', 'SELECT evlog_safe_seq()'), $s1 - 1, 'standby safe seq is the watermark');
is($standby->safe_psql('postgres', "SELECT count(*) FROM evlog_read(0, NULL) WHERE seq >= $s1"), '0',
	'standby evlog_read does not pass the late commit');

# ---- a consumer on the subscriber reads while the late commit lands
$sub->safe_psql('postgres', 'SELECT evlog_consumer_create(\'fanout\', 0)');
my %seen;
my $dups = 0;
my $read_batch = sub {
	my $rows = $sub->safe_psql('postgres', q{SELECT string_agg(seq::text, ',' ORDER BY seq) FROM evlog_consumer_next('fanout', 100)});
	return 0 if $rows eq '';
	my @seqs = split /,/, $rows;
	for (@seqs) { $dups++ if $seen{$_}++ }
	$sub->safe_psql('postgres', "SELECT evlog_consumer_ack('fanout', $seqs[-1])");
	return scalar @seqs;
};
while ($read_batch->() > 0) { }
$late->query_safe('COMMIT');
$late->quit;
$pub->safe_psql('postgres', append_every_kind('post', 3));
$pub->safe_psql('postgres', 'SELECT evlog_publish_watermark()');
$pub->wait_for_catchup('evlog_sub');
$pub->wait_for_catchup($standby);
while ($read_batch->() > 0) { }
is($dups, 0, 'consumer on the subscriber got no row twice');
is(join(',', sort { $a <=> $b } keys %seen),
	$pub->safe_psql('postgres', q{SELECT string_agg(seq::text, ',' ORDER BY seq) FROM evlog.event_log}),
	'consumer on the subscriber got every row, the late commit included');
is($sub->safe_psql('postgres', $fp), $pub->safe_psql('postgres', $fp), 'same log after the late commit');
is($sub->safe_psql('postgres', q{SELECT count(*) FROM evlog_verify('all')}), '0', 'evlog_verify still clean on the subscriber');

# ---- the physical standby
is($standby->safe_psql('postgres', $fp), $pub->safe_psql('postgres', $fp), 'standby has the same log');
is($standby->safe_psql('postgres', q{SELECT count(*) || ':' || max(seq) FROM evlog_read(0, NULL)}),
	$pub->safe_psql('postgres', q{SELECT count(*) || ':' || max(seq) FROM evlog.event_log}),
	'standby evlog_read returns every event up to the watermark');
is($standby->safe_psql('postgres', q{SELECT coalesce(first_bad_seq::text, 'intact') FROM evlog_verify_chain()}), 'intact',
	'standby verifies the chain');
($ret, $out, $err) = $standby->psql('postgres', q{SELECT evlog_append('plan_action', now(), NULL, NULL, '{}')});
like($err, qr/read-only transaction/, 'standby refuses appends with a clear error');
($ret, $out, $err) = $standby->psql('postgres', 'SELECT evlog_seal()');
like($err, qr/read-only transaction/, 'standby refuses sealing with a clear error');

$standby->stop;
$sub->stop;
$pub->stop;
done_testing();
