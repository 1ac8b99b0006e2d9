#!/bin/bash
# Runs once, when the primary's data directory is created: the replication role and its
# pg_hba line (the replica connects with REPLICATION_PASSWORD over scram-sha-256).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${REPLICATION_PASSWORD}';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
