#!/usr/bin/env bash
# 10_append — single-row transactions: evlog_append() vs a prepared plain
# INSERT into a table of identical shape and indexes, and vs PgQ's
# pgq.insert_event (targets: evlog_append with default settings >= 1.0x the
# plain INSERT and >= 1.1x pgq.insert_event).  pgbench -M prepared, one
# server, 2 and 8 clients, synchronous_commit on and off; within each of
# the four settings the three paths run in alternating rounds (3 rounds,
# median) so that drift on a shared machine hits all three.
#
# Two payload modes.  "constant": the payload is a literal of the
# prepared statement, so the plain INSERT's jsonb column gets it parsed
# once, at PREPARE, while evlog_append (text payload) parses and checks it
# at every call.  "varying": every event's payload differs (its probe name
# carries a random number), as in real traffic, so every path receives it
# as text at every call: the INSERT parses it into jsonb, evlog_append
# parses and checks it, PgQ stores it as text unparsed.
#
# Env: BENCH_SCALE (round length 8 s at 1), BENCH_APPEND_CLIENTS (default
# "2 8"), BENCH_APPEND_PAYLOADS (default "constant varying").  Output: a
# markdown table, $BENCH_OUT/append_vs_insert.csv.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

secs=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN { t = int(8 * s); print (t < 3 ? 3 : t) }')
client_list=${BENCH_APPEND_CLIENTS:-2 8}
q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS evlog; CREATE EXTENSION IF NOT EXISTS pgq"
q "SELECT pgq.create_queue('bench_append_q')" >/dev/null
plain_log_table bench_plain_log
plain_log_table bench_plain_log7 log

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
payload='{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-05-16T01:00:00Z"}'
varying="'{\"kind\":\"ProbeResult\",\"probeName\":\"p' || :n || '\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-05-16T01:00:00Z\"}'"
# write_scripts MODE: the three pgbench scripts for a payload mode
write_scripts() {
    local p
    if [ "$1" = constant ]; then p="'$payload'"; else p="$varying"; fi
    cat > "$dir/evlog.sql" <<SQL
\set h random(1, 256)
\set n random(1, 1000000000)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'r1', $p);
SQL
    for t in bench_plain_log bench_plain_log7; do
        cat > "$dir/$t.sql" <<SQL
\set h random(1, 256)
\set n random(1, 1000000000)
INSERT INTO $t (ts, kind, host_id, rollout_id, payload) VALUES ('2026-05-16 01:00:00+00', 'agent_event', 'host-' || :h, 'r1', ($p)::jsonb);
SQL
    done
    # PgQ's event has no host or rollout column: the host goes into ev_extra1
    cat > "$dir/pgq.sql" <<SQL
\set h random(1, 256)
\set n random(1, 1000000000)
SELECT pgq.insert_event('bench_append_q', 'agent_event', $p, 'host-' || :h, 'r1', NULL, NULL);
SQL
}

tps() {
    local clients=$1 sync=$2 f=$3 t
    t=$(PGOPTIONS="-c synchronous_commit=$sync" \
        pgbench -n -M prepared -c "$clients" -j "$clients" -T "$secs" -f "$f" 2>"$dir/err" \
          | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    [ -n "$t" ] || { echo "pgbench failed:" >&2; cat "$dir/err" >&2; exit 1; }
    echo "$t"
}
med() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

echo "path,payload,clients,synchronous_commit,tps,ratio_vs_insert,evlog_vs_path" > "$BENCH_OUT/append_vs_insert.csv"
echo "single-row transactions, pgbench -M prepared, 3 alternating rounds x ${secs}s per path, median tps;"
echo "INSERT: the targets' baseline table; INSERT-L: the same columns with the log's own indexes (1.5):"
printf '| %-8s | %-7s | %-6s | %8s | %8s | %8s | %8s | %-14s | %-12s | %-14s |\n' payload clients sync "INSERT" "INSERT-L" "evlog" "PgQ" "evlog/INSERT" "evlog/INSERT-L" "evlog/PgQ"
printf '|----------|---------|--------|----------|----------|----------|----------|----------------|--------------|----------------|\n'
for mode in ${BENCH_APPEND_PAYLOADS:-constant varying}; do
    write_scripts "$mode"
    for clients in $client_list; do
        for sync in on off; do
            declare -a e=() i=() i7=() p=()
            for round in 1 2 3; do
                i+=("$(tps "$clients" "$sync" "$dir/bench_plain_log.sql")")
                e+=("$(tps "$clients" "$sync" "$dir/evlog.sql")")
                i7+=("$(tps "$clients" "$sync" "$dir/bench_plain_log7.sql")")
                p+=("$(tps "$clients" "$sync" "$dir/pgq.sql")")
            done
            ii=$(med "${i[@]}"); ei=$(med "${e[@]}"); i7i=$(med "${i7[@]}"); pi=$(med "${p[@]}")
            printf '| %-8s | %-7s | %-6s | %8.0f | %8.0f | %8.0f | %8.0f | %-14s | %-12s | %-14s |\n' "$mode" "$clients" "$sync" "$ii" "$i7i" "$ei" "$pi" \
                "$(ratio "$ei" "$ii")x (>= 1.0)" "$(ratio "$ei" "$i7i")x" "$(ratio "$ei" "$pi")x (>= 1.1)"
            { echo "plain_insert,$mode,$clients,$sync,$ii,1.00,$(ratio "$ei" "$ii")"
              echo "plain_insert_log_indexes,$mode,$clients,$sync,$i7i,$(ratio "$i7i" "$ii"),$(ratio "$ei" "$i7i")"
              echo "evlog_append,$mode,$clients,$sync,$ei,$(ratio "$ei" "$ii"),1.00"
              echo "pgq_insert_event,$mode,$clients,$sync,$pi,$(ratio "$pi" "$ii"),$(ratio "$ei" "$pi")"; } \
                >> "$BENCH_OUT/append_vs_insert.csv"
            echo "  $mode, $clients clients, synchronous_commit=$sync: insert ${i[*]} | insert7 ${i7[*]} | evlog ${e[*]} | pgq ${p[*]}" >&2
        done
    done
done
