#!/usr/bin/env bash
# A throwaway Spark standalone cluster on this machine, as the original pipeline's
# Compose file ran one: a master and two workers (1 core, 1 GiB each), Spark from the
# pyspark package in the project's virtual environment, Java from Debian's
# openjdk-17-jre-headless (scripts/install-deps.sh installs both). State and logs in
# var/spark/ (git-ignored). No service, nothing outside the repository.
#
#   scripts/spark-local.sh start|stop|status|env
#
# Settings: SLUICE_VAR (default <repo>/var), SLUICE_VENV (default <repo>/.venv),
# SLUICE_SPARK_PORT (master, default 7077), SLUICE_SPARK_WEBUI_PORT (default 8090; the
# workers' UIs take the next ports), SLUICE_SPARK_WORKERS (default 2).
# `env` prints SPARK_MASTER_URL=spark://... and what spark-submit needs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${SLUICE_VAR:-$ROOT/var}"
case "$VAR" in /*) ;; *) VAR="$PWD/$VAR" ;; esac
VENV="${SLUICE_VENV:-$ROOT/.venv}"
PORT="${SLUICE_SPARK_PORT:-7077}"
WEBUI="${SLUICE_SPARK_WEBUI_PORT:-8090}"
NWORKERS="${SLUICE_SPARK_WORKERS:-2}"
DIR="$VAR/spark"
URL="spark://127.0.0.1:$PORT"

spark_home() {
    [ -x "$VENV/bin/python" ] || { echo "spark-local: $VENV/bin/python missing; run scripts/install-deps.sh" >&2; exit 3; }
    local h
    h="$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null)" ||
        { echo "spark-local: pyspark is not installed in $VENV; run scripts/install-deps.sh" >&2; exit 3; }
    echo "$h"
}

setup_env() {
    command -v java >/dev/null 2>&1 || { echo "spark-local: no java; run scripts/install-deps.sh (openjdk-17-jre-headless)" >&2; exit 3; }
    SPARK_HOME="$(spark_home)"
    # The venv's spark-submit wrapper looks for the jars under SPARK_HOME; executors run
    # the same Python as the driver.
    export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$VENV/bin/python" PYSPARK_DRIVER_PYTHON="$VENV/bin/python"
    export SPARK_LOG_DIR="$DIR/logs" SPARK_PID_DIR="$DIR" SPARK_NO_DAEMONIZE=1
}

alive_pid() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

alive_workers() {
    # The master's JSON status page counts the workers that registered.
    "$VENV/bin/python" - "$WEBUI" <<'EOF' 2>/dev/null || echo 0
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2) as r:
    print(json.load(r).get("aliveworkers", 0))
EOF
}

cmd_start() {
    setup_env
    mkdir -p "$DIR/logs"
    if alive_pid "$DIR/master.pid"; then
        echo "spark-local: already running (master $URL, UI http://127.0.0.1:$WEBUI)" >&2
        return 0
    fi
    nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" \
        --webui-port "$WEBUI" >"$DIR/logs/master.out" 2>&1 &
    echo $! >"$DIR/master.pid"
    for i in $(seq 1 "$NWORKERS"); do
        mkdir -p "$DIR/worker-$i"
        nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker "$URL" --host 127.0.0.1 \
            --cores 1 --memory 1g --webui-port $((WEBUI + i)) --work-dir "$DIR/worker-$i" \
            >"$DIR/logs/worker-$i.out" 2>&1 &
        echo $! >"$DIR/worker-$i.pid"
    done
    for _ in $(seq 1 120); do
        if [ "$(alive_workers)" -ge "$NWORKERS" ]; then
            echo "spark-local: running (master $URL, $NWORKERS workers, UI http://127.0.0.1:$WEBUI)" >&2
            return 0
        fi
        alive_pid "$DIR/master.pid" || break
        sleep 0.5
    done
    echo "spark-local: the master or a worker did not come up; logs in $DIR/logs" >&2
    tail -n 20 "$DIR/logs/"*.out >&2 || true
    cmd_stop
    exit 1
}

cmd_stop() {
    local any=0
    for f in "$DIR"/worker-*.pid "$DIR/master.pid"; do
        [ -f "$f" ] || continue
        if alive_pid "$f"; then
            kill "$(cat "$f")" 2>/dev/null || true
            any=1
        fi
    done
    for f in "$DIR"/worker-*.pid "$DIR/master.pid"; do
        [ -f "$f" ] || continue
        for _ in $(seq 1 40); do alive_pid "$f" || break; sleep 0.25; done
        alive_pid "$f" && kill -9 "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    [ "$any" = 1 ] && echo "spark-local: stopped" >&2 || echo "spark-local: not running" >&2
}

cmd_status() {
    if alive_pid "$DIR/master.pid"; then
        echo "spark-local: running (master $URL, $(alive_workers) workers alive, UI http://127.0.0.1:$WEBUI)"
    else
        echo "spark-local: not running"
        return 1
    fi
}

cmd_env() {
    setup_env
    echo "SPARK_MASTER_URL=$URL"
    echo "SPARK_HOME=$SPARK_HOME"
    echo "SPARK_LOCAL_IP=127.0.0.1"
    echo "PYSPARK_PYTHON=$PYSPARK_PYTHON"
    echo "PYSPARK_DRIVER_PYTHON=$PYSPARK_DRIVER_PYTHON"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
*) echo "usage: scripts/spark-local.sh start|stop|status|env" >&2; exit 2 ;;
esac
