#!/usr/bin/env bash
# 50_chain — the hash chain's cost (issue 9).
#   1. append throughput with sealing on vs off: pgbench single-row
#      evlog_append transactions, alone and with a concurrent loop calling
#      evlog_seal() every 100 ms (target >= 0.90x); alternating rounds,
#      median of 3;
#   2. seal rate: one evlog_seal(NULL) over N unsealed events, events/s;
#   3. verify rate: evlog_verify_chain() over the whole chain (>= N
#      events), events/s; and tools/verify_chain.py over its export.
# N = 1,000,000 x BENCH_SCALE (at least 10,000).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scale=${BENCH_SCALE:-1}
secs=$(awk -v s="$scale" 'BEGIN { t = int(20 * s); print (t < 3 ? 3 : t) }')
n=$(awk -v s="$scale" 'BEGIN { t = int(1000000 * s); print (t < 10000 ? 10000 : t) }')
clients=${BENCH_CLIENTS:-2}
q "CREATE EXTENSION IF NOT EXISTS evlog"

dir=$(mktemp -d)
cat > "$dir/evlog.sql" <<'SQL'
\set h random(1, 256)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'r1', '{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-05-16T01:00:00Z"}');
SQL

tps() { pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" -f "$dir/evlog.sql" 2>/dev/null \
          | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | awk '{ printf "%.0f", $1 }'; }
# sealer loop: one session (as a background worker or a pg_cron job would
# be) calling evlog_seal(10000) every 100 ms until $dir/stop appears; its
# output is the count sealed per call
sealer() {
    while [ ! -e "$dir/stop" ]; do
        echo "SELECT evlog_seal(10000);"
        sleep 0.1
    done | psql -X -q -At -v ON_ERROR_STOP=1 > "$dir/sealed"
}

q "SELECT evlog_seal(NULL)" >/dev/null
declare -a off on
sealed_during=0
for round in 1 2 3; do
    off+=("$(tps)")
    rm -f "$dir/stop"
    sealer & spid=$!
    on+=("$(tps)")
    touch "$dir/stop"; wait "$spid"
    sealed_during=$((sealed_during + $(awk '{ s += $1 } END { print s + 0 }' "$dir/sealed")))
done
med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
tps_off=$(med "${off[@]}"); tps_on=$(med "${on[@]}")
behind=$(q "SELECT events_behind FROM evlog.chain_status")

# seal rate: N fresh events, one call
q "SELECT evlog_seal(NULL)" >/dev/null
q "SELECT count(evlog_append('agent_event', '2026-05-16 01:00:00+00'::timestamptz + i * interval '1 ms',
       'host-' || i % 256, 'r' || i % 7,
       json_build_object('kind', 'ProbeResult', 'probeName', 'p' || i % 13, 'status', 'pass', 'observedAt', '2026-05-16T01:00:00Z', 'i', i)::text))
     FROM generate_series(1, $n) i" >/dev/null
q "CHECKPOINT" >/dev/null
t0=$(now_s); sealed=$(q "SELECT evlog_seal(NULL)"); t1=$(now_s)
seal_rate=$(awk -v n="$sealed" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')

# verify rate: the whole chain
t0=$(now_s)
IFS='|' read -r bad checked < <(q "SELECT coalesce(first_bad_seq::text, 'intact'), events_checked FROM evlog_verify_chain()")
t1=$(now_s)
verify_rate=$(awk -v n="$checked" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')

# the third-party verifier over an export of the same chain
py_rate=n/a
if command -v python3 >/dev/null && [ -f "$(dirname "$0")/../tools/verify_chain.py" ]; then
    PGCLIENTENCODING=UTF8 psql -X -q -At -v ON_ERROR_STOP=1 \
        -c 'SELECT line FROM evlog.chain_export ORDER BY seq, anchor DESC' > "$dir/export.jsonl"
    t0=$(now_s); python3 "$(dirname "$0")/../tools/verify_chain.py" "$dir/export.jsonl" >/dev/null; t1=$(now_s)
    py_rate=$(awk -v n="$checked" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
fi

echo "append throughput, $clients clients, 3 x ${secs}s each alternating, median tps;"
echo "sealing on = a loop calling evlog_seal(10000) every 100 ms ($sealed_during events sealed during the runs, $behind behind at the end):"
printf '| %-40s | %12s | %6s |\n' "measure" "value" "ratio"
printf '| %-40s | %12s | %6s |\n' "append tps, sealing off" "$tps_off" "1.00"
printf '| %-40s | %12s | %6s |\n' "append tps, sealing on" "$tps_on" "$(ratio "$tps_on" "$tps_off")"
printf '| %-40s | %12s | %6s |\n' "  (rounds off: ${off[*]})" "" ""
printf '| %-40s | %12s | %6s |\n' "  (rounds on: ${on[*]})" "" ""
printf '| %-40s | %12s | %6s |\n' "seal rate, events/s ($sealed events)" "$seal_rate" ""
printf '| %-40s | %12s | %6s |\n' "evlog_verify_chain, events/s ($checked)" "$verify_rate" ""
printf '| %-40s | %12s | %6s |\n' "tools/verify_chain.py, events/s" "$py_rate" ""
echo "verify result: $bad"
{
    echo "measure,value"
    echo "append_tps_sealing_off,$tps_off"
    echo "append_tps_sealing_on,$tps_on"
    echo "ratio_on_vs_off,$(ratio "$tps_on" "$tps_off")"
    echo "rounds_off,${off[*]}"
    echo "rounds_on,${on[*]}"
    echo "seal_events,$sealed"
    echo "seal_events_per_s,$seal_rate"
    echo "verify_events,$checked"
    echo "verify_events_per_s,$verify_rate"
    echo "python_verify_events_per_s,$py_rate"
} > "$BENCH_OUT/chain.csv"
rm -rf "$dir"
[ "$bad" = intact ]
