#!/bin/bash
# The streaming replica: clone the primary once (pg_basebackup -R writes standby.signal and
# primary_conninfo, -C -S makes its replication slot), then run as a hot standby.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_basebackup -h postgres-primary -U replicator -D "$PGDATA" -R -X stream -C -S replica_1 -c fast; do
    echo "waiting for the primary ..." >&2
    rm -rf "${PGDATA:?}"/*
    sleep 2
  done
  chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
