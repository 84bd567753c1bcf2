#!/usr/bin/env bash
# 45_notify — push latency: from an appender's COMMIT returning to a
# LISTEN evlog consumer holding the row (woken by the notification, it
# reads evlog_read(last, ...)).  Targets: p50 <= 2 ms, p99 <= 20 ms.
#
# With evlog preloaded (run.sh) the notification comes from the database's
# notifier process after the commit (notify.c).  Measured idle (one
# appender, one event every 5 ms) and under load (the same while pgbench
# appends with 2 clients).  Both ends run on this machine, on one clock.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { v = int(1000 * s); print (v < 100 ? 100 : v) }')
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS evlog"

cat > "$dir/latency.py" <<'PY'
import os, select, sys, threading, time
import psycopg2

n = int(sys.argv[1])
dsn = ""
committed = {}
have = {}
done = threading.Event()

def consumer(ready):
    c = psycopg2.connect(dsn)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT coalesce(max(seq), 0) FROM evlog.event_log")
    last = cur.fetchone()[0]
    cur.execute("LISTEN evlog")
    ready.set()
    while not done.is_set():
        if select.select([c], [], [], 0.1) == ([], [], []):
            continue
        c.poll()
        if not c.notifies:
            continue
        del c.notifies[:]
        while True:
            cur.execute("SELECT seq FROM evlog_read(%s, 10000)", (last,))
            got = [r[0] for r in cur.fetchall()]
            if not got:
                break
            t = time.perf_counter()
            for s in got:
                have[s] = t
            last = got[-1]

ready = threading.Event()
th = threading.Thread(target=consumer, args=(ready,))
th.start()
ready.wait()
p = psycopg2.connect(dsn)
p.autocommit = True
cur = p.cursor()
cur.execute("PREPARE a AS SELECT evlog_append('agent_event', now(), 'lat', NULL, '{\"n\":1}')")
mine = []
for i in range(n):
    cur.execute("EXECUTE a")
    s = cur.fetchone()[0]
    committed[s] = time.perf_counter()
    mine.append(s)
    time.sleep(0.005)
deadline = time.time() + 10
while time.time() < deadline and not all(s in have for s in mine):
    time.sleep(0.01)
done.set()
th.join()
lat = sorted((have[s] - committed[s]) * 1000 for s in mine if s in have)
missing = sum(1 for s in mine if s not in have)
def pct(q):
    return lat[min(len(lat) - 1, int(q * len(lat)))]
print("%d %.3f %.3f %.3f %d" % (len(lat), pct(0.5), pct(0.99), lat[-1], missing))
PY

cat > "$dir/load.sql" <<'SQL'
\set h random(1, 256)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'r1', '{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-05-16T01:00:00Z"}');
SQL
notifier=$(q "SELECT count(*) FROM pg_shmem_allocations WHERE name = 'evlog notifier'")
echo "commit -> LISTENing consumer holds the row, $n events one every 5 ms, ms (notifier: $([ "$notifier" = 1 ] && echo yes || echo 'no: appenders NOTIFY themselves')):"
printf '| %-30s | %8s | %8s | %8s | %8s |\n' "condition" "p50" "p99" "max" "missing"
printf '|--------------------------------|----------|----------|----------|----------|\n'
{ echo "condition,events,p50_ms,p99_ms,max_ms,missing"; } > "$BENCH_OUT/notify_latency.csv"
run() {
    local name=$1 out
    out=$(/usr/bin/python3 "$dir/latency.py" "$n")
    read -r cnt p50 p99 mx miss <<<"$out"
    printf '| %-30s | %8s | %8s | %8s | %8s |\n' "$name" "$p50" "$p99" "$mx" "$miss"
    echo "$name,$cnt,$p50,$p99,$mx,$miss" >> "$BENCH_OUT/notify_latency.csv"
}
run "idle server"
secs=$(awk -v n="$n" 'BEGIN { print int(n * 0.006) + 5 }')
pgbench -n -M prepared -c 2 -j 2 -T "$secs" -f "$dir/load.sql" >/dev/null 2>&1 &
bg=$!
sleep 1
run "pgbench appending, 2 clients"
wait "$bg" || true
echo "targets: p50 <= 2 ms, p99 <= 20 ms"
