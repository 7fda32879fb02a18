#!/usr/bin/env bash
# `make test-docker`: the Compose deployment (deploy/) end to end where no container
# registry is reachable. Starts a private dockerd (no iptables, no bridge; overlay2 storage,
# or vfs where overlay2 cannot run; data-root, socket and pid under var/docker/), makes a
# Debian 12 base image with debootstrap + docker import (the root filesystem tarball is
# cached in var/docker/), builds deploy/Dockerfile offline (Debian packages from the
# mirror, Python wheels built from pip's cache into var/wheels/), starts
# deploy/docker-compose.yml on free ports with a generated .env, runs the job, and checks
# the six datasets in the store against a single-process `sluice run` of the same database
# and as-of (tests/docker/check_store.py). Always tears the stack down, stops the daemon it
# started and unmounts what it left under var/docker (trap). Images stay in var/docker/data
# as a build cache, beside the rootfs tarball and var/wheels; SLUICE_DOCKER_FRESH=1 starts
# from nothing: all three removed, the wheels fetched from PyPI (pip's local cache is never
# used).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VAR="$ROOT/var/docker"
VENV="${SLUICE_VENV:-$ROOT/.venv}"
MIRROR="${SLUICE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMAGE="sluice:test"
BASE="sluice-base:bookworm"
say() { echo "test-docker: $*" >&2; }

