#!/usr/bin/env bash
# test/readme_examples.sh — run every ```sql example of the documentation.
#
#   bash test/readme_examples.sh BINDIR PORT SOCKETDIR [DOCROOT]
#
# BINDIR is a PostgreSQL 15 bin dir with evlog installed (scripts/lib.sh's
# stage_pg prints one); PORT and SOCKETDIR name an already-running server
# started with shared_preload_libraries = 'evlog' (the evlog_enqueue example
# needs the queue).  Run it as a superuser of that server: the server user,
# or set PGUSER (as root, PGUSER defaults to postgres).  DOCROOT is where
# README.md and doc/ are (default: the repository this script is in).
#
# It takes every ```sql fenced block of README.md and of each doc/*.md that
# has one and runs it with psql -X -q.  Blocks of one file run in document
# order in one database, created for that file with CREATE EXTENSION evlog,
# so a block may use what earlier ones made.
#
# Shown output.  A ```text block that follows a ```sql block with nothing
# but blank lines between them is that block's output: the block then runs
# with ON_ERROR_STOP off (an error it shows is part of its output) and
# passes only if what psql prints, standard output and errors interleaved,
# equals the ```text block after this normalisation of both: psql's
# "psql:FILE:LINE: " prefix of error lines is removed, trailing blanks of
# every line and trailing blank lines are dropped.  Nothing else is
# normalised, so shown output must not depend on the clock, the server's
# pid or a hash: fixed ts values, and columns chosen to be stable.  psql
# runs with -q (no command tags), default aligned format and
# VERBOSITY default (ERROR, DETAIL, HINT lines).  A ```sql block without
# shown output runs with ON_ERROR_STOP=1 and passes if psql exits 0.
#
# An HTML comment on the last non-blank line before a block's fence changes
# where it runs:
#
#   <!-- example: fresh -->                this block and the next ones run
#                                          in a new database with evlog
#   <!-- example: fresh version 1.0 -->    ... created with VERSION '1.0'
#   <!-- example: bare -->                 ... a new database without evlog
#                                          (the block creates it itself)
#   <!-- example: roles app reporting -->  create these roles (NOLOGIN) if
#                                          they do not exist, drop at the end
#                                          those this script created
#   <!-- example: skip (reason) -->        do not run it: a signature list,
#                                          a formula, or SQL that needs more
#                                          than one server; say why
#
# Words combine: <!-- example: fresh roles app -->.  Every database the
# script creates is dropped at the end (WITH (FORCE) only if a queue writer
# is still connected after DROP DATABASE's 5 s wait).  Prints one line per
# block, "FILE:LINE ok" ("ok (output checked)" for a block with shown
# output), "FILE:LINE FAILED" (with psql's output, or for a
# block with shown output a diff of shown against actual) or "FILE:LINE
# skipped (reason)", then "N skipped" and last "N passed, N failed"; exits
# non-zero when a block failed.  README_EXAMPLES_VERBOSE=1 prints psql's
# output of passing blocks too (psql's line numbers count from the block's
# first line after the fence).  test/docs_selftest/README.md is a fixture
# whose shown outputs are partly wrong on purpose: scripts/test.sh docs runs
# this script on it and checks that exactly those blocks fail.
set -uo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 BINDIR PORT SOCKETDIR [DOCROOT]" >&2
    exit 2
fi
bindir=$1 port=$2 sockdir=$3
docroot=${4:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
if [ "$(id -u)" -eq 0 ] && [ -z "${PGUSER:-}" ]; then export PGUSER=postgres; fi

psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port")
# the same without ON_ERROR_STOP, for blocks whose shown output has errors
psql_shown=("$bindir/psql" -X -q -h "$sockdir" -p "$port")
tmp=$(mktemp -d /tmp/readme_examples.XXXXXX)
chmod 755 "$tmp"
prefix="readme_ex_$$"
dbs=() created_roles=()
passed=0 failed=0 skipped=0

cleanup() {
    # a plain DROP first: it waits (up to 5 s) for an idle queue writer to
    # leave, which gives its queue back; FORCE only if the writer stays
    # (evlog.writer_idle_timeout above 5 s), since a writer terminated by
    # FORCE leaves its queue slot taken until the server restarts
    for db in "${dbs[@]}"; do
        "${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 ||
            "${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
    done
    for r in "${created_roles[@]}"; do
        "${psql[@]}" -d postgres -c "DROP ROLE IF EXISTS \"$r\"" >/dev/null 2>&1
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! preload=$("${psql[@]}" -d postgres -Atc 'SHOW shared_preload_libraries' 2>&1); then
    echo "cannot connect: $preload" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
case ",$preload," in
    *,evlog,*|*", evlog,"*) ;;
    *) echo "warning: shared_preload_libraries ($preload) lacks evlog; the evlog_enqueue example will fail" >&2 ;;
esac

# new_db [bare] [VERSION]: create a database, with evlog unless bare; sets $db
new_db() {
    local mode=$1 version=$2
    db="${prefix}_${#dbs[@]}"
    dbs+=("$db")
    "${psql[@]}" -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null || return 1
    [ "$mode" = bare ] && return 0
    if [ -n "$version" ]; then
        "${psql[@]}" -d "$db" -c "CREATE EXTENSION evlog VERSION '$version'" >/dev/null
    else
        "${psql[@]}" -d "$db" -c "CREATE EXTENSION evlog" >/dev/null
    fi
}

ensure_role() {
    local r=$1 exists
    exists=$("${psql[@]}" -d postgres -Atc "SELECT 1 FROM pg_roles WHERE rolname = '$r'") || return 1
    [ -n "$exists" ] && return 0
    "${psql[@]}" -d postgres -c "CREATE ROLE \"$r\" NOLOGIN" >/dev/null || return 1
    created_roles+=("$r")
}

