#!/usr/bin/env bash
# 25_copy — bulk loading a file of events with COPY (target: >= 0.8x raw
# COPY into a table of identical shape and indexes).
#
# Two evlog paths, each validating every row like evlog_append and rolling
# the whole load back on any error:
#   - the view (1.4, doc/batch.md "Loading a file of events with COPY"):
#     COPY the file straight into evlog.append_copy, whose triggers hand
#     the rows to the batch writer 1,000 at a time;
#   - the staging table, the documented way before 1.4: in one transaction,
#     COPY the file into a temporary table, then hand it to
#     evlog_append_batch (typed form) in chunks of 10,000 in file order.
# The baseline is COPY of the same file straight into a plain table
# (lib.sh's plain_log_table).  For reference, also COPY into the same
# columns with the log's own indexes (1.5: also (host_id, seq), and
# event_id partial), and with those but (host_id, seq): what that one
# index costs a load.  5 alternating rounds of
# 100,000 rows (BENCH_SCALE scales it), median; each path into a fresh empty
# target is not possible for an append-only log, so all keep growing equally.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rows=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { v = int(100000 * s); print (v < 1000 ? 1000 : v) }')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS evlog"
plain_log_table bench_copyload_log
plain_log_table bench_copyload_log6 log
plain_log_table bench_copyload_log5 log
q "DROP INDEX bench_copyload_log5_host_id_seq_idx"
log_autovacuum_off 20000000

# kind, ts, host_id, rollout_id, payload: COPY text format.  One file per
# load (5 rounds x 5 paths), the same rows on a different day each: loading
# the same timestamps again would pile up duplicate keys in the (host_id, ts)
# and (kind, ts) indexes, and the log, loaded twice per round, would pay for
# twice as many of them as each plain table.
gen_events() {
    awk -v n="$rows" -v day="$1" 'BEGIN {
        for (i = 0; i < n; i++)
            printf "agent_event\t2026-05-%02dT%02d:%02d:%02d.%03dZ\thost-%d\tr-%d\t{\"kind\":\"ProbeResult\",\"probeName\":\"http-health\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-05-16T01:00:00Z\",\"latencyMs\":%d,\"attempt\":1,\"detail\":\"HTTP 200 in %dms\",\"host\":\"host-%d\"}\n",
                day, 1 + int(i / 3600000), int(i / 60000) % 60, int(i / 1000) % 60, i % 1000, i % 256, int(i / 10000), i % 997, i % 997, i % 256
    }'
}
for k in $(seq 0 24); do gen_events $((k + 1)) > "$dir/events_$k.tsv"; done

cat > "$dir/evlog_load.sql" <<SQL
BEGIN;
CREATE TEMP TABLE evlog_load (
    n bigint GENERATED ALWAYS AS IDENTITY, kind text, ts timestamptz,
    host_id text, rollout_id text, payload jsonb, event_id text) ON COMMIT DROP;
\\copy evlog_load (kind, ts, host_id, rollout_id, payload) FROM '$dir/events.tsv'
SELECT sum(cardinality(evlog_append_batch(k, t, h, r, p, i)))
  FROM (SELECT array_agg(kind ORDER BY n) k, array_agg(ts ORDER BY n) t,
               array_agg(host_id ORDER BY n) h, array_agg(rollout_id ORDER BY n) r,
               array_agg(payload ORDER BY n) p, array_agg(event_id ORDER BY n) i
          FROM evlog_load GROUP BY (n - 1) / 10000 ORDER BY (n - 1) / 10000) chunks;
COMMIT;
SQL
cat > "$dir/evlog_view.sql" <<SQL
\\copy evlog.append_copy (kind, ts, host_id, rollout_id, payload) FROM '$dir/events.tsv'
SQL
cat > "$dir/copy.sql" <<SQL
\\copy bench_copyload_log (kind, ts, host_id, rollout_id, payload) FROM '$dir/events.tsv'
SQL
cat > "$dir/copy6.sql" <<SQL
\\copy bench_copyload_log6 (kind, ts, host_id, rollout_id, payload) FROM '$dir/events.tsv'
SQL
cat > "$dir/copy5.sql" <<SQL
\\copy bench_copyload_log5 (kind, ts, host_id, rollout_id, payload) FROM '$dir/events.tsv'
SQL