# dockerd leaves mounts under its exec-root (netns/default) and, if it dies with containers,
# under its data-root; they make `rm -rf var/docker` fail with "Device or resource busy".
# Deepest first; lazily if still busy. Only mounts under this checkout's var/docker.
unmount_leftovers() {
    local m
    while read -r m; do
        if umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; then say "unmounted ${m#"$ROOT"/}"
        else say "cannot unmount $m"; fi
    done < <(awk -v v="$VAR/" 'index($5, v) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
}

mkdir -p "$VAR"
if [ -f "$VAR/dockerd.pid" ] && kill -0 "$(cat "$VAR/dockerd.pid")" 2>/dev/null; then
    say "a dockerd of var/docker (pid $(cat "$VAR/dockerd.pid")) is already running: stop it first"; exit 1
fi
unmount_leftovers # a previous run that was killed before its cleanup
if [ "${SLUICE_DOCKER_FRESH:-0}" = 1 ]; then
    say "fresh: removing the image cache, the rootfs tarball and the wheels"
    rm -rf "$VAR/data" "$VAR/exec" "$VAR/rootfs.tar" "$VAR/rootfs" "$ROOT/var/wheels"
fi
export DOCKER_HOST="unix://$VAR/docker.sock"
PROJECT="sluicetest$$"
ENVF="$VAR/test.env"
DPID=""
DC=()
cleanup() {
    rc=$?
    if [ "${#DC[@]}" -gt 0 ]; then
        "${DC[@]}" logs --no-color >"$VAR/stack.log" 2>&1 || true
        "${DC[@]}" down -v --remove-orphans >>"$VAR/down.log" 2>&1 || true
    fi
    if [ -n "$DPID" ]; then
        kill "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    unmount_leftovers
    rm -f "$ENVF"
    [ "$rc" = 0 ] || say "FAILED (exit $rc); logs in var/docker/ (dockerd.log, build.log, job.log, stack.log)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Storage: overlay2 where the kernel and the file system under var/ allow it (containers
# share the image's layers: a few GB in all), else vfs, which stores every layer and every
# container as a whole copy of its file system (about 40 GB at the peak of this run).
# dockerd refuses to start with a driver it cannot use, so the first that starts is it.
# SLUICE_DOCKER_STORAGE=vfs (or overlay2) forces one.
start_dockerd() { # driver
    dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver="$1" --data-root "$VAR/data" \
        --exec-root "$VAR/exec" --pidfile "$VAR/dockerd.pid" --host "$DOCKER_HOST" \
        </dev/null >"$VAR/dockerd.log" 2>&1 &
    DPID=$!
    for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && return 0; kill -0 "$DPID" 2>/dev/null || break; sleep 0.5; done
    kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true
    DPID=""
    unmount_leftovers
    return 1
}
STORAGE=""
for driver in ${SLUICE_DOCKER_STORAGE:-overlay2 vfs}; do
    if start_dockerd "$driver"; then STORAGE=$driver; break; fi
    say "dockerd does not start with the $driver storage driver (var/docker/dockerd.log):"
    { grep -E "failed to start|level=(error|fatal)" "$VAR/dockerd.log" || tail -3 "$VAR/dockerd.log"; } | tail -2 >&2
done
[ -n "$STORAGE" ] || exit 1
free_gb=$(( $(df -k --output=avail "$VAR" | tail -1) / 1048576 ))
say "dockerd with the $STORAGE storage driver; ${free_gb} GB free under var/docker"
need_gb=$([ "$STORAGE" = vfs ] && echo 40 || echo 6)
[ "$free_gb" -ge "$need_gb" ] || say "warning: a run from nothing took up to $need_gb GB here with $STORAGE (README)"

# the base image: Debian 12 from Debian's own packages
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    if [ ! -s "$VAR/rootfs.tar" ]; then
        say "debootstrap bookworm (once; cached in var/docker/rootfs.tar)"
        rm -rf "$VAR/rootfs"
        debootstrap --variant=minbase bookworm "$VAR/rootfs" "$MIRROR" >"$VAR/debootstrap.log" 2>&1 \
            || { tail -20 "$VAR/debootstrap.log" >&2; exit 1; }
        tar -C "$VAR/rootfs" -cf "$VAR/rootfs.tar.tmp" . && mv "$VAR/rootfs.tar.tmp" "$VAR/rootfs.tar"
        rm -rf "$VAR/rootfs"
    fi
    docker import "$VAR/rootfs.tar" "$BASE" >/dev/null
fi

# Python wheels for the image, from PyPI (pyspark is published as a source archive: pip
# builds its wheel here). Never from pip's local cache or a local --find-links folder, so a
# machine with a cold cache gets the same set: --no-cache-dir, PIP_FIND_LINKS cleared.
# var/wheels/ is this script's own cache, remade when the list changes. The wheels must
# suit the image's Python, Debian 12's 3.11: the venv's pip picks them for its own.
want="$(printf '%s\n' pyspark "moto[server]" boto3)"
if [ "$(cat "$ROOT/var/wheels/.want" 2>/dev/null)" != "$want" ]; then
    pyver="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ "$pyver" != 3.11 ]; then
        say "the venv's Python is $pyver; the image's (Debian 12) is 3.11: its wheels would not install"; exit 1
    fi
    say "collecting wheels from PyPI into var/wheels/ (log: var/docker/wheels.log)"
    rm -rf "$ROOT/var/wheels"; mkdir -p "$ROOT/var/wheels"
    start=$SECONDS
    # shellcheck disable=SC2086
    env -u PIP_FIND_LINKS "$VENV/bin/pip" wheel --no-cache-dir -w "$ROOT/var/wheels" $want \
        >"$VAR/wheels.log" 2>&1 || { tail -30 "$VAR/wheels.log" >&2; exit 1; }
    printf '%s\n' "$want" >"$ROOT/var/wheels/.want"
    say "wheels collected in $((SECONDS - start)) s ($(du -sh "$ROOT/var/wheels" | cut -f1))"
fi

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
S3_PORT=$(free_port)
AS_OF="2026-06-29 18:00:00"
umask 077
cat >"$ENVF" <<ENV
MYSQL_HOST=127.0.0.1
MYSQL_PORT=$(free_port)
MYSQL_DATABASE=sluice
MYSQL_USER=sluice
MYSQL_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
AWS_REGION=us-east-1
S3_ENDPOINT=http://127.0.0.1:$S3_PORT
SPARK_MASTER_PORT=$(free_port)
SPARK_MASTER_WEBUI_PORT=$(free_port)
SPARK_DRIVER_UI_PORT=$(free_port)
SLUICE_BUCKET=sluice-lake
SLUICE_PREFIX=lake
SLUICE_SEED_SCALE=0.01
SLUICE_SEED_ANCHOR=2026-06-30 00:00:00
SLUICE_AS_OF=$AS_OF
ENV
umask 022
export SLUICE_ENV_FILE="$ENVF" SLUICE_IMAGE="$IMAGE" SLUICE_BASE_IMAGE="$BASE" \
    SLUICE_WHEELS=var/wheels SLUICE_PIP_OPTIONS=--no-index
# under vfs, creating a container copies the whole image: minutes on a busy machine
export COMPOSE_HTTP_TIMEOUT=900 DOCKER_CLIENT_TIMEOUT=900
if docker compose version >/dev/null 2>&1; then DC=(docker compose); else DC=(docker-compose); fi
DC+=(-p "$PROJECT" -f deploy/docker-compose.yml)

say "building $IMAGE (log: var/docker/build.log)"
start=$SECONDS
COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0 "${DC[@]}" build mariadb >"$VAR/build.log" 2>&1 \
    || { tail -30 "$VAR/build.log" >&2; exit 1; }
# Tag the build stage as well: untagged it is "dangling", and the prune below would drop
# the cache of its slow steps (apt, pip). Every step is cached here: this only tags.
DOCKER_BUILDKIT=0 docker build -q --network host --target build -t "$IMAGE-build" --build-arg BASE="$BASE" \
    --build-arg WHEELS=var/wheels --build-arg PIP_OPTIONS=--no-index -f deploy/Dockerfile . >>"$VAR/build.log" 2>&1 \
    || { tail -30 "$VAR/build.log" >&2; exit 1; }
# What earlier runs built and this one replaced is untagged now: it goes (under vfs every
# layer is a whole copy of its file system, GBs each).
docker image prune -f >/dev/null 2>&1 || true
say "built in $((SECONDS - start)) s; starting the stack (project $PROJECT)"
"${DC[@]}" up -d --no-build mariadb s3 spark-master spark-worker-1 spark-worker-2 >"$VAR/up.log" 2>&1 \
    || { tail -30 "$VAR/up.log" >&2; exit 1; }
start=$SECONDS
timeout 900 "${DC[@]}" up --no-build --no-color --exit-code-from job job >"$VAR/job.log" 2>&1 \
    || { tail -40 "$VAR/job.log" >&2; exit 1; }
say "the job ran in $((SECONDS - start)) s"

# the oracle: a single-process run of the same database and as-of, on this machine
ONE="$VAR/one-process"; rm -rf "$ONE"
build/sluice --env-file "$ENVF" run --output "$ONE" --as-of "$AS_OF" --progress off -q
"$VENV/bin/python" tests/docker/check_store.py "$ONE" "$ENVF"
rm -rf "$ONE"
