#!/usr/bin/env bash
# Runs the given command with DATABASE_URL pointing at a throw-away PostgreSQL 15 cluster on loopback.
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
D=$(mktemp -d /tmp/opiekun-pg.XXXXXX)
chown postgres "$D"
PORT=${OPIEKUN_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
runuser -u postgres -- "$PGBIN/initdb" -D "$D/data" -A trust -U opiekun >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/data" -l "$D/log" -w \
  -o "-p $PORT -k $D -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
cleanup() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$D"; }
trap cleanup EXIT
export DATABASE_URL="postgresql://opiekun@127.0.0.1:$PORT/postgres"
"$@"
