#!/usr/bin/env bash
# `make demo`: starts the local MariaDB, loads the source schema and sample data,
# and runs what sluice can do so far, saying where the output is.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SLUICE="$ROOT/build/sluice"
bash scripts/mariadb-local.sh start
set -a
eval "$(bash scripts/mariadb-local.sh env)"
set +a
OUT="$ROOT/output"
mkdir -p "$OUT"
if "$SLUICE" --help | grep -q '^  seed '; then
    "$SLUICE" seed --scale "${SLUICE_DEMO_SCALE:-0.01}"
else
    for f in init/01_schema.sql init/02_additional_tables.sql; do
        MYSQL_PWD="$MYSQL_PASSWORD" mariadb --no-defaults --socket="$MYSQL_SOCKET" -u"$MYSQL_USER" "$MYSQL_DATABASE" < "$f"
    done
fi
"$SLUICE" check | tee "$OUT/check.txt"
echo
echo "demo: done. Database: $MYSQL_DATABASE on 127.0.0.1:$MYSQL_PORT (scripts/mariadb-local.sh env)."
echo "demo: output folder: $OUT ; report: $OUT/check.txt"
