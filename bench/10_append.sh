#!/usr/bin/env bash
# 10_append — single-row transactions: evlog_append() vs a prepared plain
# INSERT into a table of identical shape and indexes (issue 2's target:
# evlog_append >= 1.0x the plain INSERT).  pgbench, -M prepared, same server,
# alternating runs so drift hits both equally.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

secs=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { t = int(20 * s); print (t < 3 ? 3 : t) }')
clients=${BENCH_CLIENTS:-2}
q "CREATE EXTENSION IF NOT EXISTS evlog"
plain_log_table bench_plain_log

dir=$(mktemp -d)
cat > "$dir/evlog.sql" <<'SQL'
\set h random(1, 256)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'r1', '{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-05-16T01:00:00Z"}');
SQL
cat > "$dir/insert.sql" <<'SQL'
\set h random(1, 256)
INSERT INTO bench_plain_log (ts, kind, host_id, rollout_id, payload) VALUES ('2026-05-16 01:00:00+00', 'agent_event', 'host-' || :h, 'r1', '{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-05-16T01:00:00Z"}');
SQL

tps() {
    local t
    t=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" -f "$1" 2>"$dir/err" \
          | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    [ -n "$t" ] || { echo "pgbench failed:" >&2; cat "$dir/err" >&2; exit 1; }
    echo "$t"
}
declare -a e i n
for round in 1 2 3; do
    i+=("$(tps "$dir/insert.sql")")
    e+=("$(tps "$dir/evlog.sql")")
    n+=("$(PGOPTIONS='-c evlog.notify=off' tps "$dir/evlog.sql")")
done
med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
ei=$(med "${e[@]}"); ii=$(med "${i[@]}"); ni=$(med "${n[@]}")
echo "single-row transactions, $clients clients, 3 x ${secs}s each, median tps:"
printf '| %-28s | %10s | %6s |\n' "path" "tps" "ratio"
printf '| %-28s | %10s | %6s |\n' "prepared plain INSERT" "$ii" "1.00"
printf '| %-28s | %10s | %6s |\n' "evlog_append (text payload)" "$ei" "$(ratio "$ei" "$ii")"
printf '| %-28s | %10s | %6s |\n' "evlog_append, notify off" "$ni" "$(ratio "$ni" "$ii")"
{ echo "path,tps,ratio_vs_insert"; echo "plain_insert,$ii,1.00"; echo "evlog_append,$ei,$(ratio "$ei" "$ii")";
  echo "evlog_append_notify_off,$ni,$(ratio "$ni" "$ii")"; } \
    > "$BENCH_OUT/append_vs_insert.csv"
rm -rf "$dir"
