# Asynchronous append (issue 5), the core path: with evlog preloaded,
# 100,000 enqueued events still queued at a fast shutdown are drained and
# all present exactly once after the restart; validation happens in the
# caller; commit-time vs call-time queuing under ROLLBACK and savepoints;
# PREPARE refused; privileges; and without preloading evlog_enqueue fails
# with a hint while evlog_append keeps working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('queue');
$node->init;
# a long interval and a huge batch: nothing is written until a flush is
# asked for, the ring is half full, or the server shuts down
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
evlog.writer_idle_timeout = '1h'
evlog.queue_size = '32MB'
evlog.flush_interval = '1h'
evlog.batch_size = 100000
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');

# ---- 100,000 enqueues, fast shutdown, all present exactly once
for my $chunk (0 .. 3)
{
	my $lo = $chunk * 25000 + 1;
	my $hi = $lo + 24999;
	$node->safe_psql('postgres', qq{
		SELECT count(evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'h' || (i % 50), 'r1',
		                           json_build_object('i', i)::text))
		  FROM generate_series($lo, $hi) i});
}
is($node->safe_psql('postgres', 'SELECT pending, accepted FROM evlog.queue_status'),
	'100000|100000', 'all 100,000 events are still queued before the shutdown');
is($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.event_log'), '0',
	'nothing written yet');

$node->stop('fast');
$node->start;
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT payload->>'i'), min((payload->>'i')::int), max((payload->>'i')::int)
	  FROM evlog.event_log WHERE kind = 'agent_event'}),
	'100000|100000|1|100000', 'after stop fast + start: 100,000 events, each exactly once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.gaps'), '0',
	'a clean shutdown reports no gap');
is($node->safe_psql('postgres', 'SELECT clean_shutdown OR epoch_start_ticket >= 100000 FROM evlog.queue_state'),
	't', 'queue_state moved to a new epoch at the clean shutdown');

# ---- a smart shutdown drains too
$node->safe_psql('postgres', q{
	SELECT count(evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'smart', NULL, json_build_object('i', i)::text))
	  FROM generate_series(1, 5000) i});
is($node->safe_psql('postgres', q{SELECT pending FROM evlog.queue_status}), '5000', '5000 events queued before a smart shutdown');
$node->stop('smart');
$node->start;
is($node->safe_psql('postgres', q{SELECT count(DISTINCT payload->>'i') FROM evlog.event_log WHERE host_id = 'smart'}),
	'5000', 'after stop smart + start: all 5000 present');
