#!/usr/bin/env bash
# 30_derived — cost of the derived tables (issue 4), evlog and baseline in the
# same run, printed as a markdown table and written to $BENCH_OUT/derived.csv:
#
#   1. append throughput of events that feed no derived table, many rows per
#      transaction, with the derive trigger enabled vs disabled (target: <= 5%
#      overhead);
#   2. cost per ProbeResult event (one enforce-mode failure each), trigger
#      enabled vs disabled;
#   3. evlog_rebuild('probe_failures') over a 1,000,000-event log with 10%
#      failing probes vs the set-based SQL equivalent (INSERT ... SELECT over
#      jsonb_array_elements into a table of the same shape, foreign key and
#      indexes included) (target: rebuild at least as fast), from an empty
#      table, and again for an already consistent table.
#
# BENCH_SCALE shrinks every size (0.1 = a quick run).  Runs in its own
# database so earlier pieces' events do not change the log being rebuilt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scale=${BENCH_SCALE:-1}
sz() { awk -v n="$1" -v s="$scale" 'BEGIN { v = int(n * s); print (v < 1000 ? 1000 : v) }'; }
n_append=$(sz 100000)
n_probe=$(sz 100000)
n_log=$(sz 1000000)
rounds=5

export PGDATABASE=bench_derived
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS bench_derived" >/dev/null
psql -X -q -d postgres -c "CREATE DATABASE bench_derived" >/dev/null
q "CREATE EXTENSION evlog"
# steadier timings: no autovacuum of the growing log mid-run, and a
# checkpoint before each timed statement (see time_sql)
log_autovacuum_off 20000000

# time_sql SQL: wall-clock seconds of one statement
time_sql() { local t0 t1; q "CHECKPOINT"; t0=$(now_s); q "$1" >/dev/null; t1=$(now_s); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }'; }
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
# fastest run: on a shared machine, other load only ever adds time
best() { printf '%s\n' "$@" | sort -n | head -1; }
trigger() { q "ALTER TABLE evlog.event_log $1 TRIGGER event_log_derive"; }

nomatch_sql="SELECT count(evlog_append('plan_action', '2026-05-16 01:00:00+00', 'host-' || (i % 256), 'r1',
    '{\"action\":\"QueueDispatch\",\"host\":\"h\",\"target_closure\":\"abc\"}')) FROM generate_series(1, $n_append) i"
