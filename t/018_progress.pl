# Progress of evlog_rebuild, seen from another session, with evlog preloaded:
# evlog.progress (and evlog.rebuild_progress) show the call's phase while
# pg_stat_activity.query keeps the call's own query text.  Deterministic: an
# open appending transaction makes the rebuild wait, in its catch-up phase,
# for the lock on the log, for as long as the test keeps it open.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use EvlogTest;

my $node = PostgreSQL::Test::Cluster->new('progress');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'evlog'
evlog.maintenance_lock_wait = '10min'});
$node->start;
my $db = 'postgres';
$node->safe_psql($db, 'CREATE EXTENSION evlog');
$node->safe_psql($db, append_every_kind('p', 20));

is($node->safe_psql($db, 'SELECT count(*) FROM evlog.progress'), '0', 'nothing running: no rows');

# an appender left open: the rebuild's catch-up phase waits for it
my $idle = $node->background_psql($db);
$idle->query_safe(q{BEGIN; SELECT evlog_append('agent_event', '2026-05-16 05:00:00+00', 'idle', NULL, '{}')});

my ($out, $err) = ('', '');
my $rebuild = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr($db), '-c', q{SELECT evlog_rebuild('host_states')} ],
	'>', \$out, '2>', \$err, IPC::Run::timeout(180));

$node->poll_query_until($db, q{SELECT count(*) = 1 FROM evlog.progress WHERE phase = 'catch-up'})
  or die 'the rebuild never reported its catch-up phase';
my $row = $node->safe_psql($db, q{
	SELECT p.command, p.target, p.phase, p.events_total > 0, p.events_done >= 0, p.started_at <= now(),
	       a.query
	  FROM evlog.progress p JOIN pg_stat_activity a ON a.pid = p.pid});
is($row, q{evlog_rebuild|host_states|catch-up|t|t|t|SELECT evlog_rebuild('host_states')},
	'another session sees the rebuild, its phase and totals; pg_stat_activity keeps its query');
is($node->safe_psql($db, q{SELECT view || '/' || phase FROM evlog.rebuild_progress}), 'host_states/catch-up',
	'evlog.rebuild_progress shows the same, under the 1.0 column names');
$idle->query_safe('COMMIT');
$rebuild->finish;
unlike($err, qr/ERROR/, 'the rebuild finished') or diag $err;
is($node->safe_psql($db, 'SELECT count(*) FROM evlog.progress'), '0', 'its row is gone when it returns');

# a failing call leaves no row behind
my ($ret, $o, $e) = $node->psql($db, q{SELECT evlog_rebuild('nope')});
like($e, qr/unknown evlog view/, 'a rebuild of an unknown view fails');
is($node->safe_psql($db, 'SELECT count(*) FROM evlog.progress'), '0', 'and leaves no progress row');

# a failure caught by an exception block: the transaction goes on, the row
# is gone
is($node->safe_psql($db, q{
	DO $$
	BEGIN
		BEGIN
			PERFORM evlog_rebuild('nope');
		EXCEPTION WHEN undefined_object THEN NULL;
		END;
		RAISE NOTICE 'rows after the caught failure: %', (SELECT count(*) FROM evlog.progress);
		IF (SELECT count(*) FROM evlog.progress) <> 0 THEN
			RAISE EXCEPTION 'a stale progress row';
		END IF;
	END $$;
	SELECT 'ok'}), 'ok', 'a failure caught inside the transaction leaves no progress row');

$idle->quit;
$node->stop;
done_testing();
