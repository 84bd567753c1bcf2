# scripts/lib.sh — shared by scripts/demo.sh, scripts/test.sh and bench/.
# Sourced, not run.  Installs what a fresh Debian machine lacks, builds evlog,
# and stages a private PostgreSQL tree with evlog installed into it, so tests
# and benchmarks never touch (or need root for) the system's extension dir.

PGVER=15
PG_SYSBIN=/usr/lib/postgresql/$PGVER/bin
EVLOG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '==> %s\n' "$*" >&2; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG...: apt-get install whatever of PKG is not installed.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing: ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The packages every entry point needs: server, headers, compiler, TAP deps.
ensure_build_deps() {
    ensure_packages postgresql-$PGVER postgresql-server-dev-$PGVER postgresql-client-$PGVER \
        postgresql-common make gcc libc6-dev libipc-run-perl perl python3
}

# What the test suites need beyond the build: sqlsmith (fuzzing), cppcheck
# (lint), valgrind (memcheck).
ensure_test_deps() {
    ensure_packages sqlsmith cppcheck valgrind
}

build_evlog() {
    log "building evlog"
    make -C "$EVLOG_ROOT" -s WERROR=1 PG_CONFIG=$PG_SYSBIN/pg_config >/dev/null
}

# The unprivileged user that runs servers: ourselves, or "postgres" for root
# (PostgreSQL refuses to run as root).
server_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

run_as_server_user() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# stage_pg DIR: copy the PostgreSQL tree into DIR and install evlog there.
# PostgreSQL finds its share and lib dirs relative to its own binary, so the
# copy is a complete, private installation.  Prints the staged bin dir.
stage_pg() {
    local stage=$1
    mkdir -p "$stage/usr/lib/postgresql" "$stage/usr/share/postgresql"
    cp -a /usr/lib/postgresql/$PGVER "$stage/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/$PGVER "$stage/usr/share/postgresql/"
    make -C "$EVLOG_ROOT" -s install DESTDIR="$stage" PG_CONFIG=$PG_SYSBIN/pg_config >/dev/null
    echo "$stage/usr/lib/postgresql/$PGVER/bin"
}
