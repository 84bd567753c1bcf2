#!/usr/bin/env bash
# 70_scale — growing past one table and one machine (issue 7):
#  * append throughput with an empty log vs a log of 10M events (target: the
#    full log >= 0.8x the empty one): single-row evlog_append transactions,
#    pgbench, alternating rounds between two databases of the same server;
#  * pruning the oldest half of a 2M-event log with evlog_prune vs DELETE of
#    the same rows from an identical plain table (target <= 0.1x the time),
#    and the disk space each returns;
#  * logical replication lag at a sustained 5,000 events/s: a publisher and a
#    subscriber cluster on loopback, started here.
#  * append throughput with a log of 1,000 partitions vs one partition;
# BENCH_SCALE shrinks the 10M and 2M logs and the run times; SCALE_PARTS
# picks parts (default "appends partitions prune replication").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scale=${BENCH_SCALE:-1}
big=$(awk -v s="$scale" 'BEGIN { n = int(10000000 * s); print (n < 200000 ? 200000 : n) }')
prune_n=$(awk -v s="$scale" 'BEGIN { n = int(2000000 * s); print (n < 100000 ? 100000 : n) }')
secs=$(awk -v s="$scale" 'BEGIN { t = int(20 * s); print (t < 5 ? 5 : t) }')
repl_secs=$(awk -v s="$scale" 'BEGIN { t = int(60 * s); print (t < 15 ? 15 : t) }')
dir=$(mktemp -d)
csv="$BENCH_OUT/scale.csv"
echo "metric,value,unit" > "$csv"
row() { echo "$1,$2,$3" >> "$csv"; }
part_wanted() { case " ${SCALE_PARTS:-appends partitions prune replication} " in *" $1 "*) return 0 ;; esac; return 1; }

# compare_appends DB_A LABEL_A DB_B LABEL_B [OPTIONS]: single-row
# evlog_append transactions (pgbench -M prepared, 2 clients) into two
# databases of the server, 3 alternating rounds of $secs s; prints the
# table and leaves the medians in $med_a and $med_b
cat > "$dir/append.sql" <<'SQL'
\set h random(1, 256)
SELECT evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || :h, 'r1', '{"kind":"ProbeResult","probeName":"p","status":"pass","mode":"observe","observedAt":"2026-01-01T00:00:00Z"}');
SQL
# fresh_dbs DB...: each database made anew, with evlog
fresh_dbs() {
    for db in "$@"; do
        psql -X -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
        PGDATABASE=$db q "CREATE EXTENSION evlog"
    done
}
compare_appends() {
    local a=$1 label_a=$2 b=$3 label_b=$4 opts=${5:-}
    local -a ta tb
    tps() { PGDATABASE=$1 PGOPTIONS="$opts" pgbench -n -M prepared -c 2 -j 2 -T "$secs" -f "$dir/append.sql" 2>/dev/null \
              | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
    for round in 1 2 3; do
        ta+=("$(tps "$a")")
        tb+=("$(tps "$b")")
    done
    med_a=$(printf '%s\n' "${ta[@]}" | sort -n | sed -n 2p)
    med_b=$(printf '%s\n' "${tb[@]}" | sort -n | sed -n 2p)
    echo
    echo "append tps, 2 clients${opts:+, $opts}, single-row transactions, 3 alternating rounds of ${secs}s, median:"
    printf '| %-32s | %10s | %6s |\n' "log" "tps" "ratio"
    printf '| %-32s | %10.0f | %6s |\n' "$label_a" "$med_a" "1.00"
    printf '| %-32s | %10.0f | %6s |\n' "$label_b" "$med_b" "$(ratio "$med_b" "$med_a")"
    echo "(rounds: $label_a ${ta[*]}; $label_b ${tb[*]})"
}

# ---------------------------------------------------------------- appends
if part_wanted appends; then
fresh_dbs scale_empty scale_full
# the 10M-event log: partitions of 1M (the default), rows loaded with one
# INSERT ... SELECT as the owner (the derive trigger and indexes maintained
# as for appends), then the sequence moved past them
echo "loading $big events into scale_full ..."
t0=$(now_s)
PGDATABASE=scale_full q "SELECT evlog_create_partitions(upto => $big + 1000000)" >/dev/null
PGDATABASE=scale_full q "INSERT INTO evlog.event_log (seq, ts, kind, host_id, rollout_id, payload)
    SELECT i, '2026-01-01'::timestamptz + i * interval '10 ms', 'agent_event', 'host-' || i % 256, 'r' || i % 10,
           '{\"kind\":\"ProbeResult\",\"probeName\":\"p\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-01-01T00:00:00Z\"}'
      FROM generate_series(1, $big) i" >/dev/null
PGDATABASE=scale_full q "SELECT setval('evlog.event_log_seq_seq', $big)" >/dev/null
PGDATABASE=scale_full q "VACUUM ANALYZE evlog.event_log" >/dev/null
load_s=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }')
echo "loaded in ${load_s}s ($(PGDATABASE=scale_full q "SELECT count(*) FROM evlog.partitions") partitions)"

