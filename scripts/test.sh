#!/usr/bin/env bash
# scripts/test.sh — set up, build, and run every evlog test suite.
#
#   bash scripts/test.sh              all suites
#   EVLOG_TAP_TESTS=t/030_soak.pl bash scripts/test.sh tap   one TAP test
#   bash scripts/test.sh regress      only pg_regress (also: isolation,
#                                     docs = the SQL examples of README.md and doc/, tap,
#                                     lint = cppcheck, memcheck = pg_regress
#                                     against a server under valgrind)
#
# Works on a fresh Debian machine as root or as a user with sudo: installs the
# PostgreSQL 15 server and headers if missing, builds evlog with warnings as
# errors, installs it into a private copy of PostgreSQL (nothing system-wide),
# then runs pg_regress, the isolation tester and the TAP tests, each against
# servers it starts itself.  The last line is "N passed, N failed" over all
# suites; the exit status is non-zero if anything failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

suites=${*:-regress isolation docs tap lint memcheck}

if [ "${1:-}" != "--in-stage" ]; then
    ensure_build_deps
    ensure_test_deps
    build_evlog
    work=$(mktemp -d "/tmp/evlog-test-$(basename "$EVLOG_ROOT").XXXXXX")
    chmod 755 "$work"
    bindir=$(stage_pg "$work/pg")
    # the suites write results next to their inputs: give them a copy
    for d in sql expected specs t test tools src doc README.md Makefile; do
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

make_var() { make -s --no-print-directory PG_CONFIG="$bindir/pg_config" "print-$1"; }

count_pg_regress() {
    # PG15 pg_regress prints "test name ... ok" per test; anything else for
    # a test in the list (FAILED, a missing file, a run that never started)
    # counts as a failure
    local out=$1 ntests=$2 ok
    ok=$(grep -cE '\.\.\. ok' "$out" 2>/dev/null || true)
    ok=${ok:-0}
    passed=$((passed + ok)); failed=$((failed + ntests - ok))
}

# with_expected LIST: the tests of LIST that have an expected output; each
# one that has none is reported and counted as failed (pg_regress would
# otherwise pass it)
runnable=""
with_expected() {
    runnable=""
    for t in "$@"; do
        if [ -f "expected/$t.out" ]; then runnable="$runnable $t"
        else echo "test $t ... FAILED (no expected/$t.out)"; failed=$((failed + 1)); fi
    done
}

ntests() { echo $#; }

# memcheck is CPU-bound on one core and TAP mostly waits on its servers:
# when both are asked for, memcheck runs in the background beside TAP (its
# own server, port and files) and its output is shown where it would have
# run.  EVLOG_MEMCHECK_INLINE=1 runs it in order instead.
memcheck_pid=""
case " $suites " in
*" tap "*" memcheck "*)
    if [ -z "${EVLOG_MEMCHECK_INLINE:-}" ]; then
        bash "$work/scripts/test.sh" --in-stage "$work" "$bindir" memcheck > memcheck.out 2>&1 &
        memcheck_pid=$!
    fi ;;
esac

