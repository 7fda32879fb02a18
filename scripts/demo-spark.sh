#!/usr/bin/env bash
# `make demo-spark`: the demo pipeline scheduled by Spark. Starts the local MariaDB and
# the local Spark cluster (a master, two workers), seeds sample data, runs
# `sluice_spark.py run --raw` into ./output-spark/ and says where things are. The
# cluster keeps running for its UI; `scripts/spark-local.sh stop` ends it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SLUICE="$ROOT/build/sluice"
bash scripts/mariadb-local.sh start
bash scripts/spark-local.sh start
set -a
eval "$(bash scripts/mariadb-local.sh env)"
eval "$(bash scripts/spark-local.sh env)"
set +a
OUT="$ROOT/output-spark"
mkdir -p "$OUT"
"$SLUICE" seed --scale "${SLUICE_DEMO_SCALE:-0.01}" --replace 2>&1 | tee "$OUT/seed.txt"
"$SPARK_HOME/bin/spark-submit" --master "$SPARK_MASTER_URL" --conf spark.ui.showConsoleProgress=false \
    deploy/spark/sluice_spark.py run --output "$OUT" --raw 2>"$OUT/spark-submit.log" | tee "$OUT/run.txt"
SUCCESS="$(ls "$OUT"/business_insights/*/_SUCCESS | tail -1)"
INSIGHTS="$(dirname "$SUCCESS")"
"${SLUICE_VENV:-$ROOT/.venv}/bin/python" - "$SUCCESS" <<'PY' | tee -a "$OUT/run.txt"
import json, sys
m = json.load(open(sys.argv[1]))
print(f"demo-spark: engine {m['engine']}, application {m['application_id']}, {len(m['files'])} files")
for t in m["tasks"]:
    print(f"demo-spark:   task {t['label']!r} ran on {t['executor']} (attempts {t['attempts']})")
PY
echo "demo-spark: output: $INSIGHTS/ (manifest _SUCCESS, report.html); Spark's log: $OUT/spark-submit.log"
echo "demo-spark: the cluster's UI: $(bash scripts/spark-local.sh status)"