compare_appends scale_empty "empty" scale_full "$big events"
e=$med_a; f=$med_b
row append_tps_empty "$e" tps; row append_tps_full "$f" tps; row append_full_events "$big" events
row append_ratio_full_vs_empty "$(ratio "$f" "$e")" x
for db in scale_empty scale_full; do psql -X -q -c "DROP DATABASE $db" >/dev/null; done
fi

# ---------------------------------------------------------------- partitions
# A log kept long has many partitions (a month of 1,000 events/s is 2,600
# of the default million seqs): append throughput with nparts partitions of
# 1,000 seqs (a few rows each, the head in the last one) vs a log with one
# partition, alternating rounds between two databases of the same server,
# with synchronous_commit = off so that the appends' CPU, not the WAL
# flush, sets the pace.
# (The writer finds a seq's partition by a binary search of the bounds; a
# list of every partition built per append cost 80 instructions each.)
if part_wanted partitions; then
nparts=$(awk -v s="$scale" 'BEGIN { n = int(1000 * s); print (n < 200 ? 200 : n) }')
fresh_dbs scale_one scale_many
echo "creating $nparts partitions in scale_many ..."
t0=$(now_s)
for ((k = 64; k < nparts + 64; k += 64)); do
    PGDATABASE=scale_many PGOPTIONS="-c evlog.partition_size=1000" \
        q "SELECT evlog_create_partitions(upto => $(( (k < nparts ? k : nparts) * 1000 )))" >/dev/null
done
PGDATABASE=scale_many q "INSERT INTO evlog.event_log (seq, ts, kind, host_id, rollout_id, payload)
    SELECT i, '2026-01-01'::timestamptz + i * interval '1 s', 'agent_event', 'host-' || i % 256, 'r1', '{}'
      FROM generate_series(1, $(( (nparts - 1) * 1000 )), 100) i" >/dev/null
PGDATABASE=scale_many q "SELECT setval('evlog.event_log_seq_seq', $(( (nparts - 1) * 1000 )))" >/dev/null
echo "made in $(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }')s ($(PGDATABASE=scale_many q "SELECT count(*) FROM evlog.partitions") partitions)"
compare_appends scale_one "1 partition" scale_many "$nparts partitions" "-c synchronous_commit=off"
o=$med_a; m=$med_b
row append_tps_one_partition "$o" tps; row append_tps_many_partitions "$m" tps; row append_partitions "$nparts" partitions
row append_ratio_many_vs_one_partition "$(ratio "$m" "$o")" x
for db in scale_one scale_many; do psql -X -q -c "DROP DATABASE $db" >/dev/null; done
fi

