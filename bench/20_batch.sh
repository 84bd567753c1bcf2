#!/usr/bin/env bash
# 20_batch — rows per second for evlog_append_batch (both call forms, batch
# sizes 1 to 10,000) against PostgreSQL's own bulk path and its peers, all
# into tables of identical shape and indexes, on the one server bench/run.sh
# started (issue 3's targets: a batch of 1,000 >= 0.9x COPY, >= 10x
# single-row evlog_append per row; with 5M rows in the log >= 0.8x the
# empty-log figure).  Also measures the backend memory of a 100,000-entry
# batch.
#
# Every path gets the same rows: a ProbeResult-like payload of ~150 bytes,
# 256 hosts, increasing ts, no event_id.  Inputs are generated as files
# before the clock starts and sent by psql, so each path pays for parsing
# its input on the server, as a client would make it: JSON text for the
# jsonb form, array literals for the typed form, COPY text for COPY.  Every
# statement is its own transaction (autocommit), except where noted.
#
# Env: BENCH_SCALE (1 = full; 0.1 for a quick run), BENCH_OUT, PG* from
# run.sh.  Output: a markdown table, $BENCH_OUT/batch.csv,
# $BENCH_OUT/batch_rows_per_s.png, $BENCH_OUT/batch_memory.txt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scale=${BENCH_SCALE:-1}
sz() { awk -v n="$1" -v s="$scale" -v m="${2:-1000}" 'BEGIN { v = int(n * s); print (v < m ? m : v) }'; }
rows=$(sz 100000)           # rows per measurement for the bulk paths
single_rows=$(sz 10000 500) # rows for one-row-per-call paths (slow by nature)
fill_rows=$(sz 5000000 100000)
reps=3

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# A fresh, empty log: the earlier pieces may have appended to it, and it
# cannot be truncated (append-only), so the extension is recreated.
q "SET client_min_messages = warning; DROP EXTENSION IF EXISTS evlog CASCADE; CREATE EXTENSION evlog;
   DROP EXTENSION IF EXISTS pgq CASCADE; CREATE EXTENSION pgq;"
q "SELECT pgq.create_queue('q')" >/dev/null
plain_log_table bench_copy_log
plain_log_table bench_insel_log

# The client: every path but COPY runs as one prepared statement per batch
# with bound parameters (bench/batch_client.c), as an application driver
# would send it; COPY goes through psql's COPY FROM STDIN.
# (the system pg_config: the staged copy reports paths inside the stage,
# which holds no headers)
pgc=/usr/lib/postgresql/15/bin/pg_config
[ -x "$pgc" ] || pgc=pg_config
cc -O2 -Wall -I"$("$pgc" --includedir)" -o "$dir/batch_client" "$(dirname "$0")/batch_client.c" \
    -L"$("$pgc" --libdir)" -lpq

