#!/usr/bin/env bash
# 40_queue — asynchronous append through the background writer (issue 5).
#
#   1. transactions/s of enqueue-only transactions (evlog_enqueue, commit
#      mode) vs evlog_append transactions, pgbench -M prepared, same server,
#      alternating rounds, median of 3 (target: >= 3x)
#   2. drain rate of the writer: events/s it writes from a full queue, at
#      the default batch size, vs COPY of the same rows into a table of
#      identical shape and indexes, 5 alternating rounds, median
#      (target: >= 0.8x)
#   3. queue shared memory at the default settings (pg_shmem_allocations)
#   4. end-to-end latency enqueue -> visible to another snapshot, median and
#      p99, one producer (call mode), default flush interval
# Needs the server started with shared_preload_libraries = 'evlog' (run.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scale=${BENCH_SCALE:-1}
secs=$(awk -v s="$scale" 'BEGIN { t = int(15 * s); print (t < 3 ? 3 : t) }')
nlat=$(awk -v s="$scale" 'BEGIN { t = int(200 * s); print (t < 30 ? 30 : t) }')
clients=${BENCH_CLIENTS:-2}
q "CREATE EXTENSION IF NOT EXISTS evlog"
if [ "$(q "SELECT count(*) FROM pg_shmem_allocations WHERE name = 'evlog queues'")" != 1 ]; then
    echo "40_queue: the server does not preload evlog (shared_preload_libraries)" >&2
    exit 1
fi
plain_log_table bench_queue_copy

dir=$(mktemp -d)
payload='{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-05-16T01:00:00Z"}'
cat > "$dir/append.sql" <<SQL
\set h random(1, 256)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'r1', '$payload');
SQL
cat > "$dir/enqueue.sql" <<SQL
\set h random(1, 256)
SELECT evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'r1', '$payload');
SQL

# wait until this database's queue is empty (flushes from other sessions)
drained() {
    local tries=0
    until [ "$(q "SELECT coalesce(sum(pending), 0) FROM evlog.queue_status WHERE database = current_database()")" = 0 ]; do
        tries=$((tries + 1))
        if [ $tries -gt 2400 ]; then echo "40_queue: the queue did not drain in 120 s" >&2; exit 1; fi
        sleep 0.05
    done
}
tps() { pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" -f "$1" 2>/dev/null \
          | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

# ---- 1. enqueue-only vs append transactions
declare -a a e
for round in 1 2 3; do
    a+=("$(tps "$dir/append.sql")")
    e+=("$(tps "$dir/enqueue.sql")")
    drained
done
at=$(med "${a[@]}"); et=$(med "${e[@]}")

# ---- 2. drain rate from a full queue vs COPY
# Stall the writer by making its batch wait for the ring to be half full
# (flush_interval 1h, batch_size 100000), fill it to just below that, then
# restore the default batch size and time the drain on the server's clock.
cap=$(q "SELECT capacity FROM evlog.queue_status WHERE database = current_database()")
q "ALTER SYSTEM SET evlog.flush_interval = '1h'"
q "ALTER SYSTEM SET evlog.batch_size = 100000"
q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
# bytes per queued entry of this shape: queue a sample batch, measure, let it go
q "SELECT count(evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'host-' || (i % 256), 'r1', '$payload'))
     FROM generate_series(1, 1000) i" >/dev/null
per=$(q "SELECT used / greatest(pending, 1) FROM evlog.queue_status WHERE database = current_database()")
q "ALTER SYSTEM RESET evlog.batch_size"; q "SELECT pg_reload_conf()" >/dev/null
drained
# a multiple of the default batch size, so every batch of the drain is full
n=$(( cap * 45 / 100 / per / 1000 * 1000 ))
declare -a d c
for round in 1 2 3 4 5; do
    q "ALTER SYSTEM SET evlog.batch_size = 100000"; q "SELECT pg_reload_conf()" >/dev/null; sleep 0.3
    q "SELECT count(evlog_enqueue('agent_event', '2026-05-16 01:00:00+00', 'host-' || (i % 256), 'r1', '$payload'))
         FROM generate_series(1, $n) i" >/dev/null
    pending=$(q "SELECT pending FROM evlog.queue_status WHERE database = current_database()")
    t0=$(q "SELECT clock_timestamp()")
    q "ALTER SYSTEM RESET evlog.batch_size"; q "SELECT pg_reload_conf()" >/dev/null
    drained
    secs_drain=$(q "SELECT extract(epoch FROM last_flush_at - '$t0'::timestamptz) FROM evlog.queue_status WHERE database = current_database()")
    d+=("$(awk -v n="$pending" -v s="$secs_drain" 'BEGIN { printf "%.0f", n / s }')")

    q "COPY (SELECT '2026-05-16 01:00:00+00'::timestamptz, 'agent_event', 'host-' || (i % 256), 'r1', '$payload'
               FROM generate_series(1, $n) i) TO '$dir/rows.csv' CSV"
    s0=$(now_s)
    q "COPY bench_queue_copy (ts, kind, host_id, rollout_id, payload) FROM '$dir/rows.csv' CSV"
    s1=$(now_s)
    c+=("$(awk -v n="$n" -v a="$s0" -v b="$s1" 'BEGIN { printf "%.0f", n / (b - a) }')")