probe_sql="SELECT count(evlog_append('agent_event', '2026-05-16 01:00:00+00', 'host-' || (i % 256), 'r1',
    '{\"kind\":\"ProbeResult\",\"probeName\":\"evidence\",\"mode\":\"enforce\",\"status\":\"fail\",\"observedAt\":\"2026-05-16T01:00:00Z\",
      \"subResults\":[{\"controlId\":\"c1\",\"status\":\"fail\",\"framework\":\"fw\",\"effectiveMode\":\"enforce\"},
                      {\"controlId\":\"c2\",\"status\":\"pass\",\"framework\":\"fw\",\"effectiveMode\":\"enforce\"}]}')) FROM generate_series(1, $n_probe) i"

# warm up caches and plans once each way
q "$nomatch_sql" >/dev/null; trigger DISABLE; q "$nomatch_sql" >/dev/null; trigger "ENABLE ALWAYS"

declare -a on off pon poff
for r in $(seq $((rounds + 2))); do
    trigger DISABLE;        off+=("$(time_sql "$nomatch_sql")")
    trigger "ENABLE ALWAYS"; on+=("$(time_sql "$nomatch_sql")")
    trigger DISABLE;        poff+=("$(time_sql "$probe_sql")")
    trigger "ENABLE ALWAYS"; pon+=("$(time_sql "$probe_sql")")
done
t_on=$(best "${on[@]}"); t_off=$(best "${off[@]}")
p_on=$(best "${pon[@]}"); p_off=$(best "${poff[@]}")
rate_on=$(awk -v n="$n_append" -v t="$t_on" 'BEGIN { printf "%.0f", n / t }')
rate_off=$(awk -v n="$n_append" -v t="$t_off" 'BEGIN { printf "%.0f", n / t }')
overhead=$(awk -v a="$t_on" -v b="$t_off" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')
us_on=$(awk -v n="$n_probe" -v t="$p_on" 'BEGIN { printf "%.2f", t / n * 1e6 }')
us_off=$(awk -v n="$n_probe" -v t="$p_off" 'BEGIN { printf "%.2f", t / n * 1e6 }')
us_delta=$(awk -v a="$us_on" -v b="$us_off" 'BEGIN { printf "%.2f", a - b }')

# ---- rebuild: a fresh log of n_log events, 10% failing probes
psql -X -q -d postgres -c "DROP DATABASE bench_derived" >/dev/null
psql -X -q -d postgres -c "CREATE DATABASE bench_derived" >/dev/null
q "CREATE EXTENSION evlog"
# rows go in with one INSERT as the owner: the partitions they need first
q "SELECT evlog_create_partitions(upto => $n_log)" >/dev/null
trigger DISABLE
# per 10 events: 1 failing probe (alternately evidence with one failing
# enforce-mode sub-result and one passing, and non-evidence), 3 passing
# probes, 6 events of other kinds
q "INSERT INTO evlog.event_log (seq, ts, kind, host_id, rollout_id, payload)
   SELECT nextval('evlog.event_log_seq_seq'), '2026-05-16 01:00:00+00'::timestamptz + i * interval '1 ms',
          CASE WHEN i % 10 < 4 THEN 'agent_event' WHEN i % 10 < 7 THEN 'plan_action' ELSE 'effect' END,
          'host-' || (i % 256), 'ro-' || (i % 100),
          CASE WHEN i % 10 = 0 AND i % 20 = 0 THEN
                 jsonb_build_object('kind', 'ProbeResult', 'probeName', 'evidence', 'mode', 'enforce', 'status', 'fail',
                   'observedAt', '2026-05-16T01:00:00Z', 'failureReason', 'x',
                   'subResults', jsonb_build_array(
                     jsonb_build_object('controlId', 'c' || (i % 17), 'status', 'fail', 'framework', 'fw', 'article', '1',
                                        'effectiveMode', 'enforce', 'overrideReason', NULL),
                     jsonb_build_object('controlId', 'd' || (i % 13), 'status', 'pass', 'framework', 'fw', 'article', '2',
                                        'effectiveMode', 'enforce', 'overrideReason', NULL)))
               WHEN i % 10 = 0 THEN
                 jsonb_build_object('kind', 'ProbeResult', 'probeName', 'http', 'mode', 'enforce', 'status', 'fail',
                   'observedAt', '2026-05-16T01:00:00Z', 'failureReason', 'timeout', 'subResults', NULL)
               WHEN i % 10 < 4 THEN
                 jsonb_build_object('kind', 'ProbeResult', 'probeName', 'http', 'mode', 'enforce', 'status', 'pass',
                   'observedAt', '2026-05-16T01:00:00Z', 'failureReason', NULL, 'subResults', NULL)
               WHEN i % 10 < 7 THEN jsonb_build_object('action', 'QueueDispatch', 'host', 'h', 'target_closure', 'abc')
               ELSE jsonb_build_object('effect', 'EmitMetric', 'name', 'm', 'value', i)
          END
     FROM generate_series(1, $n_log) i"
trigger "ENABLE ALWAYS"
q "VACUUM ANALYZE evlog.event_log"
q "SET client_min_messages = warning;
   CREATE TABLE public.pf_setbased (LIKE evlog.probe_failures INCLUDING ALL);
   ALTER TABLE public.pf_setbased ADD FOREIGN KEY (event_log_seq) REFERENCES evlog.event_log (seq);"
# seed 003's filter, set-based: sub-results when a non-empty array, else the probe itself
setbased_sql="INSERT INTO public.pf_setbased (event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at)
  SELECT e.seq, e.rollout_id, e.host_id, e.payload->>'probeName', sr->>'controlId', sr->>'framework',
         (e.payload->>'observedAt')::timestamptz
    FROM evlog.event_log e
    CROSS JOIN LATERAL jsonb_array_elements(e.payload->'subResults') sr
   WHERE e.kind = 'agent_event' AND e.payload->>'kind' = 'ProbeResult'
     AND jsonb_typeof(e.payload->'subResults') = 'array'
     AND sr->>'status' = 'fail' AND sr->>'effectiveMode' = 'enforce'
  UNION ALL
  SELECT e.seq, e.rollout_id, e.host_id, e.payload->>'probeName', NULL, NULL, (e.payload->>'observedAt')::timestamptz
    FROM evlog.event_log e
   WHERE e.kind = 'agent_event' AND e.payload->>'kind' = 'ProbeResult'
     AND e.payload->>'mode' = 'enforce' AND e.payload->>'status' = 'fail'
     AND COALESCE(jsonb_array_length(CASE WHEN jsonb_typeof(e.payload->'subResults') = 'array'
                                          THEN e.payload->'subResults' END), 0) = 0"

# cold: both start from an empty table and write every row
declare -a rb sb
for r in $(seq $rounds); do
    q "TRUNCATE public.pf_setbased"
    sb+=("$(time_sql "$setbased_sql")")
    q "TRUNCATE evlog.probe_failures"
    rb+=("$(time_sql "SET client_min_messages = warning; SELECT evlog_rebuild('probe_failures')")")
done
t_rb=$(med "${rb[@]}"); t_sb=$(med "${sb[@]}")
# warm: the table is already consistent (the usual case), the swap writes nothing
declare -a rw
for r in $(seq $rounds); do
    rw+=("$(time_sql "SET client_min_messages = warning; SELECT evlog_rebuild('probe_failures')")")
done
t_rw=$(med "${rw[@]}")
rows_rb=$(q "SELECT count(*) FROM evlog.probe_failures")
rows_sb=$(q "SELECT count(*) FROM public.pf_setbased")
same=$(q "SELECT count(*) = 0 FROM ((SELECT event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at FROM evlog.probe_failures
                                    EXCEPT ALL SELECT event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at FROM public.pf_setbased)
                                   UNION ALL
                                   (SELECT event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at FROM public.pf_setbased
                                    EXCEPT ALL SELECT event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at FROM evlog.probe_failures)) d")
rb_speed=$(ratio "$t_sb" "$t_rb")

echo "derived tables: appends best of $((rounds + 2)) alternating runs, rebuilds median of $rounds; same server"
printf '| %-62s | %14s | %14s | %-28s |\n' "measure" "evlog" "baseline" "ratio"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..64})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..16})" "$(printf -- '-%.0s' {1..30})"
printf '| %-62s | %14s | %14s | %-28s |\n' "append, events feeding no derived table ($n_append/xact), rows/s" \
    "$rate_on" "$rate_off" "overhead ${overhead}% (target <= 5%)"