# gen FORMAT BATCH N: N rows as FORMAT, BATCH rows per line.
#   json    a JSON array of entry objects per line
#   arrays  five tab-separated array literals per line (kinds, ts, hosts, rollouts, payloads)
#   single  kind, ts, host_id, rollout_id, payload, tab-separated, one row per line
#   copy    COPY text rows (ts, kind, host_id, rollout_id, payload)
# Lines are printed piece by piece: building a 10,000-entry string by
# concatenation is quadratic in awk.  Every call writes the same rows in a
# year of their own: a load that repeated earlier timestamps would pile up
# duplicate keys in the (host_id, ts) and (kind, ts) indexes, and the log,
# loaded by every path, would pay for many more of them than the COPY table.
load_year=2000
gen() {
    load_year=$((load_year + 1))
    awk -v fmt="$1" -v batch="$2" -v n="$3" -v year="$load_year" '
    function ts(i) {
        return sprintf("%04d-05-16T%02d:%02d:%02d.%03dZ", year, 1 + int(i / 3600000), int(i / 60000) % 60,
                       int(i / 1000) % 60, i % 1000)
    }
    function payload(i) {
        return sprintf("{\"kind\":\"ProbeResult\",\"probeName\":\"http-health\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-05-16T01:00:00Z\",\"latencyMs\":%d,\"attempt\":1,\"detail\":\"HTTP 200 in %dms\",\"host\":\"host-%d\"}",
                       i % 997, i % 997, i % 256)
    }
    function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    function entry(i) {
        return sprintf("{\"kind\":\"agent_event\",\"ts\":\"%s\",\"host_id\":\"host-%d\",\"rollout_id\":\"r-%d\",\"payload\":%s}",
                       ts(i), i % 256, int(i / 10000), payload(i))
    }
    BEGIN {
        for (start = 0; start < n; start += batch) {
            end = start + batch; if (end > n) end = n
            if (fmt == "copy" || fmt == "single") {
                for (i = start; i < end; i++)
                    if (fmt == "copy")
                        printf "%s\tagent_event\thost-%d\tr-%d\t%s\n", ts(i), i % 256, int(i / 10000), payload(i)
                    else
                        printf "agent_event\t%s\thost-%d\tr-%d\t%s\n", ts(i), i % 256, int(i / 10000), payload(i)
            } else if (fmt == "arrays") {
                printf "{"
                for (i = start; i < end; i++) printf "%sagent_event", (i == start) ? "" : ","
                printf "}\t{"
                for (i = start; i < end; i++) printf "%s%s", (i == start) ? "" : ",", ts(i)
                printf "}\t{"
                for (i = start; i < end; i++) printf "%shost-%d", (i == start) ? "" : ",", i % 256
                printf "}\t{"
                for (i = start; i < end; i++) printf "%sr-%d", (i == start) ? "" : ",", int(i / 10000)
                printf "}\t{"
                for (i = start; i < end; i++) printf "%s%s", (i == start) ? "" : ",", q(payload(i))
                printf "}\n"
            } else {
                printf "["
                for (i = start; i < end; i++) printf "%s%s", (i == start) ? "" : ",", entry(i)
                printf "]\n"
            }
        }
    }'
}

SQL_JSONB='SELECT cardinality(evlog_append_batch($1::jsonb))'
SQL_ARRAYS='SELECT cardinality(evlog_append_batch($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[]))'
SQL_INSEL='INSERT INTO bench_insel_log (ts, kind, host_id, rollout_id, payload)
    SELECT ts, kind, host_id, rollout_id, payload
      FROM jsonb_to_recordset($1::jsonb) AS r(kind text, ts timestamptz, host_id text, rollout_id text, payload jsonb)'
SQL_PGQ="SELECT count(pgq.insert_event('q', e->>'kind', (e->'payload')::text)) FROM jsonb_array_elements(\$1::jsonb) e"
SQL_SINGLE='SELECT evlog_append($1, $2::timestamptz, $3, $4, $5::text)'

