#!/usr/bin/env bash
# A PostgreSQL 15 cluster for benchmarks: like scripts/with-postgres.sh, but durable (fsync ON,
# synchronous_commit ON, full_page_writes ON) and kept between runs so one seeded database can be
# measured many times. Memory settings are the usual ones for a 2-core / 24 GB machine.
#
#   bench/postgres.sh start /tmp/obench-pg [port]   # prints the DATABASE_URL to export
#   bench/postgres.sh stop  /tmp/obench-pg
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
cmd=${1:?start|stop|url}
D=${2:?data folder}
PORT=${3:-55499}
mkdir -p "$D"
D=$(cd "$D" && pwd)
case "$cmd" in
  start)
    chown postgres "$D"
    if [ ! -f "$D/data/PG_VERSION" ]; then
      runuser -u postgres -- "$PGBIN/initdb" -D "$D/data" -A trust -U opiekun -E UTF8 >/dev/null
    fi
    echo "$PORT" > "$D/port"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/data" -l "$D/log" -w -o "-p $PORT -k $D \
      -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
      -c shared_buffers=2GB -c effective_cache_size=12GB -c work_mem=32MB -c maintenance_work_mem=1GB \
      -c max_wal_size=8GB -c checkpoint_timeout=15min -c random_page_cost=1.1 -c jit=off \
      -c max_connections=100" start >/dev/null
    echo "postgresql://opiekun@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/data" -m fast stop >/dev/null
    ;;
  url)
    echo "postgresql://opiekun@127.0.0.1:$(cat "$D/port")/postgres"
    ;;
  *)
    echo "usage: $0 start|stop|url DIR [PORT]" >&2
    exit 2
    ;;
esac
