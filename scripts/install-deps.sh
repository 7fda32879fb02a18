#!/usr/bin/env bash
# Installs what sluice needs to build and test, and nothing that is already there.
# Debian packages through apt-get (as root, or through sudo); Python test tools into
# a virtual environment at .venv/ in the repository (git-ignored). Safe to run again.
# --docker adds what `make test-docker` needs (docker.io, docker-compose, debootstrap).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SLUICE_VENV:-$ROOT/.venv}"

DEB_PACKAGES=(
    build-essential pkg-config make
    libmariadb-dev mariadb-server mariadb-client
    libcurl4-openssl-dev libssl-dev openssl libzstd-dev libsnappy-dev zlib1g-dev
    libjansson-dev libexpat1-dev
    python3 python3-venv
    man-db groff-base
    chromium
    openjdk-17-jre-headless
    clang libclang-rt-14-dev   # make fuzz: clang 14's libFuzzer (libclang_rt.fuzzer) and sanitizers
    time                       # /usr/bin/time: peak RSS of one process in tests
    strace                     # tests: the system calls of a local write (fsync of new folders)
)
# make test-docker only (install-deps.sh --docker): a private dockerd, Compose, a base image
if [ "${1:-}" = "--docker" ]; then
    DEB_PACKAGES+=(docker.io docker-compose debootstrap)
fi
PY_PACKAGES=(pytest pyarrow duckdb pymysql boto3 "moto[server]" prometheus_client polars pyspark)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "install-deps: need root or sudo to run: $*" >&2; exit 3; fi
}

missing=()
for p in "${DEB_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing Debian packages: ${missing[*]}" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# A system service is not what we want: the project starts its own server in var/.
# (Debian's postinst may start one; it listens on 3306 and does not disturb ours.)

if [ ! -x "$VENV/bin/python" ]; then
    echo "install-deps: creating virtual environment $VENV" >&2
    python3 -m venv "$VENV"
fi
stamp="$VENV/.sluice-deps"
want="$(printf '%s\n' "${PY_PACKAGES[@]}")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "install-deps: installing Python test tools into $VENV" >&2
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "${PY_PACKAGES[@]}"
    printf '%s\n' "$want" > "$stamp"
fi
