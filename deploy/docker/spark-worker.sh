#!/usr/bin/env bash
# A Spark worker of the Compose deployment: one core, 1 GiB, registered with the master on
# 127.0.0.1:SPARK_MASTER_PORT; its web UI on SPARK_MASTER_WEBUI_PORT + N (N = 1 or 2).
set -euo pipefail
n="$1"
exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    "spark://127.0.0.1:${SPARK_MASTER_PORT:-17077}" --host 127.0.0.1 --cores 1 --memory 1g \
    --work-dir "/tmp/spark-worker-$n" --webui-port $(( ${SPARK_MASTER_WEBUI_PORT:-18080} + n ))
