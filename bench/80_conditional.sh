#!/usr/bin/env bash
# 80_conditional — the cost of a conditional append (expected_seq): a
# read-then-write client reads its stream's head, then appends either
# unconditionally or expecting that head.  Same server, same run, alternating
# rounds so drift hits both; each client writes its own rollout stream, so
# no append is refused (pgbench would stop the client on an error).  The
# bare unconditional append is shown for reference.  Then both again on a
# log of many partitions (COND_PARTS).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

secs=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { t = int(20 * s); print (t < 3 ? 3 : t) }')
clients=${BENCH_CLIENTS:-2}
q "CREATE EXTENSION IF NOT EXISTS evlog"

dir=$(mktemp -d)
payload='{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-05-16T01:00:00Z"}'
cat > "$dir/bare.sql" <<SQL
\set h random(1, 256)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'bench-r-' || :client_id, '$payload');
SQL
cat > "$dir/uncond.sql" <<SQL
\set h random(1, 256)
BEGIN;
SELECT evlog_stream_head('rollout', 'bench-r-' || :client_id) AS head \gset
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'bench-r-' || :client_id, '$payload');
COMMIT;
SQL
cat > "$dir/cond.sql" <<SQL
\set h random(1, 256)
BEGIN;
SELECT evlog_stream_head('rollout', 'bench-r-' || :client_id) AS head \gset
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'bench-r-' || :client_id, '$payload', 'rollout', :head);
COMMIT;
SQL

tps() {
    local t
    t=$(pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" -f "$1" 2>"$dir/err" \
          | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    [ -n "$t" ] || { echo "pgbench failed:" >&2; cat "$dir/err" >&2; exit 1; }
    echo "$t"
}
declare -a b u c
for round in 1 2 3; do
    u+=("$(tps "$dir/uncond.sql")")
    c+=("$(tps "$dir/cond.sql")")
    b+=("$(tps "$dir/bare.sql")")
done
med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
bi=$(med "${b[@]}"); ui=$(med "${u[@]}"); ci=$(med "${c[@]}")
echo "read head + append transactions, $clients clients, 3 x ${secs}s each, median tps:"
printf '| %-36s | %10s | %6s |\n' "path" "tps" "ratio"
printf '| %-36s | %10s | %6s |\n' "head + unconditional evlog_append" "$ui" "1.00"
printf '| %-36s | %10s | %6s |\n' "head + conditional evlog_append" "$ci" "$(ratio "$ci" "$ui")"
printf '| %-36s | %10s | %6s |\n' "bare unconditional (reference)" "$bi" "$(ratio "$bi" "$ui")"
{ echo "path,tps,ratio_vs_unconditional"; echo "unconditional,$ui,1.00"; echo "conditional,$ci,$(ratio "$ci" "$ui")";
  echo "bare_unconditional,$bi,$(ratio "$bi" "$ui")"; } \
    > "$BENCH_OUT/conditional_append.csv"
# every conditional append succeeded: each client's stream is its own
q "SELECT count(*) FROM evlog.event_log WHERE rollout_id LIKE 'bench-r-%'" >/dev/null

# The same two transactions on a log of many partitions (COND_PARTS, 500 by
# default; a month at 1,000 events/s is 2,600 of the default size), the
# sequence near the top as on a log in use: the head and the check look in
# the partitions newest first, so an active stream is found at once.
nparts=${COND_PARTS:-500}
PGOPTIONS="-c client_min_messages=warning" psql -X -q -c "DROP DATABASE IF EXISTS cond_many WITH (FORCE)" -c "CREATE DATABASE cond_many" >/dev/null
PGDATABASE=cond_many q "CREATE EXTENSION evlog"
for ((k = 64; k < nparts + 64; k += 64)); do
    PGDATABASE=cond_many PGOPTIONS="-c evlog.partition_size=1000" \
        q "SELECT evlog_create_partitions(upto => $(( (k < nparts ? k : nparts) * 1000 )))" >/dev/null
done
PGDATABASE=cond_many q "SELECT setval('evlog.event_log_seq_seq', $(( (nparts - 2) * 1000 )))" >/dev/null
declare -a mu mc
for round in 1 2 3; do
    mu+=("$(PGDATABASE=cond_many tps "$dir/uncond.sql")")
    mc+=("$(PGDATABASE=cond_many tps "$dir/cond.sql")")
done
mui=$(med "${mu[@]}"); mci=$(med "${mc[@]}")
echo
echo "the same on a log of $(PGDATABASE=cond_many q "SELECT count(*) FROM evlog.partitions") partitions, median tps:"
printf '| %-36s | %10s | %6s |\n' "path" "tps" "vs 1 partition"
printf '| %-36s | %10s | %6s |\n' "head + unconditional evlog_append" "$mui" "$(ratio "$mui" "$ui")"
printf '| %-36s | %10s | %6s |\n' "head + conditional evlog_append" "$mci" "$(ratio "$mci" "$ci")"
{ echo "unconditional_${nparts}_partitions,$mui,$(ratio "$mui" "$ui")"; echo "conditional_${nparts}_partitions,$mci,$(ratio "$mci" "$ci")"; } \
    >> "$BENCH_OUT/conditional_append.csv"
psql -X -q -c "DROP DATABASE cond_many WITH (FORCE)" >/dev/null
rm -rf "$dir"
