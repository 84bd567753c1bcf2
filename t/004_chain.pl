# The hash chain under real load and real server lifecycles: pgbench
# appenders (some rolling back, leaving holes) with a sealer running
# alongside; sealing resumes where it stopped after a clean restart and
# after a crash; the chain survives pg_dump/pg_restore and still verifies;
# tools/verify_chain.py accepts an intact export and rejects tampered ones.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use EvlogTest;

my $verifier = "$ENV{TESTDIR}/tools/verify_chain.py";
my $node = PostgreSQL::Test::Cluster->new('chain');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql('src', 'CREATE EXTENSION evlog');

my $status = q{SELECT (SELECT count(*) FROM evlog.event_log) AS events,
	(SELECT count(*) FROM evlog.chain) AS links, v.first_bad_seq, v.reason
	FROM evlog_verify_chain() v};

# ---- concurrent appends with a sealer running alongside
my $dir = $node->basedir;
open my $fh, '>', "$dir/append.sql" or die $!;
print $fh q{\set h random(1, 64)
SELECT evlog_append('agent_event', now(), 'host-' || :h, 'r1', json_build_object('h', :h, 'note', 'ünï')::text);
};
close $fh;
open $fh, '>', "$dir/abort.sql" or die $!;
print $fh q{BEGIN;
SELECT evlog_append('agent_event', now(), 'rolled-back', NULL, '{}');
ROLLBACK;
};
close $fh;

my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '4', '-j', '2', '-t', '500',
	  '-f', "$dir/append.sql\@9", '-f', "$dir/abort.sql\@1", $node->connstr('src') ],
	'>', \$out, '2>', \$err);
my ($sealed_during, $seal_calls) = (0, 0);
while ($bench->pumpable)
{
	# counted only when pgbench was still running as the call started
	$sealed_during += $node->safe_psql('src', 'SELECT evlog_seal(300)');
	$seal_calls++;
	$bench->pump_nb;
}
ok($bench->finish, 'pgbench appenders finished') or diag($err);
like($out, qr{actually processed: 2000/2000}, 'every pgbench transaction ran');
cmp_ok($sealed_during, '>', 0, "sealed while appends ran ($sealed_during events in $seal_calls calls)");
$node->safe_psql('src', 'SELECT evlog_seal(NULL)');
my ($events, $links, $bad, $reason) = split /\|/, $node->safe_psql('src', $status);
ok($events > 1500, "appended under load ($events events)");
is($links, $events, 'every committed event has a link');
is($bad, '', 'chain verifies after concurrent appends and seals');
ok($node->safe_psql('src', q{SELECT count(*) FROM generate_series(1, (SELECT max(seq) FROM evlog.event_log)) s
	WHERE s NOT IN (SELECT seq FROM evlog.event_log)}) > 0, 'rolled-back appends left holes the chain skips');

# ---- the third-party verifier on an export
my $export_sql = 'SELECT line FROM evlog.chain_export ORDER BY seq, anchor DESC';
sub export
{
	my ($db, $file) = @_;
	my $lines = $node->safe_psql($db, $export_sql);
	open my $f, '>:raw', $file or die $!;
	print $f $lines, "\n";
	close $f;
}
sub verify_export
{
	my @args = @_;
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'python3', $verifier, @args ], '>', \$o, '2>', \$e);
	return ($? >> 8, $o . $e);
}
$ENV{PGCLIENTENCODING} = 'UTF8';
export('src', "$dir/intact.jsonl");
my ($head_seq, $head_hash) = split /\|/, $node->safe_psql('src', 'SELECT seq, hash FROM evlog_chain_head()');
my ($rc, $msg) = verify_export("$dir/intact.jsonl");
is($rc, 0, 'verifier accepts an intact export');
like($msg, qr/^ok: $events events, head seq $head_seq hash $head_hash/, 'verifier reaches the SQL chain head');
($rc, $msg) = verify_export('--head', "$head_seq:$head_hash", "$dir/intact.jsonl");
is($rc, 0, 'verifier confirms a noted head');
($rc, $msg) = verify_export('--head', "$head_seq:" . ('0' x 64), "$dir/intact.jsonl");
is($rc, 1, 'verifier rejects a head that does not match');

