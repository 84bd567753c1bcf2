# t/EvlogTest.pm — helpers shared by the TAP tests: appending events of
# every kind (probe failures, rollout and host transitions, event_ids) and
# fingerprinting the log and its derived tables.
package EvlogTest;
use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
our @EXPORT = qw(append_every_kind fingerprint_sql derived_fingerprint_sql restore_list);

# The documented way to restore a custom-format dump of an evlog 1.1
# database (doc/operations.md, "Backup and restore"): every TOC entry except the
# indexes and primary keys of the log's partitions, which ATTACH PARTITION
# creates from the parent's (an extension member, created by CREATE
# EXTENSION before the partitions are attached).  Writes the list next to
# the dump and returns its path.
sub restore_list
{
	my ($node, $dump) = @_;
	my $list = "$dump.list";
	my ($stdout, $stderr);
	IPC::Run::run([ 'pg_restore', '-l', $dump ], '>', \$stdout, '2>', \$stderr)
	  or die "pg_restore -l failed: $stderr";
	open my $fh, '>', $list or die "$list: $!";
	print $fh grep { !/ (CONSTRAINT|INDEX|INDEX ATTACH) evlog event_log_p[0-9]{19}/ } split /^/, $stdout;
	close $fh;
	return $list;
}

# SQL appending $n rounds of events of every built-in kind an application
# can append (gap and retention are evlog's own, refused from SQL), seqs in
# $tag-named rollouts and hosts; event_ids "$tag-<round>-<n>".
sub append_every_kind
{
	my ($tag, $rounds) = @_;
	return qq{
	SELECT count(*) FROM (
	  SELECT evlog_append('rollout_event', '2026-05-16 01:00:00+00'::timestamptz + r * interval '1 minute', NULL, '$tag-r' || r,
	           json_build_object('kind', 'RolloutOpened', 'rolloutId', '$tag-r' || r, 'channel', 'stable',
	                             'targetRef', 'ref-' || r)::text, '$tag-' || r || '-open'),
	         evlog_append('agent_event', '2026-05-16 01:00:01+00'::timestamptz + r * interval '1 minute', '$tag-h' || r, '$tag-r' || r,
	           json_build_object('kind', 'ProbeResult', 'probeName', 'p' || r, 'mode', 'enforce', 'status', 'fail',
	                             'observedAt', '2026-05-16T01:00:00Z',
	                             'subResults', json_build_array(
	                                 json_build_object('controlId', 'c1', 'framework', 'nis2', 'status', 'fail', 'effectiveMode', 'enforce'),
	                                 json_build_object('controlId', 'c2', 'framework', 'nis2', 'status', 'pass', 'effectiveMode', 'enforce')))::text,
	           '$tag-' || r || '-probe'),
	         evlog_append('effect', '2026-05-16 01:00:02+00'::timestamptz + r * interval '1 minute', '$tag-h' || r, '$tag-r' || r,
	           json_build_object('effect', 'RecordTransition', 'from', 'Idle', 'to', 'Dispatched',
	                             'at', '2026-05-16T01:00:02Z')::text),
	         evlog_append('rollout_event', '2026-05-16 01:00:03+00'::timestamptz + r * interval '1 minute', NULL, '$tag-r' || r,
	           json_build_object('kind', 'WaveAdvanced', 'rolloutId', '$tag-r' || r, 'fromWave', 0, 'toWave', 1)::text),
	         evlog_append('effect', '2026-05-16 01:00:04+00'::timestamptz + r * interval '1 minute', NULL, '$tag-r' || r,
	           json_build_object('effect', 'RecordRolloutTransition', 'rolloutId', '$tag-r' || r, 'from', 'Opening',
	                             'to', CASE WHEN r % 2 = 0 THEN 'Active' ELSE 'Terminal' END,
	                             'at', '2026-05-16T01:00:04Z')::text),
	         evlog_append('effect', '2026-05-16 01:00:05+00'::timestamptz + r * interval '1 minute', NULL, '$tag-ghost',
	           '{"effect":"RecordRolloutTransition","rolloutId":"$tag-ghost","from":"Opening","to":"Active","at":"2026-05-16T01:00:05Z"}'),
	         evlog_append('plan_action', '2026-05-16 01:00:06+00', NULL, NULL, '{"action":"dispatch"}'),
	         evlog_append('gate_decision', '2026-05-16 01:00:07+00', NULL, NULL, '{"gate":"budget","ok":true}'),
	         evlog_append('verify_outcome', '2026-05-16 01:00:08+00', NULL, NULL, '{"manifest":"ok"}'),
	         evlog_append('manifest_poll', '2026-05-16 01:00:09+00', NULL, NULL, '{"changed":false}')
	    FROM generate_series(1, $rounds) r) s};
}

# md5 over every event (seq and content), in seq order
sub fingerprint_sql
{
	return q{SELECT count(*) || ':' || coalesce(max(seq), 0) || ':' ||
	    md5(coalesce(string_agg(seq || '|' || ts::text || kind || coalesce(host_id, '-') || coalesce(rollout_id, '-')
	                 || payload::text || coalesce(event_id, '-'), ',' ORDER BY seq), '')) FROM evlog.event_log};
}

# md5 over the derived tables (row ids of probe_failures excluded: they are
# not stable across rebuilds)
sub derived_fingerprint_sql
{
	return q{SELECT
	  (SELECT count(*) || md5(coalesce(string_agg(event_log_seq || coalesce(host_id, '') || probe_name || coalesce(control_id, ''),
	          ',' ORDER BY event_log_seq, control_id), '')) FROM evlog.probe_failures) || '/' ||
	  (SELECT count(*) || md5(coalesce(string_agg(rollout_id || state || current_wave || opened_event_log_seq
	          || coalesce(last_transition_event_log_seq, 0), ',' ORDER BY rollout_id), '')) FROM evlog.rollouts) || '/' ||
	  (SELECT count(*) || md5(coalesce(string_agg(rollout_id || host_id || state || event_log_seq, ',' ORDER BY rollout_id, host_id), ''))
	     FROM evlog.host_states) || '/' ||
	  (SELECT count(*) || md5(coalesce(string_agg(event_log_seq || view || reason, ',' ORDER BY event_log_seq, view), ''))
	     FROM evlog.derived_skips)};
}

1;
