#!/usr/bin/env bash
# `make demo`: starts the local MariaDB, creates the source schema and loads sample
# data with `sluice seed`, runs the pipeline (`sluice run --raw`) into ./output/,
# inspects one dataset, and says where the output and the report are.
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
"$SLUICE" run --output "$OUT" --raw --dry-run > "$OUT/dry-run.txt"
# The run's summary on stdout (run.txt), its log as JSON lines (run.log.json), its
# Prometheus metrics (sluice.prom).
"$SLUICE" --log-format json run --output "$OUT" --raw --progress log --metrics-file "$OUT/sluice.prom" \
    2> "$OUT/run.log.json" | tee "$OUT/run.txt" || { cat "$OUT/run.log.json" >&2; exit 1; }
DATE="$(sed -n 's/^run [^ ]*: business_insights\/\([0-9-]*\) .*/\1/p' "$OUT/run.txt" | head -1)"
INSIGHTS="$OUT/business_insights/$DATE"
for d in inventory_analytics order_analytics hourly_orders warehouse_utilization product_turnover customer_segments; do
    ls "$INSIGHTS/$d/"part-*.parquet >/dev/null || { echo "demo: dataset $d is missing" >&2; exit 1; }
done
test -f "$INSIGHTS/_SUCCESS" || { echo "demo: $INSIGHTS/_SUCCESS is missing" >&2; exit 1; }
"$SLUICE" inspect --head 5 "$INSIGHTS"/hourly_orders/part-*.parquet > "$OUT/inspect_hourly_orders.txt"
echo
echo "demo: done. Database: $MYSQL_DATABASE on 127.0.0.1:$MYSQL_PORT (scripts/mariadb-local.sh env)."
echo "demo: output: $INSIGHTS/<dataset>/part-*.parquet (six datasets), manifest $INSIGHTS/_SUCCESS,"
echo "demo:         raw tables under $OUT/raw/<table>/$DATE/"
echo "demo: report: $OUT/run.txt (rows, files, time per stage), $OUT/check.txt, $OUT/seed.txt,"
echo "demo:         $OUT/inspect_hourly_orders.txt (sluice inspect of one file)"
echo "demo: watching: $OUT/run.log.json (JSON log lines), $OUT/sluice.prom (metrics),"
echo "demo:         $OUT/dry-run.txt (sluice run --dry-run)"