for suite in $suites; do
    if [ "$suite" = memcheck ] && [ -n "$memcheck_pid" ]; then
        log "memcheck (ran beside TAP)"
        wait "$memcheck_pid" || true
        cat memcheck.out
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' memcheck.out | tail -n1)
        if [ -n "$line" ]; then
            passed=$((passed + ${line%% *})); bad=${line#*, }; failed=$((failed + ${bad%% *}))
        else
            echo "test memcheck ... FAILED (no result line)"; failed=$((failed + 1))
        fi
        continue
    fi
    case $suite in
    regress)
        with_expected $(make_var REGRESS); tests=$runnable
        log "pg_regress: $tests"
        "$pgxs/src/test/regress/pg_regress" --bindir="$bindir" --inputdir=. \
            --temp-instance=./tmp_regress --temp-config=test/evlog.conf \
            --dbname=contrib_regression $tests 2>&1 | tee regress.log || true
        count_pg_regress regress.log "$(ntests $tests)"
        [ -f regression.diffs ] && cat regression.diffs
        with_expected $(make_var REGRESS_PRELOAD); tests=$runnable
        if [ -n "$tests" ]; then
            log "pg_regress, evlog preloaded: $tests"
            "$pgxs/src/test/regress/pg_regress" --bindir="$bindir" --inputdir=. \
                --outputdir=output_preload --temp-instance=./tmp_regress_preload \
                --temp-config=test/evlog_preload.conf \
                --dbname=contrib_regression $tests 2>&1 | tee regress_preload.log || true
            count_pg_regress regress_preload.log "$(ntests $tests)"
            [ -f output_preload/regression.diffs ] && cat output_preload/regression.diffs
        fi
        ;;
    isolation)
        with_expected $(make_var ISOLATION); tests=$runnable
        [ -z "$tests" ] && continue
        log "isolation: $tests"
        "$pgxs/src/test/isolation/pg_isolation_regress" --bindir="$bindir" --inputdir=. \
            --outputdir=output_iso --temp-instance=./tmp_isolation --temp-config=test/evlog.conf \
            $tests 2>&1 | tee isolation.log || true
        count_pg_regress isolation.log "$(ntests $tests)"
        [ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
        ;;
    docs)
        # every ```sql example of README.md and doc/*.md, run as written
        # against a server with evlog preloaded (test/readme_examples.sh)
        log "docs: the documentation's SQL examples"
        "$bindir/initdb" -D docsdata -A trust >/dev/null
        "$bindir/pg_ctl" -D docsdata -w -l docs-server.log \
            -o "-k $work -p 54988 -c listen_addresses= -c shared_preload_libraries=evlog" start >/dev/null
        bash test/readme_examples.sh "$bindir" 54988 "$work" "$work" 2>&1 | tee docs.log || true
        # the runner's self-test: on test/docs_selftest/README.md exactly
        # the blocks whose prose says "must fail" fail, every other one passes
        want=$(awk '/^```sql/ { print "README.md:" NR (last ~ /must fail/ ? " FAILED" : " ok") }
                    !/^[ \t]*$/ && !/^```/ { last = $0 }' test/docs_selftest/README.md)
        got=$(bash test/readme_examples.sh "$bindir" 54988 "$work" "$work/test/docs_selftest" 2>&1 |
              grep -E '^README\.md:[0-9]+ (ok|FAILED)' | sed -E 's/^(README\.md:[0-9]+ (ok|FAILED)).*/\1/' || true)
        if [ -n "$want" ] && [ "$want" = "$got" ]; then
            echo "test docs_selftest ... ok"; passed=$((passed + 1))
        else
            echo "test docs_selftest ... FAILED"; failed=$((failed + 1))
            diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
        fi
        "$bindir/pg_ctl" -D docsdata -m fast -w stop >/dev/null || true
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' docs.log | tail -n1)
        if [ -n "$line" ]; then
            passed=$((passed + ${line%% *})); bad=${line#*, }; failed=$((failed + ${bad%% *}))
        else
            echo "test docs ... FAILED (no result line)"; failed=$((failed + 1))
        fi
        ;;
    tap)
        ls t/*.pl >/dev/null 2>&1 || continue
        log "TAP: t/*.pl"
        PATH="$bindir:$PATH" TESTDIR="$work" PG_REGRESS="$pgxs/src/test/regress/pg_regress" \
            prove -v --timer -I "$pgxs/src/test/perl" -I t ${EVLOG_TAP_TESTS:-t/*.pl} 2>&1 | tee tap.log || true
        [ -f tap.log ] || echo "Dubious: prove left no output" > tap.log
        ok=$(grep -cE '^ok [0-9]+' tap.log || true)
        bad=$(grep -cE '^not ok [0-9]+' tap.log || true)
        # a script that died before its plan finished counts as a failure too
        dubious=$(grep -cE 'Parse errors|Bad plan|No subtests run|prove left no output' tap.log || true)
        ok=${ok:-0} bad=${bad:-0} dubious=${dubious:-0}
        passed=$((passed + ok)); failed=$((failed + bad + dubious))
        if [ "$bad" -ne 0 ] || [ "$dubious" -ne 0 ]; then
            for f in tmp_check/log/*; do echo "--- $f"; tail -n 40 "$f"; done
        fi
        ;;
    lint)
        # cppcheck over evlog's own files; PostgreSQL's headers are parsed
        # for types but their findings are not ours to report
        log "lint: cppcheck src/"
        if cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 \
                --inline-suppr --suppress=missingIncludeSystem --suppress=toomanyconfigs \
                --suppress='*:/usr/include/*' --max-configs=1 --std=c99 \
                -I "$work/src" -I /usr/include/postgresql/$PGVER/server "$work/src" 2>&1 | tee lint.log; then
            echo "test cppcheck ... ok"; passed=$((passed + 1))
        else
            echo "test cppcheck ... FAILED"; failed=$((failed + 1))
        fi
        ;;
    memcheck)
        # the pg_regress suite against a server running under valgrind
        # memcheck (every backend traced).  test/valgrind_blame.py decides
        # which reports are evlog's: addressability errors with an evlog
        # frame anywhere, uninitialised values used in evlog's own frames or
        # allocated by evlog (--track-origins tells where); PostgreSQL's own
        # reports that merely have evlog further down the stack do not count.
        # The classifier is checked first against recorded reports.
        log "memcheck: valgrind_blame against recorded reports"
        bash test/valgrind_blame_test.sh "$work/src" > blame_test.log 2>&1 || true
        cat blame_test.log
        ok=$(grep -c '\.\.\. ok' blame_test.log || true)
        bad=$(grep -c '\.\.\. FAILED' blame_test.log || true)
        ok=${ok:-0} bad=${bad:-0}
        if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
        passed=$((passed + ok)); failed=$((failed + bad))
        log "memcheck: pg_regress against a server under valgrind"
        mkdir -p vg
        "$bindir/initdb" -D vgdata -A trust >/dev/null
        # test/valgrind.supp: PostgreSQL's WAL/temp-file padding false
        # positives only.  evlog_test.batch_entries: sql/batch.sql's
        # largest batch at a size valgrind gets through in seconds.
        # evlog.partition_wait: a partition creator started under valgrind
        # takes seconds to connect
        valgrind --trace-children=yes --quiet --error-limit=no --leak-check=no \
            --track-origins=yes \
            --suppressions="$work/test/valgrind.supp" \
            --num-callers=30 --log-file="$work/vg/%p.log" \
            "$bindir/postgres" -D vgdata -k "$work" -p 54987 -c listen_addresses= \
            -c fsync=off -c evlog_test.batch_entries=2000 -c evlog.partition_wait=120s > vg-server.log 2>&1 &
        for _ in $(seq 1 120); do "$bindir/pg_isready" -h "$work" -p 54987 -q && break; sleep 1; done
        with_expected $(make_var REGRESS); tests=$runnable
        "$pgxs/src/test/regress/pg_regress" --bindir="$bindir" --inputdir=. \
            --outputdir=output_vg --host="$work" --port=54987 \
            --dbname=contrib_regression $tests 2>&1 | tee memcheck.log || true
        "$bindir/pg_ctl" -D vgdata -m fast -w -t 300 stop >/dev/null || true
        count_pg_regress memcheck.log "$(ntests $tests)"
        [ -f output_vg/regression.diffs ] && head -200 output_vg/regression.diffs
        ours=$(ls src/*.c | xargs -n1 basename | paste -sd'|')
        if python3 test/valgrind_blame.py --ours "$ours" vg/*.log > blame.log 2>&1; then
            echo "test valgrind_reports ... ok ($(tail -n1 blame.log))"
            passed=$((passed + 1))
        else
            echo "test valgrind_reports ... FAILED ($(tail -n1 blame.log))"
            failed=$((failed + 1))
            head -300 blame.log
        fi
        ;;
    *) echo "unknown suite $suite" >&2; exit 2 ;;
    esac
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