# timed FILE HOW: seconds to send FILE (HOW: copy, or "[-1] SQL NPARAMS")
timed() {
    local f=$1 t0 t1
    shift
    t0=$(now_s)
    if [ "$1" = copy ]; then
        psql -X -q -v ON_ERROR_STOP=1 -c "COPY bench_copy_log (ts, kind, host_id, rollout_id, payload) FROM STDIN" < "$f"
    else
        "$dir/batch_client" "$@" < "$f"
    fi
    t1=$(now_s)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# measure NAME FORMAT BATCH N HOW...: runs $reps times, records the median
declare -a R_NAME R_BATCH R_ROWS R_RPS
measure() {
    local name=$1 fmt=$2 batch=$3 n=$4 f secs=() i s
    shift 4
    f="$dir/$name.in"
    for ((i = 0; i < reps; i++)); do
        gen "$fmt" "$batch" "$n" > "$f"
        secs+=("$(timed "$f" "$@")")
    done
    rm -f "$f"
    s=$(median "${secs[@]}")
    R_NAME+=("$name"); R_BATCH+=("$batch"); R_ROWS+=("$n"); R_RPS+=("$(rps "$n" "$s")")
    echo "  $name: $n rows x $reps, median ${s}s" >&2
}
rps_of() { local i; for i in "${!R_NAME[@]}"; do [ "${R_NAME[$i]}" != "$1" ] || echo "${R_RPS[$i]}"; done; }


echo "rows per measurement: $rows (one-row-per-call paths: $single_rows), median of $reps runs" >&2
# the empty-log figure first, while the log is empty
# Empty log vs 5M rows: the same measurement, each after a CHECKPOINT (so
# both start without pending full-page writes), with autovacuum kept off the
# log so it cannot compete for the CPUs mid-measurement.
log_autovacuum_off 20000000
q "CHECKPOINT"
measure batch_jsonb_1000_empty json 1000 "$rows" "$SQL_JSONB" 1

# Memory of one 100,000-entry batch, each form, while the log is small
# (so that few shared buffers are touched and RSS is mostly private memory).
# Three figures: the DEBUG1 line is evlog's own accounting (all memory
# contexts of the backend at the batch's peak minus at its start: what the
# call adds on top of its already-parsed input); VmHWM is the backend's peak
# RSS, which also counts PostgreSQL parsing the input and shared buffers.
status() { echo "substring(pg_read_file('/proc/self/status') from '$1:\\s*(\\d+ kB)')"; }
gen json 100000 100000 > "$dir/big.json"
gen arrays 100000 100000 > "$dir/big.arrays"
mem_sql() {
    local arg=$1 input=$2
    echo "SELECT 'backend peak RSS (VmHWM) at start: ' || $(status VmHWM);"
    echo "SELECT 'input: ' || $input;"
    echo "SELECT 'backend peak RSS after parsing the input once: ' || $(status VmHWM);"
    echo "SET client_min_messages = debug1;"
    echo "SELECT 'appended: ' || cardinality(evlog_append_batch($arg));"
    echo "RESET client_min_messages;"
    echo "SELECT 'backend peak RSS after the batch: ' || $(status VmHWM) || ' (now RssAnon ' || $(status RssAnon) || ', RssShmem ' || $(status RssShmem) || ')';"
}
{
    echo "\\set entries \`cat $dir/big.json\`"
    mem_sql ":'entries'::jsonb" "pg_column_size(:'entries'::jsonb) || ' bytes as jsonb, ' || octet_length(:'entries') || ' bytes as JSON text'"
} > "$dir/mem_json.sql"
{
    for i in 1 2 3 4 5; do
        cut -f$i "$dir/big.arrays" > "$dir/big.a$i"
        echo "\\set a$i \`cat $dir/big.a$i\`"
    done
    mem_sql ":'a1'::text[], :'a2'::timestamptz[], :'a3'::text[], :'a4'::text[], :'a5'::jsonb[]" \
        "pg_column_size(:'a1'::text[]) + pg_column_size(:'a2'::timestamptz[]) + pg_column_size(:'a3'::text[]) + pg_column_size(:'a4'::text[]) + pg_column_size(:'a5'::jsonb[]) || ' bytes as arrays'"
} > "$dir/mem_arrays.sql"
: > "$BENCH_OUT/batch_memory.txt"
for form in json arrays; do
    psql -X -q -At -v ON_ERROR_STOP=1 -f "$dir/mem_$form.sql" > "$dir/mem.out" 2>&1 || { cat "$dir/mem.out"; exit 1; }
    { echo "one 100,000-entry evlog_append_batch call, $form form:"; sed -e 's/^psql:[^ ]* //' -e 's/^/    /' "$dir/mem.out"; } \
        >> "$BENCH_OUT/batch_memory.txt"
done
rm -f "$dir"/big.*
echo "  memory measured" >&2

# The headline ratio: COPY and both batch forms at 1,000, alternating run by
# run (5 rounds) so that load drifting on a shared machine hits all three.
declare -a s_copy s_json s_arrays
for ((r = 0; r < 5; r++)); do
    gen copy "$rows" "$rows" > "$dir/copy.in"
    gen json 1000 "$rows" > "$dir/json.in"
    gen arrays 1000 "$rows" > "$dir/arrays.in"
    s_copy+=("$(timed "$dir/copy.in" copy)")
    s_json+=("$(timed "$dir/json.in" "$SQL_JSONB" 1)")
    s_arrays+=("$(timed "$dir/arrays.in" "$SQL_ARRAYS" 5)")
done
rm -f "$dir/copy.in" "$dir/json.in" "$dir/arrays.in"
record() {
    local s; s=$(median "${@:4}")
    R_NAME+=("$1"); R_BATCH+=("$2"); R_ROWS+=("$3"); R_RPS+=("$(rps "$3" "$s")")
    echo "  $1: $3 rows x $(($# - 3)), median ${s}s (runs: ${*:4})" >&2
}
record copy "$rows" "$rows" "${s_copy[@]}"
record batch_jsonb_1000 1000 "$rows" "${s_json[@]}"
record batch_typed_1000 1000 "$rows" "${s_arrays[@]}"

for b in 1 10 100 10000; do
    n=$rows
    [ "$b" -lt 100 ] && n=$((single_rows * b < rows ? single_rows * b : rows))
    measure "batch_jsonb_$b" json "$b" "$n" "$SQL_JSONB" 1
    measure "batch_typed_$b" arrays "$b" "$n" "$SQL_ARRAYS" 5
done
measure insert_select json 1000 "$rows" "$SQL_INSEL" 1
measure pgq_insert_event json 1000 "$rows" "$SQL_PGQ" 1
measure evlog_append_autocommit single 1 "$single_rows" "$SQL_SINGLE" 5
measure evlog_append_one_xact single 1 "$single_rows" -1 "$SQL_SINGLE" 5

# fill the log to 5M rows, server-side, in batches of 100,000, then measure again
have=$(q "SELECT count(*) FROM evlog.event_log")
echo "  filling the log from $have to $fill_rows rows" >&2
t0=$(now_s)
while [ "$have" -lt "$fill_rows" ]; do
    chunk=$((fill_rows - have < 100000 ? fill_rows - have : 100000))
    q "SELECT cardinality(evlog_append_batch(jsonb_agg(jsonb_build_object(
         'kind', 'agent_event', 'ts', '2026-05-16T00:00:00Z'::timestamptz + g * interval '1 ms',
         'host_id', 'host-' || (g % 256), 'rollout_id', 'fill-' || (g / 10000),
         'payload', jsonb_build_object('kind', 'ProbeResult', 'probeName', 'http-health', 'status', 'pass', 'observedAt', '2026-05-16T01:00:00Z',
                                       'mode', 'observe', 'latencyMs', g % 997, 'attempt', 1,
                                       'detail', 'HTTP 200 in ' || (g % 997) || 'ms', 'host', 'host-' || (g % 256))))))
       FROM generate_series(1, $chunk) g" >/dev/null
    have=$((have + chunk))
