#!/usr/bin/env bash
# valgrind_blame_test.sh SRC_DIR: the memcheck classifier against recorded
# reports (test/valgrind_reports/, verdicts in EXPECTED).  One line per
# fixture, "test valgrind_blame:NAME ... ok|FAILED", as pg_regress prints.
here=$(cd "$(dirname "$0")" && pwd)
ours=$(ls "$1"/*.c | xargs -n1 basename | paste -sd'|')
status=0
while read -r name want; do
    case $name in ''|'#'*) continue ;; esac
    got=$(python3 "$here/valgrind_blame.py" --ours "$ours" "$here/valgrind_reports/$name" | tail -n1 | cut -d' ' -f1)
    if [ "$got" = "$want" ]; then
        echo "test valgrind_blame:$name ... ok"
    else
        echo "test valgrind_blame:$name ... FAILED (counted $got, expected $want)"
        status=1
    fi
done < "$here/valgrind_reports/EXPECTED"
exit $status