# extract FILE: write each ```sql block to $tmp/N.sql and a manifest line
# "N<TAB>LINE<TAB>DIRECTIVE" (LINE: the line of the opening fence); a
# ```text block right after it (only blank lines between) goes to
# $tmp/N.expected
extract() {
    awk -v out="$tmp" -v base="$2" '
        BEGIN { infence = 0; n = base; after = 0 }
        {
            if (!infence && match($0, /^[ \t]*```/)) {
                lang = substr($0, RSTART + RLENGTH); gsub(/[ \t]/, "", lang)
                infence = 1; issql = (lang == "sql"); isout = 0
                if (issql) {
                    n++; file = out "/" n ".sql"; printf "" > file
                    dir = ""
                    if (match(prev, /<!--[ \t]*example:[ \t]*.*-->/)) {
                        dir = prev
                        sub(/^.*<!--[ \t]*example:[ \t]*/, "", dir)
                        sub(/[ \t]*-->.*$/, "", dir)
                    }
                    printf "%d\t%d\t%s\n", n, NR, dir > (out "/manifest")
                } else if (lang == "text" && after) {
                    isout = 1; file = out "/" n ".expected"; printf "" > file
                }
                after = 0
                next
            }
            if (infence && $0 ~ /^[ \t]*```[ \t]*$/) {
                if (issql || isout) close(file)
                after = issql
                infence = 0; prev = ""; next
            }
            if (infence) { if (issql || isout) print > file; next }
            if ($0 !~ /^[ \t]*$/) { prev = $0; after = 0 }
        }' "$1"
}

# normalise FILE: what shown and actual output are compared as
normalise() {
    sed -E -e 's/^psql:[^:]*:[0-9]+: //' -e 's/[[:space:]]+$//' "$1" |
        awk '{ lines[NR] = $0 } END { n = NR; while (n > 0 && lines[n] == "") n--; for (i = 1; i <= n; i++) print lines[i] }'
}

if [ ! -f "$docroot/README.md" ]; then
    echo "no README.md in $docroot (pass the repository as DOCROOT)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
files=("$docroot/README.md")
for f in "$docroot"/doc/*.md; do
    [ -f "$f" ] && grep -q '^[[:space:]]*```sql' "$f" && files+=("$f")
done

count=0
for f in "${files[@]}"; do
    rel=${f#"$docroot"/}
    : > "$tmp/manifest"
    extract "$f" "$count"
    db=""
    while IFS=$'\t' read -r n line directive; do
        count=$n
        where="$rel:$line"
        if [[ $directive =~ ^skip ]]; then
            reason=${directive#skip}; reason=${reason# }
            if [ -z "$reason" ]; then
                echo "$where FAILED (skip without a reason)"; failed=$((failed + 1))
            else
                echo "$where skipped $reason"; skipped=$((skipped + 1))
            fi
            continue
        fi
        mode="" version="" roles=() setup_ok=1
        read -ra words <<< "$directive"
        i=0
        while [ $i -lt ${#words[@]} ]; do
            w=${words[$i]}
            case $w in
                fresh|bare) mode=$w ;;
                version) i=$((i + 1)); version=${words[$i]:-}; mode=${mode:-fresh} ;;
                roles) while [ $((i + 1)) -lt ${#words[@]} ] && [[ ${words[$((i + 1))]} =~ ^[a-z_][a-z0-9_]*$ ]] \
                             && ! [[ ${words[$((i + 1))]} =~ ^(fresh|bare|version|roles)$ ]]; do
                           i=$((i + 1)); roles+=("${words[$i]}")
                       done ;;
                *) echo "$where FAILED (unknown example directive \"$w\")"; setup_ok=0 ;;
            esac
            i=$((i + 1))
        done
        if [ $setup_ok -eq 1 ]; then
            for r in "${roles[@]}"; do ensure_role "$r" || setup_ok=0; done
            if [ -n "$mode" ] || [ -z "$db" ]; then new_db "${mode:-fresh}" "$version" || setup_ok=0; fi
            [ $setup_ok -eq 1 ] || echo "$where FAILED (could not set up its database or roles)"
        fi
        if [ $setup_ok -eq 0 ]; then failed=$((failed + 1)); continue; fi
        if [ -f "$tmp/$n.expected" ]; then
            "${psql_shown[@]}" -d "$db" -f "$tmp/$n.sql" > "$tmp/$n.actual" 2>&1
            normalise "$tmp/$n.expected" > "$tmp/$n.want"
            normalise "$tmp/$n.actual" > "$tmp/$n.got"
            if diff -u --label shown --label actual "$tmp/$n.want" "$tmp/$n.got" > "$tmp/$n.diff"; then
                echo "$where ok (output checked)"; passed=$((passed + 1))
                [ -n "${README_EXAMPLES_VERBOSE:-}" ] && sed 's/^/    /' "$tmp/$n.actual"
            else
                echo "$where FAILED (database $db: output differs from the block shown)"
                sed 's/^/    /' "$tmp/$n.diff"
                failed=$((failed + 1))
            fi
            continue
        fi
        if output=$("${psql[@]}" -d "$db" -f "$tmp/$n.sql" 2>&1); then
            echo "$where ok"; passed=$((passed + 1))
            [ -n "${README_EXAMPLES_VERBOSE:-}" ] && printf '%s\n' "$output" | sed 's/^/    /'
        else
            echo "$where FAILED (database $db)"
            printf '%s\n' "$output" | sed 's/^/    /'
            failed=$((failed + 1))
        fi
    done < "$tmp/manifest"
done

echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
