#!/usr/bin/env bash
# The Compose deployment's S3-compatible store: moto's server (Debian packages no MinIO),
# listening on the port of S3_ENDPOINT (http://127.0.0.1:PORT). Objects live in memory:
# they go with the container.
set -euo pipefail
port="${S3_ENDPOINT:-http://127.0.0.1:19000}"
port="${port##*:}"; port="${port%%/*}"
case "$port" in (''|*[!0-9]*) echo "s3: S3_ENDPOINT must be http://127.0.0.1:PORT (got no port)" >&2; exit 3;; esac
exec python -m moto.server -H 127.0.0.1 -p "$port"
