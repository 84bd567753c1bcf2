# Asynchronous append (issue 5) under failure: a poison entry (a user
# trigger that raises for one payload) is retried, then isolated into
# evlog.dead_letter while the rest of its batch lands; a locked log makes
# batches time out and retry, and everything lands once the lock goes,
# nothing dead-lettered; a full queue makes callers wait and then fail
# (never drop) under the default policy, statement_timeout interrupts the
# wait, and overflow = drop counts every drop and records a gap.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(time);
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('queue_failure');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
evlog.writer_idle_timeout = '1h'
evlog.queue_size = '64kB'
evlog.flush_interval = '20ms'
evlog.flush_lock_timeout = '100ms'
evlog.enqueue_timeout = '1s'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');

sub status
{
	return $node->safe_psql('postgres', "SELECT $_[0] FROM evlog.queue_status");
}

# ---- poison entry: retried, then isolated; the other 99 land
$node->safe_psql('postgres', q{
	CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.payload->>'poison' = 'yes' THEN
			RAISE EXCEPTION 'refusing poison event %', NEW.payload->>'i';
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER refuse_poison BEFORE INSERT ON evlog.event_log
		FOR EACH ROW EXECUTE FUNCTION refuse_poison();});
# evlog_flush waits for what its own session queued: same session
my ($poison_ticket, $flush) = split /\n/, $node->safe_psql('postgres', q{
	SELECT max(t) FILTER (WHERE i = 50) FROM (
		SELECT i, evlog_enqueue('agent_event', now(), 'poison-test', NULL,
			json_build_object('i', i, 'poison', CASE WHEN i = 50 THEN 'yes' ELSE 'no' END)::text) AS t
		  FROM generate_series(1, 100) i) s;
	SELECT evlog_flush('60 s')});
is($flush, 't', 'evlog_flush returns once the batch is written or dead-lettered');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT payload->>'i') FROM evlog.event_log WHERE host_id = 'poison-test'}),
	'99|99', 'the 99 good events of the failing batch landed');
is($node->safe_psql('postgres', q{SELECT ticket, payload->>'i', error, sqlstate FROM evlog.dead_letter}),
	"$poison_ticket|50|refusing poison event 50|P0001", 'the poison event is in evlog.dead_letter with its ticket and error');
cmp_ok(status('retries'), '>=', 1, 'the failing batch was retried before it was split');
is(status('dead_lettered'), '1', 'queue_status counts one dead letter');
$node->safe_psql('postgres', 'DROP TRIGGER refuse_poison ON evlog.event_log');

# ---- a locked log: lock timeouts are retried with backoff, nothing is lost
my $retries_before = status('retries');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE evlog.event_log IN EXCLUSIVE MODE');
my $producer = $node->background_psql('postgres');
$producer->query_safe(q{
	SELECT count(evlog_enqueue('agent_event', now(), 'lock-test', NULL, json_build_object('i', i)::text))
	  FROM generate_series(1, 200) i});
$node->poll_query_until('postgres', "SELECT retries >= $retries_before + 3 FROM evlog.queue_status")
  or die 'the writer did not retry';
like(status('last_error'), qr/lock timeout/, 'queue_status shows the lock timeout as last_error');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'lock-test'}),
	'0', 'nothing written while the log is locked');
is($producer->query_safe(q{SELECT evlog_flush('200 ms')}), 'f', 'evlog_flush times out (false) while the log is locked');
$locker->query_safe('COMMIT');
is($producer->query_safe(q{SELECT evlog_flush('60 s')}), 't', 'flush succeeds once the lock is gone');
$producer->quit;
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT payload->>'i') FROM evlog.event_log WHERE host_id = 'lock-test'}),
	'200|200', 'every event landed after the retries');
is($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.dead_letter'), '1',
	'lock timeouts never dead-letter an event');
is(status('last_error'), '', 'last_error cleared by the successful batch');

# ---- full queue, default policy: callers wait, then fail; nothing dropped
$locker->query_safe('BEGIN; LOCK TABLE evlog.event_log IN EXCLUSIVE MODE');
my $t0 = time();
my ($rc, $out, $err) = $node->psql('postgres', q{
	SET evlog.enqueue_mode = call;
	SELECT count(evlog_enqueue('agent_event', now(), 'full-test', NULL, json_build_object('i', i)::text))
	  FROM generate_series(1, 5000) i});
