# Hostile input against every SQL-callable evlog function, plus sqlsmith:
# the server must never crash.  The function list is read from the catalog,
# so functions added later are fuzzed without touching this file.
#
# Sizes: EVLOG_FUZZ_CALLS random calls per function (default 25) and
# EVLOG_SQLSMITH_QUERIES sqlsmith queries (default 2000); the bench suite's
# long run raises both.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $calls_per_function = $ENV{EVLOG_FUZZ_CALLS} // 25;
my $sqlsmith_queries = $ENV{EVLOG_SQLSMITH_QUERIES} // 2000;
my $seed = $ENV{EVLOG_FUZZ_SEED} // 20261128;
srand($seed);

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->append_conf('postgresql.conf', "log_min_messages = warning\nlog_min_error_statement = panic");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION evlog;
	CREATE ROLE fuzzer LOGIN;
	SELECT evlog_grant_writer('fuzzer');
	SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'h' || i % 9, 'r' || i % 4,
	                    json_build_object('kind', 'DispatchAck', 'i', i)::text, 'seed-' || i)
	  FROM generate_series(1, 300) i;
});

# Argument pools per type.  Large and deep values are built server-side so
# the SQL stays small.
my %pool = (
	text => [
		"NULL", "''", "'agent_event'", "'effect'", "'gap'", "'all'", "'probe_failures'",
		"'{}'", "'{\"kind\":\"ProbeResult\",\"subResults\":\"x\",\"observedAt\":\"soon\"}'",
		"'not-json{'", "'[1,2,3]'", "'\"scalar\"'", "'null'",
		"repeat('x', 10 * 1024 * 1024)",
		"'{\"a\":\"' || repeat('y', 10 * 1024 * 1024) || '\"}'",
		"repeat('{\"a\":', 50000) || '1' || repeat('}', 50000)",
		"repeat('[', 100000) || repeat(']', 100000)",
		"'''; DROP TABLE evlog.event_log; --'",
		"convert_from('\\xc328'::bytea, 'UTF8')",
		"E'nul\\\\000byte'", "chr(1) || chr(127) || chr(65533)",
		"'seed-1'", "'seed-2'", "md5(random()::text)",
		"'" . join('', map { chr(32 + int(rand(95))) } 1 .. 40) =~ s/'/''/gr . "'",
	],
	jsonb => [
		"NULL", "'{}'::jsonb", "'[]'::jsonb", "'null'::jsonb", "'42'::jsonb",
		"'[{\"kind\":\"agent_event\",\"ts\":\"2026-05-16T01:00:00Z\",\"payload\":{}}]'::jsonb",
		"'[{\"kind\":\"agent_event\",\"ts\":\"2026-05-16T01:00:00Z\",\"payload\":{},\"typo\":1}]'::jsonb",
		"'[{\"kind\":null,\"ts\":[],\"payload\":\"x\"}, 7, null]'::jsonb",
		"(SELECT jsonb_agg(i) FROM generate_series(1, 200000) i)",
		"(SELECT jsonb_agg(jsonb_build_object('kind','agent_event','ts','2026-05-16T01:00:00Z','payload',jsonb_build_object('i',i))) FROM generate_series(1, 20000) i)",
		"jsonb_build_object('pad', repeat('z', 10 * 1024 * 1024))",
		"(repeat('[', 5000) || repeat(']', 5000))::jsonb",
		"'{\"kind\":\"ProbeResult\",\"probeName\":\"p\",\"status\":\"fail\",\"mode\":\"enforce\",\"observedAt\":\"2026-05-16T01:00:00Z\",\"subResults\":[{\"controlId\":\"c\",\"status\":\"fail\",\"effectiveMode\":\"enforce\"}]}'::jsonb",
	],
	'timestamp with time zone' => [
		"NULL", "'infinity'", "'-infinity'", "'4713-01-01 00:00:00+00 BC'",
		"'294276-12-31 23:59:59+00'", "'2026-05-16 01:00:00+00'", "now()", "'epoch'",
	],
	bigint => [
		"NULL", "0", "-1", "1", "150", "9223372036854775807", "(-9223372036854775807 - 1)",
	],
	integer => [ "NULL", "0", "-1", "1", "1000", "2147483647", "(-2147483647 - 1)" ],
	'text[]' => [
		"NULL", "'{}'::text[]", "ARRAY[NULL]::text[]", "ARRAY['agent_event','effect']",
		"array_fill('agent_event'::text, ARRAY[200000])", "'{{a},{b}}'::text[]",
		"'[5:6]={agent_event,effect}'::text[]",
	],
	'timestamp with time zone[]' => [
		"NULL", "'{}'::timestamptz[]", "ARRAY[NULL]::timestamptz[]",
		"ARRAY['2026-05-16 01:00:00+00','infinity']::timestamptz[]",
		"array_fill('2026-05-16 01:00:00+00'::timestamptz, ARRAY[200000])",
	],
	'jsonb[]' => [
		"NULL", "'{}'::jsonb[]", "ARRAY[NULL]::jsonb[]", "ARRAY['{}','[]']::jsonb[]",
		"array_fill('{}'::jsonb, ARRAY[200000])",
	],
	regrole => [ "NULL", "'fuzzer'", "'pg_monitor'" ],
	regprocedure => [ "NULL", "'pg_catalog.now()'", "'evlog_last_seq()'" ],
	interval => [ "NULL", "'0'", "'-1 s'", "'1 ms'", "'100 years'" ],
	boolean => [ "NULL", "true", "false" ],
);

