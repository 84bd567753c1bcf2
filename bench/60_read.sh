#!/usr/bin/env bash
# 60_read — late-commit-safe reading (issue 6):
#  * append throughput at 1, 2, 4 and 8 writers with in-flight tracking on vs
#    off (evlog.track_inflight, reloaded between runs), synchronous_commit off so
#    the bookkeeping's CPU cost is not hidden behind WAL flushes;
#  * latency of evlog_read returning 1,000 rows (median, p99);
#  * time from an appender's COMMIT to a LISTENing consumer holding the row.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

secs=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { t = int(15 * s); print (t < 3 ? 3 : t) }')
dir=$(mktemp -d)
q "CREATE EXTENSION IF NOT EXISTS evlog"
cat > "$dir/append.sql" <<'SQL'
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :client_id, 'r1', '{"kind":"DispatchAck","n":1}');
SQL
tps() { PGOPTIONS="-c synchronous_commit=off ${2:-}" pgbench -n -M prepared -c "$1" -j "$(( $1 < 2 ? 1 : 2 ))" -T "$secs" \
          -f "$dir/append.sql" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
tracking() { psql -X -q -v ON_ERROR_STOP=1 -c "LOAD 'evlog'" -c "ALTER SYSTEM SET evlog.track_inflight = $1" \
                -c "SELECT pg_reload_conf()" >/dev/null; sleep 1; }

echo "append tps (single-row transactions, synchronous_commit=off, ${secs}s each):"
printf '| %-7s | %12s | %13s | %6s | %24s |\n' writers "tracking on" "tracking off" "on/off" "tracking on, notify off"
echo "writers,tps_tracking_on,tps_tracking_off,ratio,tps_tracking_on_notify_off" > "$BENCH_OUT/read_tracking.csv"
for c in 1 2 4 8; do
    tracking on;  on=$(tps "$c"); quiet=$(tps "$c" "-c evlog.notify=off")
    tracking off; off=$(tps "$c")
    printf '| %-7s | %12.0f | %13.0f | %6s | %24.0f |\n' "$c" "$on" "$off" "$(ratio "$on" "$off")" "$quiet"
    echo "$c,$on,$off,$(ratio "$on" "$off"),$quiet" >> "$BENCH_OUT/read_tracking.csv"
done
tracking on
psql -X -q -c "LOAD 'evlog'" -c "ALTER SYSTEM RESET evlog.track_inflight" -c "SELECT pg_reload_conf()" >/dev/null

# evlog_read of 1,000 rows from random positions in a 200k-event log
rows=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { n = int(200000 * s); print (n < 20000 ? 20000 : n) }')
q "SELECT count(*) FROM (SELECT evlog_append('effect', '2026-05-16 01:00:00+00', 'h' || i % 50, 'r' || i % 7,
     json_build_object('effect', 'Noop', 'i', i)::text) FROM generate_series(1, $rows) i) s" >/dev/null
last=$(q "SELECT evlog_last_seq()")
cat > "$dir/read.sql" <<SQL
\set pos random(1, $last - 1000)
SELECT count(*) FROM evlog_read(:pos, 1000);
SQL
(cd "$dir" && pgbench -n -M prepared -c 1 -T "$secs" -f read.sql --log --log-prefix=read >/dev/null 2>&1)
read_stats=$(cat "$dir"/read.* | awk '{ print $3 / 1000.0 }' | sort -n | awk '{ a[NR] = $1 } END {
    printf "%.3f %.3f %d", a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1], NR }')
set -- $read_stats
echo
echo "evlog_read(pos, 1000): median $1 ms, p99 $2 ms over $3 calls"
echo "metric,median_ms,p99_ms,samples" > "$BENCH_OUT/read_latency.csv"
echo "evlog_read_1000,$1,$2,$3" >> "$BENCH_OUT/read_latency.csv"

# commit -> consumer holding the row through LISTEN/NOTIFY
python3 - "$BENCH_OUT/read_latency.csv" <<'PY'
import select, statistics, sys, time
import psycopg2
w = psycopg2.connect(""); l = psycopg2.connect("")
l.autocommit = True
cur_l = l.cursor(); cur_w = w.cursor()
cur_l.execute("LISTEN evlog")
cur_l.execute("SELECT evlog_safe_seq()"); pos = cur_l.fetchone()[0]
lat = []
for i in range(300):
    cur_w.execute("SELECT evlog_append('agent_event', now(), 'notify', NULL, %s)", ('{"i":%d}' % i,))
    t0 = time.perf_counter()
    w.commit()
    got = False
    while not got:
        if not l.notifies:
            select.select([l], [], [], 5)
            l.poll()
        while l.notifies:
            l.notifies.pop(0)
            cur_l.execute("SELECT seq FROM evlog_read(%s, 100)", (pos,))
            for (seq,) in cur_l.fetchall():
                pos = seq; got = True
    lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
med, p99 = statistics.median(lat), lat[int(len(lat) * 0.99)]
print("commit -> row in consumer via NOTIFY + evlog_read: median %.3f ms, p99 %.3f ms over %d events" % (med, p99, len(lat)))
open(sys.argv[1], "a").write("notify_to_row,%.3f,%.3f,%d\n" % (med, p99, len(lat)))
PY
rm -rf "$dir"
