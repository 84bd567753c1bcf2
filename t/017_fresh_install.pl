# A fresh CREATE EXTENSION evlog runs the one install script generated from
# src/sql/evlog.sql; a database created at 1.0 reaches the same version
# through every update script.  Both must end with the same extension: this
# test describes every member object (and what hangs off it: columns,
# constraints, indexes, triggers, policies, comments, privileges, initial
# privileges, dump configuration, configuration rows) in both databases and
# compares the descriptions.  A difference means one path is wrong: an
# object added to an update script and not to src/sql/evlog.sql shows up as
# "missing from the fresh install".
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('fresh');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE upgraded');

$node->safe_psql('fresh', 'CREATE EXTENSION evlog');
my $version = $node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'evlog'});
is($version, $node->safe_psql('fresh', q{SELECT default_version FROM pg_available_extensions WHERE name = 'evlog'}),
	'a fresh install is at the default version');
# the fresh path is one script: no update script may run after it
my $updates = $node->safe_psql('fresh', qq{SELECT count(*) FROM pg_extension_update_paths('evlog')
	WHERE target = '$version' AND source = '1.0' AND path IS NOT NULL});
is($updates, '1', 'the update chain from 1.0 reaches the default version');

$node->safe_psql('upgraded', q{CREATE EXTENSION evlog VERSION '1.0'});
$node->safe_psql('upgraded', 'ALTER EXTENSION evlog UPDATE');
is($node->safe_psql('upgraded', q{SELECT extversion FROM pg_extension WHERE extname = 'evlog'}), $version,
	'the updated install is at the default version');