done
echo "  fill took $(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }')s" >&2
q "VACUUM ANALYZE evlog.event_log"
q "CHECKPOINT"
log_rows=$(q "SELECT count(*) FROM evlog.event_log")
measure batch_jsonb_1000_5m json 1000 "$rows" "$SQL_JSONB" 1

copy=$(rps_of copy)
{
    echo "path,batch_size,rows,rows_per_s,ratio_vs_copy"
    for i in "${!R_NAME[@]}"; do
        echo "${R_NAME[$i]},${R_BATCH[$i]},${R_ROWS[$i]},${R_RPS[$i]},$(ratio "${R_RPS[$i]}" "$copy")"
    done
} > "$BENCH_OUT/batch.csv"

echo "rows/s into tables of the log's shape (COPY: the targets' baseline indexes), median of $reps runs (COPY and batch 1000: 5 alternating runs), scale $scale:"
printf '| %-44s | %10s | %8s |\n' "path" "rows/s" "vs COPY"
printf '|%s|%s|%s|\n' "----------------------------------------------" "------------" "----------"
row() { printf '| %-44s | %10s | %8s |\n' "$1" "$2" "$(ratio "$2" "$copy")"; }
row "COPY FROM STDIN (one statement)" "$copy"
for b in 1 10 100 1000 10000; do row "evlog_append_batch(jsonb), batch $b" "$(rps_of "batch_jsonb_$b")"; done
for b in 1 10 100 1000 10000; do row "evlog_append_batch(arrays), batch $b" "$(rps_of "batch_typed_$b")"; done
row "INSERT ... SELECT FROM jsonb_to_recordset, 1000" "$(rps_of insert_select)"
row "pgq.insert_event, 1000 per statement" "$(rps_of pgq_insert_event)"
row "evlog_append, one row per transaction" "$(rps_of evlog_append_autocommit)"
row "evlog_append, all rows in one transaction" "$(rps_of evlog_append_one_xact)"
echo
e=$(rps_of batch_jsonb_1000_empty); f=$(rps_of batch_jsonb_1000_5m)
b1000=$(rps_of batch_jsonb_1000); t1000=$(rps_of batch_typed_1000)
single=$(rps_of evlog_append_one_xact)
echo "targets:"
echo "- batch of 1,000 vs COPY: jsonb $(ratio "$b1000" "$copy")x, arrays $(ratio "$t1000" "$copy")x (target >= 0.9)"
auto=$(rps_of evlog_append_autocommit)
echo "- batch of 1,000 vs single-row evlog_append, one row per transaction (how single events are sent): jsonb $(ratio "$b1000" "$auto")x, arrays $(ratio "$t1000" "$auto")x (target >= 10)"
echo "- batch of 1,000 vs single-row evlog_append, all rows in one transaction (its best case): jsonb $(ratio "$b1000" "$single")x, arrays $(ratio "$t1000" "$single")x (target >= 10)"
echo "- batch of 1,000 (jsonb) with $log_rows rows in the log vs an empty log: $f vs $e rows/s = $(ratio "$f" "$e")x (target >= 0.8)"