done
q "ALTER SYSTEM RESET evlog.flush_interval"; q "ALTER SYSTEM RESET evlog.batch_size"; q "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
dr=$(med "${d[@]}"); cr=$(med "${c[@]}")

# ---- 3. shared memory at the default settings
shm=$(q "SELECT allocated_size FROM pg_shmem_allocations WHERE name = 'evlog queues'")
slots=$(q "SELECT setting FROM pg_settings WHERE name = 'evlog.max_databases'")
qsize=$(q "SELECT setting || unit FROM pg_settings WHERE name = 'evlog.queue_size'")

# ---- 4. latency enqueue -> visible (another snapshot sees the row)
lat=$(psql -X -q -At -v ON_ERROR_STOP=1 <<SQL
SET evlog.enqueue_mode = call;
CREATE TEMP TABLE lat (ms float8);
DO \$\$
DECLARE
    t0 timestamptz;
    id text;
BEGIN
    FOR i IN 1..$nlat LOOP
        id := 'lat-' || pg_backend_pid() || '-' || i || '-' || pg_catalog.random();
        t0 := clock_timestamp();
        PERFORM evlog_enqueue('agent_event', now(), 'lat', NULL, '{}', id);
        -- read committed: each probe runs with a new snapshot
        WHILE NOT EXISTS (SELECT 1 FROM evlog.event_log WHERE event_id = id) LOOP
            PERFORM pg_sleep(0.0005);
        END LOOP;
        INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
        PERFORM pg_sleep(0.01 * pg_catalog.random());
    END LOOP;
END
\$\$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) || ',' ||
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) FROM lat;
SQL
)
p50=${lat%,*}; p99=${lat#*,}
fi=$(q "SELECT setting FROM pg_settings WHERE name = 'evlog.flush_interval'")

echo "asynchronous append, $clients clients, 3 x ${secs}s pgbench rounds (median); drain: 5 x $n events (median)"
printf '| %-56s | %12s | %8s |\n' "measure" "value" "ratio"
printf '| %-56s | %12s | %8s |\n' "evlog_append transactions/s" "$at" "1.00"
printf '| %-56s | %12s | %8s |\n' "evlog_enqueue transactions/s (target >= 3x)" "$et" "$(ratio "$et" "$at")"
printf '| %-56s | %12s | %8s |\n' "COPY into identical table, rows/s" "$cr" "1.00"
printf '| %-56s | %12s | %8s |\n' "writer drain rate, events/s (target >= 0.8x)" "$dr" "$(ratio "$dr" "$cr")"
printf '| %-56s | %12s | %8s |\n' "queue shared memory, bytes ($slots x $qsize)" "$shm" ""
printf '| %-56s | %12s | %8s |\n' "bytes per queued event (this payload)" "$per" ""
printf '| %-56s | %12s | %8s |\n' "latency enqueue->visible p50, ms (flush_interval ${fi}ms)" "$p50" ""
printf '| %-56s | %12s | %8s |\n' "latency enqueue->visible p99, ms ($nlat events)" "$p99" ""
{
    echo "measure,value,ratio"
    echo "append_tps,$at,1.00"
    echo "enqueue_tps,$et,$(ratio "$et" "$at")"
    echo "copy_rows_per_s,$cr,1.00"
    echo "drain_events_per_s,$dr,$(ratio "$dr" "$cr")"
    echo "queue_shmem_bytes,$shm,"
    echo "bytes_per_event,$per,"
    echo "latency_p50_ms,$p50,"
    echo "latency_p99_ms,$p99,"
} > "$BENCH_OUT/queue.csv"
rm -rf "$dir"
