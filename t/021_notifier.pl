# Push without NOTIFY in appenders' transactions: with evlog preloaded the
# notification for LISTEN evlog comes from the database's notifier process,
# not from the appending backend, and carries the seq the append committed;
# the notifier leaves when idle, or when terminated while appends stream,
# and the next append brings a new one (no wake-up lost across that); with
# evlog.notify = off nothing is published.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('notifier');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'evlog'
evlog.notifier_idle_timeout = '1h'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION evlog');

# a LISTENing session that is pumped until a notification with payload
# >= $want arrives; returns (payload, sender pid)
my ($in, $out, $err) = ('', '', '');
my $timer = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
my $listener = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres') ],
	'<', \$in, '>', \$out, '2>', \$err, $timer);
$in .= "LISTEN evlog;\nSELECT 'listening';\n";
$listener->pump until $out =~ /listening/ || $timer->is_expired;

sub wait_notification
{
	my ($want) = @_;
	$timer->start($PostgreSQL::Test::Utils::timeout_default);
	while (!$timer->is_expired)
	{
		while ($out =~ /Asynchronous notification "evlog" with payload "(\d+)" received from server process with PID (\d+)/g)
		{
			my ($payload, $pid) = ($1, $2);
			if ($payload >= $want)
			{
				$out = '';
				return ($payload, $pid);
			}
		}
		$in .= "SELECT 1;\n";
		$listener->pump;
	}
	return (undef, undef);
}

my ($seq, $appender) = split /\|/, $node->safe_psql('postgres', q{
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":1}'), pg_backend_pid()});
my ($payload, $sender) = wait_notification($seq);
is($payload, $seq, 'the notification carries the committed seq');
isnt($sender, $appender, 'it was not sent by the appending backend');
is($node->safe_psql('postgres', "SELECT backend_type FROM pg_stat_activity WHERE pid = $sender"),
	'evlog notifier', 'it was sent by the evlog notifier');

# a transaction of several appends: the highest one
($seq) = $node->safe_psql('postgres', q{
	BEGIN;
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":2}');
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":3}');
	COMMIT;}) =~ /(\d+)\s*$/;
($payload, $sender) = wait_notification($seq);
is($payload, $seq, 'a transaction of two appends: its highest seq');

# evlog.notify = off publishes nothing: the next notification is for the
# append after it, not for it
my $off = $node->safe_psql('postgres', q{
	SET evlog.notify = off;
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":4}')});
$seq = $node->safe_psql('postgres', q{
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":5}')});
my $before = $out;
($payload, $sender) = wait_notification($off);
is($payload, $seq, 'with evlog.notify = off nothing is published for that append');
unlike($before, qr/payload "$off"/, 'no notification carries the seq appended with evlog.notify = off');

# asked to stop while six clients append without waiting for their flushes,
# the notifier still leaves (it pauses 1 ms after each notification and
# leaves at a moment no transaction is committing), and the appends that
# follow are notified (by a new notifier)
my $script = $node->basedir . '/append.sql';
open(my $fh, '>', $script) or die $!;
print $fh q{SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":0}');};
close($fh);
my $first = $node->safe_psql('postgres', 'SELECT max(seq) FROM evlog.event_log');
my ($bout, $berr) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '6', '-j', '2', '-T', '60', '-f', $script, $node->connstr('postgres') . ' options=-csynchronous_commit=off' ],
	'>', \$bout, '2>', \$berr);
ok($node->poll_query_until('postgres',
		"SELECT max(seq) > $first + 200 FROM evlog.event_log"), 'appends are streaming');
my $old = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'evlog notifier' AND datname = 'postgres'});
like($old, qr/^\d+$/, 'the notifier is running');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old)");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $old"),
	'a notifier asked to stop leaves while commits stream');
ok($bench->pumpable, 'the appenders were still committing when it left');
$seq = $node->safe_psql('postgres', q{
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":5}')});
($payload, $sender) = wait_notification($seq);
ok(defined $payload && $payload >= $seq, 'appends after it are notified');
$bench->kill_kill;

# the notifier leaves when idle; the next append starts a new one
$node->append_conf('postgresql.conf', "evlog.notifier_idle_timeout = '100ms'");
$node->reload;
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'evlog notifier'}),
	'an idle notifier exits');
$seq = $node->safe_psql('postgres', q{
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":6}')});
($payload, $sender) = wait_notification($seq);
is($payload, $seq, 'after the notifier left, the next append is still notified');

# a database whose notifier has left can be dropped
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{CREATE EXTENSION evlog;
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'n', NULL, '{"n":7}')});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'evlog notifier' AND datname = 'other'}),
	'the other database\'s notifier exits when idle');
$node->safe_psql('postgres', 'DROP DATABASE other');
pass('DROP DATABASE after the notifier left');

$in .= "\\q\n";
$listener->finish;
$node->stop;
done_testing();
