#!/usr/bin/env bash
# bench/run.sh — the benchmark suite, one command:
#
#   bash bench/run.sh                 every bench/NN_*.sh piece
#   bash bench/run.sh 10_append       only the pieces whose name matches
#
# Sets up what is missing (PostgreSQL 15, headers, PgQ, gnuplot), builds
# evlog, installs it into a private copy of PostgreSQL, starts ONE fresh
# server for the whole run, and runs each piece against it.  Every piece
# measures evlog and its baseline in the same run and prints a ratio; CSV
# files and plots land in bench/results/.
#
# Pieces get: PGHOST PGPORT PGDATABASE PGUSER, BENCH_BIN (staged bin dir),
# BENCH_OUT (directory for CSV/PNG), BENCH_DATA (the data directory, for
# pieces that restart the server), BENCH_SCALE (1 = full size; CI-sized
# runs may set it lower).  BENCH_TMP (default /tmp) is where the server's
# data directory goes, e.g. /dev/shm to take the filesystem out of a figure.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

filter=${1:-}
ensure_build_deps
ensure_packages postgresql-$PGVER-pgq3 gnuplot-nox python3 python3-psycopg2
build_evlog

work=$(mktemp -d "${BENCH_TMP:-/tmp}/evlog-bench.XXXXXX")
chmod 755 "$work"
bindir=$(stage_pg "$work/pg")
cp -a "$EVLOG_ROOT/bench" "$work/bench"
[ -d "$EVLOG_ROOT/tools" ] && cp -a "$EVLOG_ROOT/tools" "$work/tools"
mkdir -p "$work/out"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"

cat > "$work/run-pieces.sh" <<INNER
set -euo pipefail
export PGHOST=$work PGPORT=55432 PGDATABASE=bench PGUSER=\$(id -un)
export BENCH_BIN=$bindir BENCH_OUT=$work/out BENCH_SCALE=\${BENCH_SCALE:-1} BENCH_DATA=$work/data
export PATH=$bindir:\$PATH
initdb -D $work/data -A trust >/dev/null
cat >> $work/data/postgresql.conf <<CONF
shared_buffers = 2GB
max_wal_size = 8GB
checkpoint_timeout = 30min
listen_addresses = ''
unix_socket_directories = '$work'
port = 55432
max_connections = 50
# the asynchronous append piece (40_queue) needs the queue's shared memory
# and background writer; every other piece works the same with it preloaded
shared_preload_libraries = 'evlog'
CONF
pg_ctl -D $work/data -l $work/server.log -w start >/dev/null
trap 'pg_ctl -D $work/data -m fast stop >/dev/null' EXIT
createdb bench
for piece in $work/bench/[0-9][0-9]_*.sh; do
    case "\$(basename \$piece)" in *"$filter"*) ;; *) continue ;; esac
    echo
    echo "### \$(basename \$piece .sh)"
    bash "\$piece"
done
INNER
# the data directory goes once the run ends, whatever its outcome: a full
# run leaves gigabytes there, and repeated runs filled the disk
trap 'rm -rf "$work/data" "$work/pg"' EXIT
run_as_server_user bash "$work/run-pieces.sh"
mkdir -p "$EVLOG_ROOT/bench/results"
cp -a "$work/out/." "$EVLOG_ROOT/bench/results/"
echo
echo "results: bench/results/ (server log: $work/server.log)"
