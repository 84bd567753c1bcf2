#!/usr/bin/env bash
# tools/callgrind_append.sh — instructions per statement of the append path,
# counted by valgrind's callgrind (repeatable on a loaded machine, unlike
# timings; perf's hardware counters are not available in every container).
#
#   bash tools/callgrind_append.sh [N] [OUTDIR]
#   CG_PATHS="batch copy" bash tools/callgrind_append.sh 20
#
# Stages PostgreSQL with this tree's evlog, and runs one single-user backend
# (postgres --single) under callgrind that does N single-row evlog_append
# statements, then N plain INSERTs into a table of the log's shape.  Only
# what a simple query does is counted (--toggle-collect on its exported
# steps: Debian strips static symbols), so server start and CREATE
# EXTENSION are left out, and so are CG_WARM (default 10) statements run
# first: loading the library and filling the caches happen once per
# connection, not per append.  (Counting them added some 12,500
# instructions per statement at N = 2,000 to evlog_append, mostly the
# library's load.)  In a single-user backend a SELECT's result row is
# printed (debugtup, some 8,000 instructions), where a client connection
# sends one DataRow; an INSERT has none.  Prints instructions per statement
# for each path.  CG_PATHS picks paths: append, insert (default),
# append_prepared and insert_prepared (PREPARE once, then N EXECUTEs with a
# payload that differs per event, as pgbench -M prepared does), copy_view
# (N COPYs of the batch's 1,000 rows into evlog.append_copy), batch (N
# statements of evlog_append_batch(jsonb) with 1,000 entries), batch_arrays
# (the same 1,000 in the typed form, five array literals) and copy (N
# COPYs of the same 1,000 rows from a file into the plain table); for
# those the figure is per row.  The plain table (plain_log) has the
# targets' baseline indexes; copy_log and insert_log_prepared write
# plain_log7 instead, a plain table with the log's own seven, so that
# evlog's own cost shows apart from its index set.  OUTDIR keeps the callgrind.out files (tools/flamegraph.py
# turns one into a flame graph).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
n=${1:-2000}
out=${2:-}
build_evlog
work=$(mktemp -d /tmp/evlog-cg.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
bindir=$(stage_pg "$work/pg")
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"
run_as_server_user "$bindir/initdb" -D "$work/data" -A trust >/dev/null
{
    echo "shared_preload_libraries = ''"
    echo "fsync = off"
} >> "$work/data/postgresql.conf"

append="SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-1', 'r1', '{\"kind\":\"ProbeResult\",\"probeName\":\"p\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-05-16T01:00:00Z\"}');"
insert="INSERT INTO plain_log (ts, kind, host_id, rollout_id, payload) VALUES ('2026-05-16 01:00:00+00', 'agent_event', 'host-1', 'r1', '{\"kind\":\"ProbeResult\",\"probeName\":\"p\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-05-16T01:00:00Z\"}');"
setup="CREATE EXTENSION evlog;
CREATE TABLE plain_log (seq bigserial PRIMARY KEY, ts timestamptz NOT NULL, kind text NOT NULL, host_id text, rollout_id text, payload jsonb NOT NULL, event_id text UNIQUE);
CREATE INDEX ON plain_log (host_id, ts);
CREATE INDEX ON plain_log (rollout_id, seq);
CREATE INDEX ON plain_log (kind, ts);
CREATE INDEX ON plain_log USING brin (ts);
CREATE TABLE plain_log7 (LIKE plain_log INCLUDING DEFAULTS);
ALTER TABLE plain_log7 ADD PRIMARY KEY (seq);
CREATE INDEX ON plain_log7 (host_id, ts);
CREATE INDEX ON plain_log7 (rollout_id, seq);
CREATE INDEX ON plain_log7 (kind, ts);
CREATE INDEX ON plain_log7 USING brin (ts);
CREATE INDEX ON plain_log7 (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX ON plain_log7 (host_id, seq);
SELECT evlog_create_partitions(upto => 100000);"
run_as_server_user "$bindir/postgres" --single -D "$work/data" postgres <<<"$setup" >/dev/null

# the batch and COPY inputs: the same 1,000 rows
awk 'BEGIN { for (i = 0; i < 1000; i++)
    printf "2026-05-16T01:00:00Z\tagent_event\thost-%d\tr1\t{\"kind\":\"ProbeResult\",\"probeName\":\"p\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-05-16T01:00:00Z\"}\n", i % 256 }' \
    > "$work/rows.tsv"
batch="SELECT cardinality(evlog_append_batch('$(awk -F'\t' 'BEGIN { printf "[" } { printf "%s{\"kind\":\"%s\",\"ts\":\"%s\",\"host_id\":\"%s\",\"rollout_id\":\"%s\",\"payload\":%s}", (NR > 1 ? "," : ""), $2, $1, $3, $4, $5 } END { printf "]" }' "$work/rows.tsv")'::jsonb));"
arr() { awk -F'\t' -v c="$1" -v q="${2:-}" 'BEGIN { printf "{" } { v = $c; if (q) { gsub(/\\/, "\\\\", v); gsub(/"/, "\\\"", v); v = "\"" v "\"" } printf "%s%s", (NR > 1 ? "," : ""), v } END { printf "}" }' "$work/rows.tsv"; }
batch_arrays="SELECT cardinality(evlog_append_batch('$(arr 2)'::text[], '$(arr 1)'::timestamptz[], '$(arr 3)'::text[], '$(arr 4)'::text[], '$(arr 5 q)'::jsonb[]));"
copy="COPY plain_log (ts, kind, host_id, rollout_id, payload) FROM '$work/rows.tsv';"
copy_log="COPY plain_log7 (ts, kind, host_id, rollout_id, payload) FROM '$work/rows.tsv';"
copy_view="COPY evlog.append_copy (ts, kind, host_id, rollout_id, payload) FROM '$work/rows.tsv';"
# prepared forms, what pgbench -M prepared runs: the statement is parsed
# and planned once, then each EXECUTE passes a payload that differs per
# event, so both parse it (INSERT into its jsonb column)
varying="'{\"kind\":\"ProbeResult\",\"probeName\":\"p' || \$1 || '\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-05-16T01:00:00Z\"}'"
append_prepared_setup="PREPARE s(int) AS SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-1', 'r1', $varying);"
insert_prepared_setup="PREPARE s(int) AS INSERT INTO plain_log (ts, kind, host_id, rollout_id, payload) VALUES ('2026-05-16 01:00:00+00', 'agent_event', 'host-1', 'r1', ($varying)::jsonb);"
append_prepared="EXECUTE s(%d);"
insert_prepared="EXECUTE s(%d);"
insert_log_prepared_setup="${insert_prepared_setup/plain_log /plain_log7 }"
insert_log_prepared="EXECUTE s(%d);"
chmod 644 "$work/rows.tsv"