# One line per fact, each starting with what it describes.  No OIDs: objects
# are named with regclass, regprocedure and pg_describe_object.
my $describe = q{
WITH ext AS (SELECT e.oid, e.extconfig, e.extcondition FROM pg_extension e WHERE e.extname = 'evlog'),
mem AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rel AS (SELECT c.* FROM pg_class c JOIN mem m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid),
-- what hangs off a member relation without being a member itself
sub AS (
    SELECT 'pg_class'::regclass AS classid, i.indexrelid AS objid FROM pg_index i JOIN rel ON rel.oid = i.indrelid
    UNION ALL SELECT 'pg_constraint'::regclass, co.oid FROM pg_constraint co JOIN rel ON rel.oid = co.conrelid
    UNION ALL SELECT 'pg_trigger'::regclass, t.oid FROM pg_trigger t JOIN rel ON rel.oid = t.tgrelid
    UNION ALL SELECT 'pg_policy'::regclass, p.oid FROM pg_policy p JOIN rel ON rel.oid = p.polrelid
    UNION ALL SELECT 'pg_rewrite'::regclass, r.oid FROM pg_rewrite r JOIN rel ON rel.oid = r.ev_class)
SELECT line FROM (
    SELECT 'extension: version ' || e.extversion || ' relocatable ' || e.extrelocatable
           || ' schema ' || e.extnamespace::regnamespace AS line
      FROM pg_extension e WHERE e.extname = 'evlog'
    UNION ALL
    SELECT 'member: ' || pg_describe_object(m.classid, m.objid, 0) FROM mem m
    UNION ALL
    SELECT 'schema ' || n.nspname || ': owner ' || n.nspowner::regrole || ' acl ' || coalesce(n.nspacl::text, '-')
      FROM pg_namespace n JOIN mem m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure || ': ' || concat_ws(' | ',
           'result ' || pg_get_function_result(p.oid), 'args ' || pg_get_function_arguments(p.oid),
           'language ' || l.lanname, 'kind ' || p.prokind::text, 'volatile ' || p.provolatile::text, 'strict ' || p.proisstrict,
           'secdef ' || p.prosecdef, 'leakproof ' || p.proleakproof, 'parallel ' || p.proparallel::text,
           'cost ' || p.procost, 'rows ' || p.prorows, 'retset ' || p.proretset,
           'config ' || coalesce(p.proconfig::text, '-'), 'probin ' || coalesce(p.probin, '-'),
           'acl ' || coalesce(p.proacl::text, '-'), 'owner ' || p.proowner::regrole,
           'def ' || replace(pg_get_functiondef(p.oid), E'\n', '\n'))
      FROM pg_proc p JOIN mem m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
      JOIN pg_language l ON l.oid = p.prolang
    UNION ALL
    SELECT 'relation ' || c.oid::regclass || ': ' || concat_ws(' | ', 'kind ' || c.relkind::text,
           'persistence ' || c.relpersistence::text, 'acl ' || coalesce(c.relacl::text, '-'),
           'options ' || coalesce(c.reloptions::text, '-'), 'rls ' || c.relrowsecurity,
           'force rls ' || c.relforcerowsecurity, 'replident ' || c.relreplident::text,
           'owner ' || c.relowner::regrole, 'am ' || coalesce(c.relam::regclass::text, '-'),
           'partkey ' || coalesce(pg_get_partkeydef(c.oid), '-'),
           'partitions ' || (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid),
           'rowtype ' || c.reltype::regtype)
      FROM rel c
    UNION ALL
    SELECT 'view ' || c.oid::regclass || ': ' || replace(pg_get_viewdef(c.oid), E'\n', '\n')
      FROM rel c WHERE c.relkind::text IN ('v', 'm')
    UNION ALL
    SELECT 'column ' || c.oid::regclass || '.' || a.attname || ': ' || concat_ws(' | ',
           'position ' || a.attnum, format_type(a.atttypid, a.atttypmod), 'not null ' || a.attnotnull,
           'default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'),
           'identity ' || a.attidentity::text, 'generated ' || a.attgenerated::text,
           'collation ' || coalesce(nullif(a.attcollation, 0)::regcollation::text, '-'),
           'storage ' || a.attstorage::text, 'acl ' || coalesce(a.attacl::text, '-'))
      FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT 'dropped columns of ' || c.oid::regclass || ': ' || count(*)
      FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attisdropped GROUP BY c.oid
    UNION ALL
    SELECT 'constraint ' || co.conname || ' on ' || c.oid::regclass || ': ' || pg_get_constraintdef(co.oid)
           || ' | deferrable ' || co.condeferrable || ' | validated ' || co.convalidated
      FROM rel c JOIN pg_constraint co ON co.conrelid = c.oid
    UNION ALL
    SELECT 'index ' || i.indexrelid::regclass || ': ' || pg_get_indexdef(i.indexrelid)
           || ' | primary ' || i.indisprimary || ' | clustered ' || i.indisclustered
           || ' | options ' || coalesce(ic.reloptions::text, '-')
      FROM rel c JOIN pg_index i ON i.indrelid = c.oid JOIN pg_class ic ON ic.oid = i.indexrelid
    UNION ALL
    SELECT 'trigger ' || t.tgname || ' on ' || c.oid::regclass || ': ' || pg_get_triggerdef(t.oid)
           || ' | enabled ' || t.tgenabled::text
      FROM rel c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT 'policy ' || p.polname || ' on ' || c.oid::regclass || ': ' || concat_ws(' | ',
           'cmd ' || p.polcmd::text, 'permissive ' || p.polpermissive,
           'roles ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ',' ORDER BY 1)
                          FROM unnest(p.polroles) r),
           'using ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-'),
           'check ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-'))
      FROM rel c JOIN pg_policy p ON p.polrelid = c.oid
    UNION ALL
    SELECT 'sequence ' || s.seqrelid::regclass || ': ' || concat_ws(' | ', s.seqtypid::regtype, s.seqstart,
           s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
           'owned by ' || coalesce((SELECT pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
                                      FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                       AND d.objid = s.seqrelid AND d.deptype IN ('a', 'i')
                                       AND d.refclassid = 'pg_class'::regclass), '-'))
      FROM pg_sequence s JOIN rel c ON c.oid = s.seqrelid
    UNION ALL
    SELECT 'type ' || t.oid::regtype || ': ' || concat_ws(' | ', t.typtype::text, t.typcategory::text, t.typlen)
      FROM pg_type t JOIN mem m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
    UNION ALL
    SELECT 'event trigger ' || et.evtname || ': ' || concat_ws(' | ', et.evtevent, et.evtfoid::regprocedure,
           et.evtenabled::text, coalesce(et.evttags::text, '-'), et.evtowner::regrole)
      FROM pg_event_trigger et JOIN mem m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = et.oid
    UNION ALL
    SELECT 'comment on ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
      FROM pg_description d
     WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM mem UNION ALL SELECT classid, objid FROM sub)
    UNION ALL
    SELECT 'initial privileges of ' || pg_describe_object(i.classoid, i.objoid, i.objsubid) || ': '
           || i.privtype::text || ' ' || i.initprivs::text
      FROM pg_init_privs i
     WHERE (i.classoid, i.objoid) IN (SELECT classid, objid FROM mem UNION ALL SELECT classid, objid FROM sub)
    UNION ALL
    SELECT 'dumped with the data: ' || c.oid::regclass || ' ' || coalesce(cond, '<NULL>')
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(reloid, cond)
      JOIN pg_class c ON c.oid = u.reloid
) facts
ORDER BY line COLLATE "C";
};