# ---------------------------------------------------------------- pruning
# Two logs of prune_n events in partitions of prune_n/20, and the same rows
# in an identical plain table: events without an event_id, then every event
# with one (evlog_prune then also deletes one evlog.event_ids entry per
# pruned event).  The closed partitions' counts are taken first, as the
# partition worker does in the background while the log grows; that time is
# reported on its own line.  The time appenders wait is evlog_prune's ACCESS
# EXCLUSIVE part (its DEBUG1 message) plus the commit, which releases the
# partitions' files; the floor is a DROP TABLE of a plain table holding just
# the pruned rows, with the same indexes.
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
log_size() { q "SELECT coalesce(sum(pg_total_relation_size(partition)), 0) + pg_total_relation_size('evlog.event_ids') FROM evlog.partitions"; }
plain_size() { q "SELECT pg_total_relation_size('bench_plain_log')"; }
part=$(( prune_n / 20 ))
prune_case() {
    local label=$1 ids=$2 eid="NULL"
    [ "$ids" = yes ] && eid="'ev-' || i"
    psql -X -q -c "DROP DATABASE IF EXISTS scale_prune WITH (FORCE)" -c "CREATE DATABASE scale_prune" >/dev/null
    export PGDATABASE=scale_prune
    q "CREATE EXTENSION evlog"
    plain_log_table bench_plain_log
    echo
    echo "[$label] loading $prune_n events (partitions of $part) and the same rows into a plain table ..."
    PGOPTIONS="-c evlog.partition_size=$part" q "SELECT evlog_create_partitions(upto => $prune_n + $part)" >/dev/null
    local gen="SELECT i, '2026-01-01'::timestamptz + i * interval '1 second', 'agent_event', 'host-' || i % 256, 'r' || i % 10,
            '{\"kind\":\"ProbeResult\",\"probeName\":\"p\",\"status\":\"pass\",\"mode\":\"observe\",\"observedAt\":\"2026-01-01T00:00:00Z\"}'::jsonb,
            $eid FROM generate_series(1, $prune_n) i"
    q "INSERT INTO evlog.event_log (seq, ts, kind, host_id, rollout_id, payload, event_id) $gen" >/dev/null
    [ "$ids" = yes ] && q "INSERT INTO evlog.event_ids (event_id, seq) SELECT 'ev-' || i, i FROM generate_series(1, $prune_n) i" >/dev/null
    q "SELECT setval('evlog.event_log_seq_seq', $prune_n + $part)" >/dev/null
    q "INSERT INTO bench_plain_log (seq, ts, kind, host_id, rollout_id, payload, event_id) $gen" >/dev/null
    q "VACUUM ANALYZE" >/dev/null; q "CHECKPOINT" >/dev/null
    local t0 t_sum t_prune t_delete t_vacuum t_floor excl cut b_log b_plain a_log a_plain v_plain pruned deleted out
    t0=$(now_s)
    q "SELECT evlog_summarise_partitions()" >/dev/null
    t_sum=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }')
    cut=$(q "SELECT ('2026-01-01'::timestamptz + ($prune_n / 2 + 1) * interval '1 second')::text")
    b_log=$(log_size); b_plain=$(plain_size)

    # the floor: DROP TABLE of a plain table holding just the rows pruned,
    # with the same indexes (what giving that much disk back costs here)
    q "CREATE TABLE bench_drop_floor AS SELECT * FROM bench_plain_log WHERE ts < '$cut'" >/dev/null
    q "CREATE INDEX ON bench_drop_floor (seq); CREATE INDEX ON bench_drop_floor (host_id, ts);
       CREATE INDEX ON bench_drop_floor (rollout_id, seq); CREATE INDEX ON bench_drop_floor (kind, ts);
       CREATE INDEX ON bench_drop_floor USING brin (ts); CREATE INDEX ON bench_drop_floor (event_id)" >/dev/null
    q "CHECKPOINT" >/dev/null
    t0=$(now_s)
    q "DROP TABLE bench_drop_floor" >/dev/null
    t_floor=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }')

    t0=$(now_s)
    out=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