# the plot: rows/s against batch size, the non-batched paths as lines
awk -F, 'NR > 1 && $1 ~ /^batch_jsonb_[0-9]+$/ { print $2, $4 }' "$BENCH_OUT/batch.csv" | sort -n > "$dir/jsonb.dat"
awk -F, 'NR > 1 && $1 ~ /^batch_typed_[0-9]+$/ { print $2, $4 }' "$BENCH_OUT/batch.csv" | sort -n > "$dir/typed.dat"
gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$BENCH_OUT/batch_rows_per_s.png"
set title "evlog_append_batch: rows/s by batch size (scale $scale)"
set xlabel "entries per call"
set ylabel "rows per second"
set logscale x 10
set logscale y 10
set xrange [0.8:12500]
set yrange [*:$((copy * 3))]
set grid
set key bottom right
plot "$dir/jsonb.dat" using 1:2 with linespoints lw 2 title "evlog_append_batch(jsonb)", \
     "$dir/typed.dat" using 1:2 with linespoints lw 2 title "evlog_append_batch(arrays)", \
     $copy with lines dt 2 lw 2 title "COPY FROM STDIN", \
     $(rps_of insert_select) with lines dt 3 title "INSERT ... SELECT (1000/stmt)", \
     $(rps_of pgq_insert_event) with lines dt 4 title "pgq.insert_event (1000/stmt)", \
     $single with lines dt 5 title "evlog_append (all rows in one transaction)", \
     $(rps_of evlog_append_autocommit) with lines dt 6 title "evlog_append (one row per transaction)"
GP
[ -s "$BENCH_OUT/batch_rows_per_s.png" ] || echo "(no PNG: gnuplot failed)" >&2

echo
cat "$BENCH_OUT/batch_memory.txt"
