#!/usr/bin/env bash
# Benchmark: `sluice seed` load time into the local MariaDB (issue 2's target: scale 1
# in at most 60 s on the 2-core machine). Prints wall time, rows and rows/s per scale.
#   bash bench/seed_load.sh [SCALE...]        (default: 1)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
make -s build/sluice >/dev/null
bash scripts/mariadb-local.sh start
set -a; eval "$(bash scripts/mariadb-local.sh env)"; set +a
for scale in "${@:-1}"; do
    db="bench_seed_$(echo "$scale" | tr . _)"
    MYSQL_PWD="$MYSQL_PASSWORD" env -u MYSQL_HOST -u MYSQL_PORT mariadb --no-defaults --protocol=socket --socket="$MYSQL_SOCKET" -u"$MYSQL_USER" \
        -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"
    start=$(date +%s.%N)
    MYSQL_DATABASE=$db build/sluice -q seed --scale "$scale" --anchor '2026-12-01 00:00:00'
    end=$(date +%s.%N)
    rows=$(MYSQL_PWD="$MYSQL_PASSWORD" env -u MYSQL_HOST -u MYSQL_PORT mariadb --no-defaults --protocol=socket --socket="$MYSQL_SOCKET" -u"$MYSQL_USER" -N "$db" -e \
        "SELECT (SELECT COUNT(*) FROM customers)+(SELECT COUNT(*) FROM products)+(SELECT COUNT(*) FROM warehouses)
               +(SELECT COUNT(*) FROM orders)+(SELECT COUNT(*) FROM order_items)+(SELECT COUNT(*) FROM inventory)")
    awk -v s="$scale" -v t0="$start" -v t1="$end" -v r="$rows" \
        'BEGIN { t = t1 - t0; printf "seed scale %-6s %10d rows  %7.1f s  %9.0f rows/s  (target: scale 1 <= 60 s)\n", s, r, t, r / t }'
    MYSQL_PWD="$MYSQL_PASSWORD" env -u MYSQL_HOST -u MYSQL_PORT mariadb --no-defaults --protocol=socket --socket="$MYSQL_SOCKET" -u"$MYSQL_USER" -e "DROP DATABASE $db"
done
