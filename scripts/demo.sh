#!/usr/bin/env bash
# `make demo`: starts the local MariaDB, creates the source schema and loads sample
# data with `sluice seed`, checks it, and says where the output and report are.
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
"$SLUICE" seed --scale "${SLUICE_DEMO_SCALE:-0.01}" --replace 2>&1 | tee "$OUT/seed.txt"
"$SLUICE" check | tee "$OUT/check.txt"
echo
echo "demo: done. Database: $MYSQL_DATABASE on 127.0.0.1:$MYSQL_PORT (scripts/mariadb-local.sh env)."
echo "demo: output folder: $OUT ; report: $OUT/check.txt (schema and row counts), $OUT/seed.txt (load log)"
