#!/usr/bin/env bash
# The Compose deployment's job: waits for the Spark master and its two workers and for
# the store, makes the bucket SLUICE_BUCKET, seeds sample data (SLUICE_SEED_SCALE,
# SLUICE_SEED_ANCHOR) and runs the pipeline through Spark into
# s3://SLUICE_BUCKET/SLUICE_PREFIX as of SLUICE_AS_OF. Its exit code is the run's.
set -euo pipefail
: "${SLUICE_BUCKET:?job: set SLUICE_BUCKET in .env}"
python - <<'PY'
import json, os, time, urllib.request
import boto3
url = f"http://127.0.0.1:{os.environ.get('SPARK_MASTER_WEBUI_PORT', '18080')}/json/"
for _ in range(240):
    try:
        if json.load(urllib.request.urlopen(url, timeout=2)).get("aliveworkers", 0) >= 2:
            break
    except OSError:
        pass
    time.sleep(0.5)
else:
    raise SystemExit(f"job: the Spark master ({url}) has not two alive workers after 120 s")
s3 = boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT"),
                  region_name=os.environ.get("AWS_REGION", "us-east-1"))
bucket, err = os.environ["SLUICE_BUCKET"], None
for _ in range(120):
    try:
        s3.head_bucket(Bucket=bucket)
        break
    except Exception as e:  # noqa: BLE001 - absent (create it), or the store still starting
        err = e
        try:
            s3.create_bucket(Bucket=bucket)
            break
        except Exception as e2:  # noqa: BLE001
            err = e2
            time.sleep(0.5)
else:
    raise SystemExit(f"job: cannot reach or create bucket {bucket}: {err}")
PY
sluice seed --scale "${SLUICE_SEED_SCALE:-0.01}" --anchor "${SLUICE_SEED_ANCHOR:-2026-06-30 00:00:00}" --replace
exec "$SPARK_HOME/bin/spark-submit" --master "spark://127.0.0.1:${SPARK_MASTER_PORT:-17077}" \
    --conf spark.ui.showConsoleProgress=false --conf "spark.ui.port=${SPARK_DRIVER_UI_PORT:-14040}" \
    deploy/spark/sluice_spark.py run --output "s3://${SLUICE_BUCKET}/${SLUICE_PREFIX:-lake}" \
    --as-of "${SLUICE_AS_OF:-2026-06-29 18:00:00}"