my $functions = $node->safe_psql('postgres', q{
	SELECT p.oid::regprocedure::text || '|' || p.proname || '|' ||
	       coalesce(array_to_string(ARRAY(SELECT format_type(t, NULL)
	                                       FROM unnest(p.proargtypes) t), ';'), '')
	  FROM pg_proc p
	  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'evlog'
	 WHERE p.prorettype <> 'trigger'::regtype
	 ORDER BY 1});
my @functions = map { [ split /\|/, $_, 3 ] } split /\n/, $functions;
cmp_ok(scalar(@functions), '>=', 10, scalar(@functions) . ' evlog functions found to fuzz');

my $pick = sub { my $list = $pool{ $_[0] } // ["NULL"]; $list->[ int(rand(@$list)) ] };
my @sql = ("SET statement_timeout = '3s';", "SET client_min_messages = error;");
my $ncalls = 0;
for my $f (@functions)
{
	my ($sig, $name, $types) = @$f;
	my @types = length $types ? split /;/, $types : ();
	my $call = sub { "SELECT count(*) FROM (SELECT $name(" . join(', ', @_) . ")) s;" };
	# NULL in each position, plausible values elsewhere
	for my $i (0 .. $#types)
	{
		push @sql, $call->(map { $_ == $i ? "NULL::$types[$_]" : $pick->($types[$_]) . "::$types[$_]" } 0 .. $#types);
		$ncalls++;
	}
	for (1 .. $calls_per_function)
	{
		push @sql, $call->(map { $pick->($_) . "::$_" } @types);
		$ncalls++;
	}
}

my $file = $node->basedir . '/fuzz.sql';
open my $fh, '>', $file or die;
print $fh join("\n", @sql), "\n";
close $fh;

# as the application role, then as superuser (who may call admin functions)
for my $user ('fuzzer', scalar getpwuid($<))
{
	my ($stdout, $stderr);
	IPC::Run::run([ 'psql', '-X', '-q', '-h', $node->host, '-p', $node->port,
			'-U', $user, '-d', 'postgres', '-f', $file, '-o', '/dev/null' ],
		'>', \$stdout, '2>', \$stderr);
	my $errors = () = $stderr =~ /ERROR:/g;
	note("$user: $ncalls calls, $errors errors");
	like($node->safe_psql('postgres', 'SELECT 1'), qr/^1$/, "server up after $ncalls hostile calls as $user");
}

{
	my ($stdout, $stderr);
	IPC::Run::run([ 'sqlsmith', '--target=host=' . $node->host . ' port=' . $node->port
			. ' dbname=postgres user=fuzzer', "--max-queries=$sqlsmith_queries", "--seed=$seed", '--verbose' ],
		'>', \$stdout, '2>', \$stderr);
	like($stderr, qr/error rate/, "sqlsmith ran $sqlsmith_queries queries");
	like($node->safe_psql('postgres', 'SELECT 1'), qr/^1$/, 'server up after sqlsmith');
}

# Input classes that once passed validation and damaged the log for good:
# each is refused with its SQLSTATE, or accepted and harmless downstream.
{
	my $refused = sub {
		my ($sql, $state, $what) = @_;
		my ($ret, $stdout, $stderr) = $node->psql('postgres',
			"\\set VERBOSITY sqlstate\n$sql", extra_params => [ '-U', 'fuzzer' ]);
		like($stderr, qr/ERROR:\s+$state/, "$what: refused with $state");
	};
	my $seq_before = $node->safe_psql('postgres', 'SELECT last_value FROM evlog.event_log_seq_seq');

	# number bombs: 8,300 copies of 1e131071 (a 75 kB text printing as 1.09 GB)
	$refused->(q{SELECT evlog_append('agent_event', now(), 'h', NULL,
		(SELECT '{"a":[' || string_agg('1e131071', ',') || ']}' FROM generate_series(1, 8300)))},
		'22003', 'number bomb (text)');
	$refused->(q{SELECT evlog_append_batch(jsonb_build_array(jsonb_build_object('kind', 'agent_event',
		'ts', '2026-05-16T01:00:00Z', 'payload', (SELECT ('{"a":[' || string_agg('1e131071', ',') || ']}')::jsonb
		FROM generate_series(1, 8300)))))}, '22003', 'number bomb (batch)');
	# 1000 digits each is allowed, but 2,000 of them print past 1 MB
	$refused->(q{SELECT evlog_append('agent_event', now(), 'h', NULL,
		(SELECT '{"a":[' || string_agg('9e999', ',') || ']}' FROM generate_series(1, 2000)))},
		'54000', 'numbers within the digit limit, printing past max_payload_bytes');
	# huge exponents and deep nesting keep jsonb's SQLSTATE
	$refused->(q{SELECT evlog_append('agent_event', now(), 'h', NULL, '{"a":1e1000000}')},
		'22003', 'exponent beyond numeric');
	$refused->(q{SELECT evlog_append('agent_event', now(), 'h', NULL, repeat('[', 200000) || repeat(']', 200000))},
		'54001', '200,000-deep JSON');
	# overlong ids: refused in validation, before any seq
	for my $field ([ 'host_id', q{repeat('h', 3000), NULL, '{}'} ],
		[ 'rollout_id', q{'h', repeat('r', 3000), '{}'} ],
		[ 'event_id', q{'h', NULL, '{}', repeat('e', 3000)} ])
	{
		$refused->("SELECT evlog_append('agent_event', now(), $field->[1])", '54000', "3 kB $field->[0]");
	}
	$refused->(q{SELECT evlog_append_batch(array_fill('agent_event'::text, ARRAY[1000]),
		array_fill(now(), ARRAY[1000]), NULL, NULL, array_fill('{}'::jsonb, ARRAY[1000]),
		ARRAY[repeat('e', 3000)] || array_fill(NULL::text, ARRAY[999]))},
		'54000', 'batch whose first entry has a 3 kB event_id');
	$refused->(q{SELECT evlog_append(repeat('k', 1048576), now(), 'h', NULL, '{}')}, '54000', '1 MB kind');
	is($node->safe_psql('postgres', 'SELECT last_value FROM evlog.event_log_seq_seq'),
		$seq_before, 'no refused input spent a seq');

	# extreme timestamps are accepted (any finite ts)
	for my $ts ('4713-01-01 00:00:00+00 BC', '0044-03-15 12:00:00+00 BC', '0001-01-01 00:00:00+00',
		'9999-12-31 23:59:59+00', '10000-01-01 00:00:00+00', '294276-12-31 23:59:59+00')
	{
		is($node->psql('postgres', "SELECT evlog_append('agent_event', '$ts', 'h', NULL, '{\"n\":9e999}')",
				extra_params => [ '-U', 'fuzzer' ]), 0, "ts $ts appended");
	}

	# spent seqs: 20,000 seqs taken and never used (as by failed or
	# rolled-back transactions) with 16-seq partitions; the next append
	# must not create the 1,250 partitions up to its seq
	$node->safe_psql('postgres', q{
		SELECT setval('evlog.event_log_seq_seq', last_value + 20000) FROM evlog.event_log_seq_seq});
	my $parts_before = $node->safe_psql('postgres', 'SELECT count(*) FROM evlog.partitions');
	my $t0 = time;
	is($node->psql('postgres', q{SET evlog.partition_size = 16;
		SELECT evlog_append('agent_event', now(), 'h', NULL, '{}')}), 0, 'append after 20,000 spent seqs');
	cmp_ok(time - $t0, '<', 10, 'and it took seconds, not minutes');
	# the append makes at most 2, the partition worker it may start 2 more
	cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM evlog.partitions') - $parts_before,
		'<=', 4, 'a handful of partitions created for it');
	$t0 = time;
	is($node->psql('postgres', 'SELECT evlog_create_partitions(0, 9223372036854775807)'), 0,
		'evlog_create_partitions up to the end of bigint returns');
	cmp_ok(time - $t0, '<', 30, 'in bounded time');
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY sqlstate\nSELECT evlog_create_partitions(1000)");
	like($err, qr/ERROR:\s+22023/, 'evlog_create_partitions(1000) refused with 22023');

	# downstream: seal, read, verify and dump still work
	is($node->psql('postgres', 'SELECT evlog_seal()'), 0, 'seal after hostile input');
	is($node->psql('postgres', 'SELECT count(*) FROM evlog_read(0, 100000)'), 0, 'read after hostile input');
	is($node->safe_psql('postgres', 'SELECT first_bad_seq IS NULL FROM evlog_verify_chain()'), 't',
		'chain verifies');
	# the external verifier agrees, extreme timestamps included
	{
		local $ENV{PGCLIENTENCODING} = 'UTF8';
		my $export = $node->basedir . '/export.jsonl';
		open my $f, '>:raw', $export or die $!;
		print $f $node->safe_psql('postgres', 'SELECT line FROM evlog.chain_export ORDER BY seq, anchor DESC'), "\n";
		close $f;
		my ($o, $e);
		IPC::Run::run([ 'python3', "$ENV{TESTDIR}/tools/verify_chain.py", $export ], '>', \$o, '2>', \$e);
		is($? >> 8, 0, 'tools/verify_chain.py accepts the export (4713 BC to 294276 AD)') or diag($o . $e);
	}
	my ($max_text) = $node->safe_psql('postgres', 'SELECT max(octet_length(payload::text)) FROM evlog.event_log');
	cmp_ok($max_text, '<=', 1024 * 1024, 'no stored payload prints past 1 MB');
	is(system('pg_dump', '-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', '/dev/null'), 0,
		'pg_dump after hostile input');
}

# A column added and dropped by a superuser leaves a dropped attribute after
# evlog's seven: every path that reads log rows must read them column by
# column (here the 1.0 layout's event_id lookup, which reads the log itself)
{
	$node->safe_psql('postgres', 'CREATE DATABASE layout10');
	$node->safe_psql('layout10', q{
		CREATE EXTENSION evlog VERSION '1.0';
		SELECT evlog_append('agent_event', '2026-01-01Z', 'h', NULL, '{}', 'id-1');
		ALTER TABLE evlog.event_log ADD COLUMN x int;
		ALTER TABLE evlog.event_log DROP COLUMN x;
	});
	is($node->safe_psql('layout10', q{SELECT evlog_append('agent_event', '2026-01-01Z', 'h', NULL, '{}', 'id-1')}),
		'1', 'a retried event_id is found after ADD and DROP COLUMN');
	my ($ret, $out, $err) = $node->psql('layout10',
		q{SELECT evlog_append('agent_event', '2026-01-01Z', 'h', NULL, '{"a":1}', 'id-1')});
	like($err, qr/already in the log with different content/, 'and a conflicting one refused');
}

my $log = slurp_file($node->logfile);
my $crashes = () = $log =~ /terminated by signal|was terminated by exception|server process .* exited with exit code [^0]/g;
is($crashes, 0, 'no backend crashed (postmaster log)');
unlike($log, qr/PANIC/, 'no PANIC in the server log');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE seq IN (SELECT seq FROM evlog.event_log WHERE event_id LIKE 'seed-%')}),
	'300', 'the seeded events are intact');

$node->stop;
done_testing();
