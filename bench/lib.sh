# bench/lib.sh — helpers for bench pieces (sourced).
# q SQL: run one statement quietly, print the bare result.
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
# now_s: wall-clock seconds with sub-ms resolution
now_s() { date +%s.%N; }
# ratio A B: A/B with 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
# The shape of evlog.event_log, for baseline tables that must be identical.
plain_log_table() {
    local name=$1
    q "SET client_min_messages = warning; DROP TABLE IF EXISTS $name;
       CREATE TABLE $name (seq bigserial PRIMARY KEY, ts timestamptz NOT NULL, kind text NOT NULL,
           host_id text, rollout_id text, payload jsonb NOT NULL, event_id text);
       CREATE INDEX ON $name (rollout_id, seq);
       CREATE INDEX ON $name (kind, ts);
       CREATE INDEX ON $name USING brin (ts);"
    # The default table is the targets' baseline (event_id UNIQUE, the
    # log's indexes when they were set); "log": the log's own indexes since
    # 1.5 instead (also (host_id, seq), event_id partial)
    q "CREATE INDEX ON $name (host_id, ts)"
    if [ "${2:-}" = log ]; then
        q "CREATE INDEX ON $name (host_id, seq);
           CREATE INDEX ON $name (event_id) WHERE event_id IS NOT NULL"
    else
        q "CREATE UNIQUE INDEX ON $name (event_id)"
    fi
}
# log_autovacuum_off UPTO: autovacuum off on every partition of the log,
# after creating partitions up to seq UPTO (a partitioned table takes no
# storage parameters, and a partition created later would not inherit it)
log_autovacuum_off() {
    q "SELECT evlog_create_partitions(upto => $1)" >/dev/null
    q "DO \$\$ DECLARE p regclass; BEGIN
         FOR p IN SELECT partition FROM evlog.partitions LOOP
           EXECUTE pg_catalog.format('ALTER TABLE %s SET (autovacuum_enabled = false)', p);
         END LOOP; END \$\$"
}