SET client_min_messages = debug1;
\\timing on
BEGIN;
SELECT evlog_prune('$cut');
COMMIT;
SQL
)
    t_prune=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }')
    pruned=$(echo "$out" | grep -E '^[0-9]+$' | tail -1)
    local ae commit_ms
    ae=$(echo "$out" | sed -n 's/.*then \([0-9.]*\) ms holding ACCESS EXCLUSIVE.*/\1/p' | tail -1)
    commit_ms=$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
    excl=$(awk -v a="$ae" -v c="$commit_ms" 'BEGIN { printf "%.1f", a + c }')
    t0=$(now_s)
    psql -X -q -At -v ON_ERROR_STOP=1 -c "DELETE FROM bench_plain_log WHERE ts < '$cut'" >/dev/null
    t_delete=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }')
    deleted=$(q "SELECT $prune_n - count(*) FROM bench_plain_log")
    a_log=$(log_size); a_plain=$(plain_size)
    t0=$(now_s)
    q "VACUUM bench_plain_log" >/dev/null
    t_vacuum=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.3f", b - a }')
    v_plain=$(plain_size)

    echo "[$label] pruning the oldest half ($pruned events by evlog_prune, $deleted by DELETE):"
    printf '| %-48s | %9s | %6s | %16s |\n' "method" "seconds" "ratio" "space returned"
    printf '| %-48s | %9s | %6s | %13s MB |\n' "DELETE from an identical plain table" "$t_delete" "1.00" "$(mb $(( b_plain - a_plain )))"
    printf '| %-48s | %9s | %6s | %13s MB |\n' "  ... then VACUUM" "$t_vacuum" "" "$(mb $(( b_plain - v_plain )))"
    printf '| %-48s | %9s | %6s | %13s MB |\n' "evlog_prune" "$t_prune" "$(ratio "$t_prune" "$t_delete")" "$(mb $(( b_log - a_log )))"
    printf '| %-48s | %9s | %6s | %16s |\n' "  of which appenders waited (ACCESS EXCLUSIVE)" "$(awk -v m="$excl" 'BEGIN { printf "%.3f", m / 1000 }')" "$(ratio "$(awk -v m="$excl" 'BEGIN { print m / 1000 }')" "$t_delete")" ""
    printf '| %-48s | %9s | %6s | %16s |\n' "    of which the commit (releasing the files)" "$(awk -v m="$commit_ms" 'BEGIN { printf "%.3f", m / 1000 }')" "" ""
    printf '| %-48s | %9s | %6s | %16s |\n' "floor: DROP TABLE of the same rows and indexes" "$t_floor" "$(ratio "$t_floor" "$t_delete")" ""
    printf '| %-48s | %9s | %6s | %16s |\n' "summarising 20 closed partitions (background)" "$t_sum" "" ""
    row "prune_${label}_events" "$pruned" events; row "prune_${label}_seconds" "$t_prune" s
    row "prune_${label}_exclusive_ms" "$excl" ms; row "prune_${label}_commit_ms" "$commit_ms" ms
    row "drop_table_${label}_floor_seconds" "$t_floor" s; row "prune_${label}_summarise_seconds" "$t_sum" s
    row "delete_${label}_seconds" "$t_delete" s; row "prune_${label}_ratio_vs_delete" "$(ratio "$t_prune" "$t_delete")" x
    row "vacuum_${label}_after_delete_seconds" "$t_vacuum" s
    row "prune_${label}_space_returned_mb" "$(mb $(( b_log - a_log )))" MB
    row "delete_${label}_space_returned_mb" "$(mb $(( b_plain - a_plain )))" MB
    row "delete_${label}_vacuum_space_returned_mb" "$(mb $(( b_plain - v_plain )))" MB
    unset PGDATABASE
    psql -X -q -c "DROP DATABASE scale_prune WITH (FORCE)" >/dev/null
}
if part_wanted prune; then
    prune_case no_event_ids no
    prune_case event_ids yes
fi

# ---------------------------------------------------------------- replication
part_wanted replication || { rm -rf "$dir"; echo "CSV: $csv"; exit 0; }
base=$(dirname "$BENCH_DATA")/repl
rm -rf "$base"; mkdir -p "$base"
start_cluster() {
    local name=$1 port=$2
    initdb -D "$base/$name" -A trust >/dev/null
    cat >> "$base/$name/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
wal_level = logical
shared_buffers = 256MB
max_wal_size = 4GB
synchronous_commit = off
CONF
    pg_ctl -D "$base/$name" -l "$base/$name.log" -w start >/dev/null
}
start_cluster pub 55441
start_cluster sub 55442
trap 'pg_ctl -D "$base/pub" -m fast stop >/dev/null 2>&1; pg_ctl -D "$base/sub" -m fast stop >/dev/null 2>&1' EXIT
P() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -d postgres -c "$2"; }
P 55441 "CREATE EXTENSION evlog" >/dev/null
P 55441 "CREATE PUBLICATION evlog_pub FOR TABLE evlog.event_log, evlog.watermark WITH (publish_via_partition_root = true)" >/dev/null
P 55441 "SELECT evlog_append('plan_action', now(), NULL, NULL, '{}')" >/dev/null
P 55441 "SELECT evlog_publish_watermark()" >/dev/null
P 55442 "CREATE EXTENSION evlog" >/dev/null
P 55442 "SELECT evlog_create_partitions(upto => $(P 55441 'SELECT partition_top FROM evlog.watermark'))" >/dev/null
P 55442 "CREATE SUBSCRIPTION evlog_sub CONNECTION 'host=127.0.0.1 port=55441 dbname=postgres' PUBLICATION evlog_pub" >/dev/null
for _ in $(seq 1 60); do
    [ "$(P 55442 "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ] && break; sleep 1
