#!/usr/bin/env bash
# The whole suite: once on SQLite (with the browser tests), once on PostgreSQL.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0
echo "== tests on SQLite =="
$BIN/pytest -q "$@" || status=$?
echo "== tests on PostgreSQL 15 =="
scripts/with-postgres.sh $BIN/pytest -q -m "not browser" "$@" || status=$?
exit $status