timed() {
    local t0 t1
    t0=$(now_s)
    psql -X -q -v ON_ERROR_STOP=1 -f "$1" >/dev/null
    t1=$(now_s)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
before=$(q "SELECT count(*) FROM evlog.event_log")
declare -a c=() c6=() c5=() e=() v=()
# run SCRIPT K: SCRIPT on events_K.tsv
run() {
    sed "s|$dir/events.tsv|$dir/events_$2.tsv|" "$1" > "$dir/run.sql"
    timed "$dir/run.sql"
}
for r in 0 1 2 3 4; do
    c+=("$(run "$dir/copy.sql" $((r * 5)))")
    c6+=("$(run "$dir/copy6.sql" $((r * 5 + 1)))")
    c5+=("$(run "$dir/copy5.sql" $((r * 5 + 2)))")
    v+=("$(run "$dir/evlog_view.sql" $((r * 5 + 3)))")
    e+=("$(run "$dir/evlog_load.sql" $((r * 5 + 4)))")
done
after=$(q "SELECT count(*) FROM evlog.event_log")
[ $((after - before)) -eq $((rows * 10)) ] || { echo "25_copy: expected $((rows * 10)) new events, got $((after - before))" >&2; exit 1; }
cs=$(median "${c[@]}"); es=$(median "${e[@]}"); vs=$(median "${v[@]}"); c6s=$(median "${c6[@]}"); c5s=$(median "${c5[@]}")
crps=$(awk -v n="$rows" -v s="$cs" 'BEGIN { printf "%.0f", n / s }')
erps=$(awk -v n="$rows" -v s="$es" 'BEGIN { printf "%.0f", n / s }')
vrps=$(awk -v n="$rows" -v s="$vs" 'BEGIN { printf "%.0f", n / s }')
c6rps=$(awk -v n="$rows" -v s="$c6s" 'BEGIN { printf "%.0f", n / s }')
c5rps=$(awk -v n="$rows" -v s="$c5s" 'BEGIN { printf "%.0f", n / s }')
echo "  copy: ${c[*]} | copy, the log's indexes: ${c6[*]} | the same but (host_id, seq): ${c5[*]} | evlog.append_copy: ${v[*]} | staging + batch: ${e[*]}" >&2
echo "bulk load of a $rows-row file (a new day of timestamps for each load), 5 alternating rounds, median:"
printf '| %-52s | %10s | %8s |\n' "path" "rows/s" "vs COPY"
printf '|------------------------------------------------------|------------|----------|\n'
printf '| %-52s | %10s | %8s |\n' "COPY into the plain table" "$crps" "1.00"
printf '| %-52s | %10s | %8s |\n' "COPY into the same columns with the log's indexes" "$c6rps" "$(ratio "$c6rps" "$crps")"
printf '| %-52s | %10s | %8s |\n' "COPY into the same but (host_id, seq)" "$c5rps" "$(ratio "$c5rps" "$crps")"
printf '| %-52s | %10s | %8s |\n' "COPY into evlog.append_copy (1.4)" "$vrps" "$(ratio "$vrps" "$crps")"
printf '| %-52s | %10s | %8s |\n' "COPY to staging + evlog_append_batch (10,000/chunk)" "$erps" "$(ratio "$erps" "$crps")"
echo "target: >= 0.8x; got $(ratio "$vrps" "$crps")x (evlog.append_copy)"
{ echo "path,rows,rows_per_s,ratio_vs_copy"; echo "copy,$rows,$crps,1.00"; echo "copy_log_indexes,$rows,$c6rps,$(ratio "$c6rps" "$crps")"; echo "copy_log_indexes_but_host_seq,$rows,$c5rps,$(ratio "$c5rps" "$crps")"; echo "evlog_append_copy,$rows,$vrps,$(ratio "$vrps" "$crps")"; echo "evlog_copy_load,$rows,$erps,$(ratio "$erps" "$crps")"; } \
    > "$BENCH_OUT/copy_load.csv"