sub describe
{
	my ($db) = @_;
	my @lines = split /\n/, $node->safe_psql($db, $describe);
	# the rows of every member table and the state of every member sequence:
	# configuration rows (evlog.kinds) and singletons (evlog.queue_state)
	my @tables = split /\n/, $node->safe_psql($db, q{
		SELECT c.oid::regclass FROM pg_class c
		  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
		 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'evlog')
		   AND c.relkind::text IN ('r', 'p', 'S') ORDER BY 1::text COLLATE "C"});
	foreach my $t (@tables)
	{
		my $rows = $node->safe_psql($db, qq{SELECT coalesce(string_agg(r::text, ' ; ' ORDER BY r::text COLLATE "C"), '(empty)')
			FROM (SELECT * FROM $t) r});
		push @lines, "rows of $t: $rows";
	}
	return @lines;
}

my @fresh = describe('fresh');
my @upgraded = describe('upgraded');
cmp_ok(scalar(grep { /^member: / } @fresh), '>', 50, 'the description sees the members');

my %in_fresh = map { $_ => 1 } @fresh;
my %in_upgraded = map { $_ => 1 } @upgraded;
my @missing = grep { !$in_fresh{$_} } @upgraded;
my @extra = grep { !$in_upgraded{$_} } @fresh;
my $report = '';
$report .= "missing from the fresh install (add it to src/sql/evlog.sql):\n  " . join("\n  ", @missing[0 .. ($#missing < 9 ? $#missing : 9)]) . "\n"
  if @missing;
$report .= "only in the fresh install (not made by the update scripts):\n  " . join("\n  ", @extra[0 .. ($#extra < 9 ? $#extra : 9)]) . "\n"
  if @extra;
diag($report) if $report;
ok(!@missing && !@extra, 'fresh install and 1.0 + updates describe the same extension')
  or diag(scalar(@missing) . ' facts missing from the fresh install, ' . scalar(@extra) . ' only in it');

# the fresh install writes no system catalog itself: no script line updates one
my $sharedir = $node->safe_psql('fresh', q{SELECT setting FROM pg_config WHERE name = 'SHAREDIR'});
open my $fh, '<', "$sharedir/extension/evlog--$version.sql" or die "evlog--$version.sql: $!";
my $text = do { local $/; <$fh> };
close $fh;
my @writes = $text =~ /^\s*((?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+pg_catalog\.\S+)/mig;
is(join(', ', @writes), '', 'the install script writes no system catalog');
my @renames = $text =~ /^\s*(ALTER\s[^;]*?\sRENAME\s[^;]*);/mg;
is(join(', ', @renames), '', 'the install script renames nothing');

$node->stop;
done_testing();
