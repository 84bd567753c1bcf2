#!/usr/bin/env bash
# scripts/demo.sh — set up, build, install evlog, and run the demo against a
# throwaway PostgreSQL 15 (pg_virtualenv: created in /tmp, dropped at exit).
# Works on a fresh Debian machine as root or as a user with sudo.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ensure_build_deps
build_evlog
log "installing evlog into PostgreSQL $PGVER"
as_root make -C "$EVLOG_ROOT" -s install PG_CONFIG=$PG_SYSBIN/pg_config >/dev/null
log "starting a throwaway PostgreSQL $PGVER and running demo/demo.sql"
pg_virtualenv -v $PGVER psql -X -v ON_ERROR_STOP=1 -f "$EVLOG_ROOT/demo/demo.sql"