is($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.gaps'), '0', 'still no gap');

# ---- validation in the caller: a bad event is an error now
my %bad = (
	q{'no_such_kind', now(), NULL, NULL, '{}'} => qr/unknown event kind "no_such_kind"/,
	q{NULL, now(), NULL, NULL, '{}'} => qr/kind must not be null/,
	q{'agent_event', 'infinity', NULL, NULL, '{}'} => qr/ts must be a finite timestamp/,
	q<'agent_event', now(), NULL, NULL, '{"a":'> => qr/payload is not valid JSON/,
	q{'agent_event', now(), NULL, NULL, '[1,2]'} => qr/payload must be a JSON object/,
	q{'agent_event', now(), NULL, NULL, '{}'::jsonb || '[1]'::jsonb} => qr/payload must be a JSON object/,
);
for my $args (sort keys %bad)
{
	my ($rc, $out, $err) = $node->psql('postgres', "SET evlog.enqueue_mode = call; SELECT evlog_enqueue($args)");
	like($err, $bad{$args}, "evlog_enqueue($args) is refused in the caller");
}
is($node->safe_psql('postgres', 'SELECT coalesce(sum(accepted), 0) FROM evlog.queue_status'), '0',
	'refused events were never queued');

# ---- commit vs call time, with ROLLBACK and savepoints
my $out = $node->safe_psql('postgres', q{
	BEGIN;
	SELECT evlog_enqueue('agent_event', now(), 'sem', NULL, '{"case":"commit-rolled-back"}');
	ROLLBACK;
	SET evlog.enqueue_mode = call;
	BEGIN;
	SELECT evlog_enqueue('agent_event', now(), 'sem', NULL, '{"case":"call-rolled-back"}');
	ROLLBACK;
	RESET evlog.enqueue_mode;
	BEGIN;
	SELECT evlog_enqueue('agent_event', now(), 'sem', NULL, '{"case":"commit-kept"}');
	SAVEPOINT a;
	SELECT evlog_enqueue('agent_event', now(), 'sem', NULL, '{"case":"savepoint-rolled-back"}');
	SAVEPOINT b;
	SELECT evlog_enqueue('agent_event', now(), 'sem', NULL, '{"case":"nested-rolled-back"}');
	ROLLBACK TO a;
	SAVEPOINT c;
	SELECT evlog_enqueue('agent_event', now(), 'sem', NULL, '{"case":"savepoint-released"}');
	RELEASE c;
	COMMIT;
	SELECT evlog_flush('30 s');
});
like($out, qr/t$/, 'evlog_flush returns true once the queued events are written');
is($node->safe_psql('postgres',
	q{SELECT string_agg(payload->>'case', ',' ORDER BY seq) FROM evlog.event_log WHERE host_id = 'sem'}),
	'call-rolled-back,commit-kept,savepoint-released',
	'commit mode: a rollback (or rolled-back savepoint) logs nothing; call mode survives the rollback');

# evlog_flush inside the enqueuing transaction cannot see uncommitted events;
# after COMMIT it waits for them
is($node->safe_psql('postgres', q{
	SELECT evlog_enqueue('agent_event', now(), 'flush', NULL, '{}') > 0;
	SELECT evlog_flush();
	SELECT count(*) FROM evlog.event_log WHERE host_id = 'flush'}),
	"t\nt\n1", 'evlog_flush after an autocommitted enqueue: the event is visible');

my ($rc, $o, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT evlog_enqueue('agent_event', now(), NULL, NULL, '{}');
	PREPARE TRANSACTION 'p1'});
like($err, qr/cannot PREPARE a transaction that has enqueued evlog events/,
	'PREPARE TRANSACTION with pending enqueues is refused');

# ---- privileges: evlog_grant_writer covers evlog_enqueue and evlog_flush
$node->safe_psql('postgres', q{
	CREATE ROLE app LOGIN; CREATE ROLE stranger LOGIN;
	SELECT evlog_grant_writer('app');
	GRANT USAGE ON SCHEMA public TO stranger;});
is($node->safe_psql('postgres', q{
	SELECT evlog_enqueue('agent_event', now(), 'app', NULL, '{}') > 0; SELECT evlog_flush()},
	extra_params => [ '-U', 'app' ]), "t\nt", 'a writer role can enqueue and flush');
($rc, $o, $err) = $node->psql('postgres', q{SELECT evlog_enqueue('agent_event', now(), 'x', NULL, '{}')},
	extra_params => [ '-U', 'stranger' ]);
like($err, qr/permission denied for function evlog_enqueue/, 'PUBLIC cannot enqueue');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.queue_status WHERE database = current_database()},
	extra_params => [ '-U', 'app' ]), '1', 'a writer role can read evlog.queue_status');

$node->stop;

# ---- without shared_preload_libraries
my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION evlog');
($rc, $o, $err) = $plain->psql('postgres',
	q{SELECT evlog_enqueue('agent_event', now(), NULL, NULL, '{}')});
like($err, qr/ERROR:  evlog queue is not available/, 'evlog_enqueue without preloading fails');
like($err, qr/HINT:  Add evlog to shared_preload_libraries/, '... with a hint naming shared_preload_libraries');
($rc, $o, $err) = $plain->psql('postgres', q{SELECT evlog_flush()}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/55000/, 'evlog_flush too, with SQLSTATE 55000');
is($plain->safe_psql('postgres', q{
	SELECT evlog_append('agent_event', now(), NULL, NULL, '{}') > 0;
	SELECT count(*) FROM evlog.queue_status}), "t\n0", 'evlog_append works and queue_status is empty');
$plain->stop;

done_testing();
