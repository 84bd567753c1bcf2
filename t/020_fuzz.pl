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

my $log = slurp_file($node->logfile);
my $crashes = () = $log =~ /terminated by signal|was terminated by exception|server process .* exited with exit code [^0]/g;
is($crashes, 0, 'no backend crashed (postmaster log)');
unlike($log, qr/PANIC/, 'no PANIC in the server log');
is($node->safe_psql('postgres', q{SELECT count(*) FROM evlog.event_log WHERE seq IN (SELECT seq FROM evlog.event_log WHERE event_id LIKE 'seed-%')}),
	'300', 'the seeded events are intact');

$node->stop;
done_testing();