# tamper with the export file: one payload, then drop one line
my $victim = $node->safe_psql('src', 'SELECT seq FROM evlog.event_log ORDER BY seq OFFSET 700 LIMIT 1');
open my $in, '<:raw', "$dir/intact.jsonl" or die $!;
my @lines = <$in>;
close $in;
my @edited = map { my $l = $_; $l =~ s/\\"h\\": (\d+)/\\"h\\": 99$1/ if $l =~ /^\{"seq" : $victim,/; $l } @lines;
isnt(join('', @edited), join('', @lines), 'export edited');
open my $o1, '>:raw', "$dir/edited.jsonl" or die $!;
print $o1 @edited;
close $o1;
($rc, $msg) = verify_export("$dir/edited.jsonl");
is($rc, 1, 'verifier rejects an edited export');
like($msg, qr/^bad seq $victim: event does not match/, 'at the edited seq');
open my $o2, '>:raw', "$dir/dropped.jsonl" or die $!;
print $o2 grep { !/^\{"seq" : $victim,/ } @lines;
close $o2;
($rc, $msg) = verify_export("$dir/dropped.jsonl");
is($rc, 1, 'verifier rejects an export with a line removed');
like($msg, qr/^bad seq \d+: link records predecessor seq $victim/, 'at the seq after the removed one');

# tamper in the database: a superuser edits one payload behind the triggers
$node->safe_psql('src', qq{
	ALTER TABLE evlog.event_log DISABLE TRIGGER ALL;
	UPDATE evlog.event_log SET payload = payload || '{"status":"pass"}' WHERE seq = $victim;});
is($node->safe_psql('src', 'SELECT first_bad_seq FROM evlog_verify_chain()'), $victim,
	'evlog_verify_chain finds the edited row');
export('src', "$dir/tampered.jsonl");
($rc, $msg) = verify_export("$dir/tampered.jsonl");
is($rc, 1, 'verifier rejects an export of the tampered database');
like($msg, qr/^bad seq $victim:/, 'at the edited seq');
$node->safe_psql('src', qq{
	UPDATE evlog.event_log SET payload = payload - 'status' WHERE seq = $victim;
	ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_update_delete;
	ALTER TABLE evlog.event_log ENABLE ALWAYS TRIGGER event_log_no_truncate;});
is($node->safe_psql('src', 'SELECT first_bad_seq FROM evlog_verify_chain()'), '', 'restored');

# ---- restart: sealing resumes where it stopped
my $append = q{SELECT count(evlog_append('plan_action', '2026-05-16 01:00:00+00', NULL, 'r' || i,
	json_build_object('i', i)::text)) FROM generate_series(1, 300) i};
$node->safe_psql('src', $append);
is($node->safe_psql('src', 'SELECT evlog_seal(100)'), 100, 'sealed part of the backlog');
my $before = $node->safe_psql('src', 'SELECT seq, hash FROM evlog_chain_head()');
$node->restart;
is($node->safe_psql('src', 'SELECT seq, hash FROM evlog_chain_head()'), $before, 'head unchanged by a clean restart');
is($node->safe_psql('src', 'SELECT events_behind FROM evlog.chain_status'), 200, '200 events still to seal');
is($node->safe_psql('src', 'SELECT evlog_seal(NULL)'), 200, 'sealing resumes after the last link');

# crash: a committed seal survives, an uncommitted one leaves no trace
$node->safe_psql('src', $append);
is($node->safe_psql('src', 'SELECT evlog_seal(120)'), 120, 'sealed before the crash');
$before = $node->safe_psql('src', 'SELECT seq, hash FROM evlog_chain_head()');
my ($stdin, $stdout) = ("BEGIN;\nSELECT evlog_seal(50);\n", '');
my $timer = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
my $psql = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('src') ],
	'<', \$stdin, '>', \$stdout, '2>', \my $psql_err, $timer);
$psql->pump until $stdout =~ /50/ || $timer->is_expired;
is($stdout =~ s/\s+//gr, '50', 'an open transaction sealed 50 more');
$node->stop('immediate');
$psql->kill_kill;
$node->start;
is($node->safe_psql('src', 'SELECT seq, hash FROM evlog_chain_head()'), $before,
	'after a crash the head is the last committed link');
is($node->safe_psql('src', 'SELECT evlog_seal(NULL)'), 180, 'sealing resumes after the crash');
($events, $links, $bad) = split /\|/, $node->safe_psql('src', $status);
is("$links|$bad", "$events|", 'chain complete and intact after restarts');

# ---- dump and restore keep the chain verifiable
my $src_head = $node->safe_psql('src', 'SELECT seq, hash FROM evlog_chain_head()');
my $dump = "$dir/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->command_ok([ 'pg_restore', '-L', restore_list($node, $dump), '-d', $node->connstr('dst'), $dump ], 'pg_restore');
is($node->safe_psql('dst', 'SELECT seq, hash FROM evlog_chain_head()'), $src_head, 'chain head restored');
is($node->safe_psql('dst', $status), $node->safe_psql('src', $status), 'restored chain complete and intact');
export('dst', "$dir/restored.jsonl");
($rc, $msg) = verify_export('--head', $src_head =~ s/\|/:/r, "$dir/restored.jsonl");
is($rc, 0, 'verifier accepts the restored export with the head noted before the dump');
$node->safe_psql('dst', $append);
is($node->safe_psql('dst', 'SELECT evlog_seal(NULL)'), 300, 'sealing continues in the restored database');
is($node->safe_psql('dst', 'SELECT first_bad_seq FROM evlog_verify_chain()'), '', 'and the chain still verifies');

$node->stop;
done_testing();
