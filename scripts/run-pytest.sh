#!/usr/bin/env bash
# Runs the pytest integration suite from the project's virtual environment.
# pytest's exit code 5 ("no tests collected") is a failure here, never a pass.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${SLUICE_VENV:-$ROOT/.venv}/bin/python"
if [ ! -x "$PY" ]; then
    echo "run-pytest: $PY missing; run scripts/install-deps.sh (or make deps)" >&2
    exit 1
fi
cd "$ROOT"
"$PY" -m pytest tests/integration "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
    echo "run-pytest: pytest collected no tests: failing" >&2
    exit 1
fi
exit "$rc"