printf '| %-62s | %14s | %14s | %-28s |\n' "append ProbeResult with 1 enforce failure, us/event" \
    "$us_on" "$us_off" "+${us_delta} us per event"
printf '| %-62s | %14s | %14s | %-28s |\n' "probe_failures from $n_log events (10% failing), empty table, s" \
    "$t_rb" "$t_sb" "set-based/rebuild ${rb_speed}x"
printf '| %-62s | %14s | %14s | %-28s |\n' "same, rebuild of an already consistent table, s" \
    "$t_rw" "$t_sb" "set-based/rebuild $(ratio "$t_sb" "$t_rw")x"
echo "(evlog = trigger enabled / evlog_rebuild; baseline = trigger disabled / INSERT ... SELECT; rebuild rows $rows_rb, set-based rows $rows_sb, identical: $same)"
{
    echo "measure,evlog,baseline,ratio"
    echo "append_nomatch_rows_per_s,$rate_on,$rate_off,$(ratio "$rate_on" "$rate_off")"
    echo "append_probe_us_per_event,$us_on,$us_off,$(ratio "$us_on" "$us_off")"
    echo "rebuild_probe_failures_cold_s,$t_rb,$t_sb,$rb_speed"
    echo "rebuild_probe_failures_warm_s,$t_rw,$t_sb,$(ratio "$t_sb" "$t_rw")"
} > "$BENCH_OUT/derived.csv"
psql -X -q -d postgres -c "DROP DATABASE bench_derived" >/dev/null