# One backend per path.  WARM statements run first and are not counted
# (loading the library, filling the caches: once per connection, not per
# append); the counts are zeroed when SELECT pg_backend_pid() enters it,
# then the N statements are counted.
warm=${CG_WARM:-10}
for path in ${CG_PATHS:-append insert}; do
    stmt=${!path}
    setup_var=${path}_setup
    per=1
    case $path in batch|batch_arrays|copy|copy_log|copy_view) per=1000 ;; esac
    { [ -z "${!setup_var:-}" ] || echo "${!setup_var}"
      case $stmt in
          EXECUTE*) for ((i = 0; i < warm; i++)); do printf "$stmt\n" "$((n + i))"; done
                    echo "SELECT pg_backend_pid();"
                    for ((i = 0; i < n; i++)); do printf "$stmt\n" "$i"; done ;;
          *) for ((i = 0; i < warm; i++)); do echo "$stmt"; done
             echo "SELECT pg_backend_pid();"
             for ((i = 0; i < n; i++)); do echo "$stmt"; done ;;
      esac; } > "$work/$path.sql"
    chown postgres: "$work/$path.sql" 2>/dev/null || true
    run_as_server_user valgrind --tool=callgrind --zero-before=pg_backend_pid --toggle-collect=pg_parse_query --toggle-collect=pg_analyze_and_rewrite_fixedparams --toggle-collect=pg_plan_queries --toggle-collect=PortalRun --toggle-collect=StartTransactionCommand --toggle-collect=CommitTransactionCommand \
        --callgrind-out-file="$work/callgrind.$path" \
        "$bindir/postgres" --single -D "$work/data" postgres < "$work/$path.sql" >/dev/null 2>"$work/$path.err" \
        || { cat "$work/$path.err" >&2; exit 1; }
    total=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$work/callgrind.$path" | head -1 | awk '{print $1}')
    printf '%-8s %12.0f instructions per %s (%d statements)\n' "$path" \
        "$(awk -v t="$total" -v n="$n" -v p="$per" 'BEGIN { print t / n / p }')" "$([ "$per" = 1 ] && echo statement || echo row)" "$n"
    [ -z "$out" ] || { mkdir -p "$out"; cp "$work/callgrind.$path" "$out/"; }
done
