#!/usr/bin/env bash
# scripts/test.sh — set up, build, and run every evlog test suite.
#
#   bash scripts/test.sh              all suites
#   bash scripts/test.sh regress      only pg_regress (also: isolation, tap)
#
# Works on a fresh Debian machine as root or as a user with sudo: installs the
# PostgreSQL 15 server and headers if missing, builds evlog with warnings as
# errors, installs it into a private copy of PostgreSQL (nothing system-wide),
# then runs pg_regress, the isolation tester and the TAP tests, each against
# servers it starts itself.  The last line is "N passed, N failed" over all
# suites; the exit status is non-zero if anything failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

suites=${*:-regress isolation tap}

if [ "${1:-}" != "--in-stage" ]; then
    ensure_build_deps
    build_evlog
    work=$(mktemp -d /tmp/evlog-test.XXXXXX)
    chmod 755 "$work"
    bindir=$(stage_pg "$work/pg")
    # the suites write results next to their inputs: give them a copy
    for d in sql expected specs t test Makefile; do
        [ -e "$EVLOG_ROOT/$d" ] && cp -a "$EVLOG_ROOT/$d" "$work/"
    done
    mkdir -p "$work/scripts" && cp "$EVLOG_ROOT"/scripts/*.sh "$work/scripts/"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"
    status=0
    run_as_server_user bash "$work/scripts/test.sh" --in-stage "$work" "$bindir" $suites || status=$?
    if [ $status -ne 0 ]; then
        echo "(test servers' logs and diffs kept in $work)" >&2
    else
        rm -rf "$work"
    fi
    exit $status
fi

# ---- from here on we run as the unprivileged server user, inside the stage
shift
work=$1 bindir=$2
shift 2
suites=$*
cd "$work"
pgxs=$(dirname "$bindir")/lib/pgxs
passed=0 failed=0

make_var() { sed -n "s/^$1 *= *//p" Makefile; }

count_pg_regress() {
    # PG15 pg_regress prints "test name ... ok" / "... FAILED" per test
    local out=$1 ok bad
    ok=$(grep -cE '\.\.\. ok|\.\.\. ignored' "$out" || true)
    bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed \(ignored\)' "$out" || true)
    if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi  # it did not even start
    passed=$((passed + ok)); failed=$((failed + bad))
}

for suite in $suites; do
    case $suite in
    regress)
        log "pg_regress: $(make_var REGRESS)"
        "$pgxs/src/test/regress/pg_regress" --bindir="$bindir" --inputdir=. \
            --temp-instance=./tmp_regress --temp-config=test/evlog.conf \
            --dbname=contrib_regression $(make_var REGRESS) 2>&1 | tee regress.log || true
        count_pg_regress regress.log
        [ -f regression.diffs ] && cat regression.diffs
        tests=$(make_var REGRESS_PRELOAD)
        if [ -n "$tests" ]; then
            log "pg_regress, evlog preloaded: $tests"
            "$pgxs/src/test/regress/pg_regress" --bindir="$bindir" --inputdir=. \
                --outputdir=output_preload --temp-instance=./tmp_regress_preload \
                --temp-config=test/evlog_preload.conf \
                --dbname=contrib_regression $tests 2>&1 | tee regress_preload.log || true
            count_pg_regress regress_preload.log
            [ -f output_preload/regression.diffs ] && cat output_preload/regression.diffs
        fi
        ;;
    isolation)
        tests=$(make_var ISOLATION)
        [ -z "$tests" ] && continue
        log "isolation: $tests"
        "$pgxs/src/test/isolation/pg_isolation_regress" --bindir="$bindir" --inputdir=. \
            --outputdir=output_iso --temp-instance=./tmp_isolation --temp-config=test/evlog.conf \
            $tests 2>&1 | tee isolation.log || true
        count_pg_regress isolation.log
        [ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
        ;;
    tap)
        ls t/*.pl >/dev/null 2>&1 || continue
        log "TAP: t/*.pl"
        PATH="$bindir:$PATH" TESTDIR="$work" PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
            prove -v -I "$pgxs/src/test/perl" -I t t/*.pl 2>&1 | tee tap.log || true
        ok=$(grep -cE '^ok [0-9]+' tap.log || true)
        bad=$(grep -cE '^not ok [0-9]+' tap.log || true)
        # a script that died before its plan finished counts as a failure too
        dubious=$(grep -cE 'Dubious|Bad plan|Parse errors' tap.log || true)
        passed=$((passed + ok)); failed=$((failed + bad + dubious))
        if [ "$bad" -ne 0 ] || [ "$dubious" -ne 0 ]; then
            for f in tmp_check/log/*; do echo "--- $f"; tail -n 40 "$f"; done
        fi
        ;;
    *) echo "unknown suite $suite" >&2; exit 2 ;;
    esac
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