my $waited = time() - $t0;
like($err, qr/ERROR:  evlog queue is full/, 'a full queue fails the enqueue after waiting');
cmp_ok($waited, '>=', 0.9, 'the caller waited about evlog.enqueue_timeout first');
($rc, $out, $err) = $node->psql('postgres', q{
	SET evlog.enqueue_timeout = 0; SET statement_timeout = '300ms';
	SELECT evlog_enqueue('agent_event', now(), 'full-test', NULL, '{"i": -1}')});
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout interrupts the wait');
($rc, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT evlog_enqueue('agent_event', now(), 'full-test', NULL, '{"i": -2}');
	COMMIT});
like($err, qr/evlog queue is full/, 'in commit mode the COMMIT waits, then fails');
my $accepted = status('accepted');
$locker->query_safe('COMMIT');
is($node->safe_psql('postgres', q{SET evlog.enqueue_timeout = '60s'; SELECT evlog_enqueue('agent_event', now(), 'after', NULL, '{}') > 0; SELECT evlog_flush('60 s')}),
	"t\nt", 'the queue drains once the lock is gone');
my $full_landed = $node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'full-test'});
cmp_ok($full_landed, '>', 100, 'the events accepted before the queue filled up landed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'full-test' AND (payload->>'i')::int < 0}),
	'0', 'refused events (timeout, failed COMMIT) did not land');
is(status('dropped') . '|' . $node->safe_psql('postgres', 'SELECT count(*) FROM evlog.gaps'), '0|0',
	'the default policy never drops');
is(status('accepted'), $accepted + 1, 'accepted counts only what the callers were told was accepted');
is(status('flushed') + status('dead_lettered'), status('accepted'), 'every accepted event is accounted for');

# ---- overflow = drop: no waiting, every drop counted and recorded as a gap
$locker->query_safe('BEGIN; LOCK TABLE evlog.event_log IN EXCLUSIVE MODE');
$t0 = time();
$node->safe_psql('postgres', q{
	SET evlog.enqueue_mode = call; SET evlog.overflow = drop;
	SELECT count(evlog_enqueue('agent_event', now(), 'drop-test', NULL, json_build_object('i', i)::text))
	  FROM generate_series(1, 3000) i});
cmp_ok(time() - $t0, '<', 5, 'drop policy: the caller did not wait for the timeout per event');
$locker->query_safe('COMMIT');
$locker->quit;
is($node->safe_psql('postgres', q{SET evlog.enqueue_timeout = '60s'; SELECT evlog_enqueue('agent_event', now(), 'after', NULL, '{}') > 0; SELECT evlog_flush('60 s')}),
	"t\nt", 'flushed after the drops');
my $dropped = status('dropped');
my $landed = $node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE host_id = 'drop-test'});
cmp_ok($dropped, '>', 0, 'some events were dropped');
is($landed + $dropped, 3000, 'landed + dropped = every event enqueued');
$node->poll_query_until('postgres', "SELECT coalesce(sum(lost), 0) = $dropped FROM evlog.gaps WHERE reason = 'dropped'")
  or die 'no gap row for the drops';
is($node->safe_psql('postgres', q{SELECT bool_and(exact), sum(lost) FROM evlog.gaps WHERE reason = 'dropped'}),
	"t|$dropped", 'gap rows record every drop, exactly');

# ---- DROP EXTENSION with events queued: the writer says what it discards
my $dropper = $node->background_psql('postgres');
$dropper->query_safe('BEGIN; LOCK TABLE evlog.event_log IN EXCLUSIVE MODE');
$node->safe_psql('postgres', q{
	SET evlog.enqueue_mode = call;
	SELECT count(evlog_enqueue('agent_event', now(), 'gone', NULL, '{}')) FROM generate_series(1, 10)});
my $log_offset = -s $node->logfile;
$dropper->query_safe('DROP EXTENSION evlog; COMMIT');
$dropper->quit;
ok($node->wait_for_log(qr/discarding 10 queued events: the evlog extension was dropped/, $log_offset),
	'after DROP EXTENSION the writer discards the queued events with a warning');
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');
is($node->safe_psql('postgres', q{
	SELECT evlog_enqueue('agent_event', now(), 'again', NULL, '{}') > 0; SELECT evlog_flush('60 s');
	SELECT count(*) FROM evlog.event_log}), "t\nt\n1", 'after CREATE EXTENSION again, enqueue works');

$node->stop;
done_testing();
