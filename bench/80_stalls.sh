#!/usr/bin/env bash
# 80_stalls — append latency while maintenance wants its strong locks behind
# a transaction that holds the log: p99 and max of single evlog_append
# transactions (pgbench, per-transaction log) in two phases of the same run:
#   quiet:  appenders only;
#   stalls: the same appenders, plus a reader that keeps the log open in
#           one transaction for the whole phase, plus a loop running
#           evlog_prune and evlog_rebuild('all'), each retrying its lock
#           (evlog.maintenance_lock_timeout 50 ms) until its
#           evlog.maintenance_lock_wait (2 s here) runs out;
#   boundaries: the same appenders in a database with no partitions made
#           ahead (evlog.partition_size 1000): every partition they fill
#           comes from evlog's partition creator while they append.
# Goal: stalls and boundaries p99 within 2x of quiet, and no append over
# 100 ms.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

secs=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { t = int(20 * s); print (t < 5 ? 5 : t) }')
clients=${BENCH_CLIENTS:-2}
export PGOPTIONS='-c evlog.partition_size=1000'
q "CREATE EXTENSION IF NOT EXISTS evlog"
# prunable partitions: old events, then partitions ahead of the run
q "SELECT count(evlog_append('agent_event', '2000-01-01', 'old', NULL, '{}')) FROM generate_series(1, 5000)" >/dev/null
# (at most 64 partitions per call)
for upto in 69000 133000 197000; do q "SELECT evlog_create_partitions(upto => $upto)" >/dev/null; done

dir=$(mktemp -d)
cat > "$dir/append.sql" <<'SQL'
\set h random(1, 256)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, NULL, '{"kind":"ProbeResult","probeName":"p","status":"fail","mode":"enforce","observedAt":"2026-05-16T01:00:00Z"}');
SQL

# run pgbench for $secs with a per-transaction log; print "p99_ms max_ms n"
latencies() {
    local tag=$1
    (cd "$dir" && pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" \
        --log --log-prefix="$tag" -f "$dir/append.sql" >"$dir/$tag.out" 2>&1) \
        || { cat "$dir/$tag.out" >&2; exit 1; }
    # column 3: the transaction's latency in microseconds
    cat "$dir/$tag".* | awk '{ print $3 / 1000 }' | sort -n \
        | awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f %.2f %d\n", v[i], v[NR], NR }'
}

read -r qp99 qmax qn < <(latencies quiet)

# the holder: BEGIN, read the log, stay in the transaction for the phase
psql -X -q -c "BEGIN; SELECT count(*) FROM evlog.event_log; SELECT pg_sleep($secs + 5); COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 1
# the maintenance loop: prune and rebuild, each giving up after 2 s
(
    end=$(( $(date +%s) + secs + 2 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        psql -X -q -c "SET evlog.maintenance_lock_wait = '2s'; SELECT evlog_prune('2001-01-01')" >/dev/null 2>&1 || true
        psql -X -q -c "SET evlog.maintenance_lock_wait = '2s'; SET client_min_messages = warning; SELECT evlog_rebuild('all')" >/dev/null 2>&1 || true
    done
) &
maint=$!
read -r sp99 smax sn < <(latencies stalls)
wait "$maint" || true
wait "$holder" || true
pruned=$(q "SELECT count(*) FROM evlog.event_log WHERE kind = 'retention'")

psql -X -q -c "DROP DATABASE IF EXISTS bench_boundaries" -c "CREATE DATABASE bench_boundaries" >/dev/null
PGDATABASE=bench_boundaries q "CREATE EXTENSION evlog"
read -r bp99 bmax bn < <(PGDATABASE=bench_boundaries latencies boundaries)
bparts=$(PGDATABASE=bench_boundaries q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'evlog.event_log'::regclass")
psql -X -q -c "DROP DATABASE bench_boundaries WITH (FORCE)" >/dev/null

echo "single evlog_append transactions, $clients clients, ${secs}s per phase (same server, same run):"
printf '| %-58s | %8s | %8s | %7s |\n' "phase" "p99 ms" "max ms" "appends"
printf '| %-58s | %8s | %8s | %7s |\n' "quiet" "$qp99" "$qmax" "$qn"
printf '| %-58s | %8s | %8s | %7s |\n' "log held by a reader; evlog_prune + evlog_rebuild retrying" "$sp99" "$smax" "$sn"
printf '| %-58s | %8s | %8s | %7s |\n' "no partitions ahead: $bparts made by the creator meanwhile" "$bp99" "$bmax" "$bn"
echo "p99 ratio stalls/quiet: $(ratio "$sp99" "$qp99"); boundaries/quiet: $(ratio "$bp99" "$qp99"); prunes that got through while held: $pruned (expected 0)"
{ echo "phase,p99_ms,max_ms,appends"; echo "quiet,$qp99,$qmax,$qn"; echo "stalls,$sp99,$smax,$sn"; echo "boundaries,$bp99,$bmax,$bn"; } \
    > "$BENCH_OUT/stalls.csv"
rm -rf "$dir"