done

rate=5000
echo
echo "replication: pgbench at $rate appends/s for ${repl_secs}s on the publisher, watermark every second ..."
( while sleep 1; do P 55441 "SELECT evlog_publish_watermark()" >/dev/null 2>&1 || true; done ) &
wm_pid=$!
: > "$dir/lag.txt"
( while sleep 0.5; do
      P 55441 "SELECT coalesce(extract(epoch FROM replay_lag), 0), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)
                 FROM pg_stat_replication WHERE application_name = 'evlog_sub'" >> "$dir/lag.txt" 2>/dev/null || true
  done ) &
lag_pid=$!
out=$(pgbench -n -M prepared -h 127.0.0.1 -p 55441 -c 4 -j 2 -R "$rate" -T "$repl_secs" -f "$dir/append.sql" postgres 2>&1)
achieved=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
late=$(echo "$out" | sed -n 's/^number of transactions skipped.*//p; s/.*rate limit schedule lag: avg \([0-9.]*\).*/\1/p' | head -1)
# catch-up: from the end of the load until the subscriber's consumer-visible
# horizon (evlog_safe_seq under the watermark) reaches the publisher's head
head=$(P 55441 "SELECT evlog_last_seq()")
P 55441 "SELECT evlog_publish_watermark()" >/dev/null
t0=$(now_s)
for _ in $(seq 1 2400); do
    [ "$(P 55442 "SELECT evlog_safe_seq() >= $head" 2>/dev/null)" = t ] && break; sleep 0.05
done
catchup=$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }')
kill "$wm_pid" "$lag_pid" 2>/dev/null || true
wait "$wm_pid" "$lag_pid" 2>/dev/null || true
lag_med=$(awk -F'|' 'NF == 2 { print $1 }' "$dir/lag.txt" | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int((NR + 1) / 2)]; else print "n/a" }')
lag_max=$(awk -F'|' 'NF == 2 { print $1 }' "$dir/lag.txt" | sort -g | tail -1)
bytes_max=$(awk -F'|' 'NF == 2 { print $2 }' "$dir/lag.txt" | sort -g | tail -1 | awk '{ printf "%.0f", $1 / 1024 }')
same=$( [ "$(P 55441 "SELECT count(*) || ':' || max(seq) FROM evlog.event_log")" = "$(P 55442 "SELECT count(*) || ':' || max(seq) FROM evlog.event_log")" ] && echo yes || echo no)
verify=$(P 55442 "SELECT count(*) FROM evlog_verify('all')")
echo "| measure | figure |"
echo "| --- | --- |"
echo "| appends/s achieved (target $rate) | $achieved |"
echo "| replay_lag, median / max (s) | $lag_med / $lag_max |"
echo "| WAL not yet replayed, max (kB) | $bytes_max |"
echo "| end of load -> subscriber's evlog_safe_seq at the head (s) | $catchup |"
echo "| same log on both sides / evlog_verify('all') differences on the subscriber | $same / $verify |"
row repl_rate_target "$rate" events/s; row repl_rate_achieved "$achieved" events/s
row repl_replay_lag_median "$lag_med" s; row repl_replay_lag_max "$lag_max" s
row repl_unreplayed_wal_max "$bytes_max" kB; row repl_catchup_to_safe_seq "$catchup" s
row repl_same_log "$same" bool; row repl_subscriber_verify_differences "$verify" rows
pg_ctl -D "$base/pub" -m fast stop >/dev/null; pg_ctl -D "$base/sub" -m fast stop >/dev/null
trap - EXIT
rm -rf "$base" "$dir"
echo "CSV: $csv"
