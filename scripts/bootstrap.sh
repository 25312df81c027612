#!/usr/bin/env bash
# Create .venv and install qcycle with the versions we tested (constraints.txt).
# Usage: source scripts/bootstrap.sh [extra]   (extra: dev, postgres)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "qcycle needs Python 3.11 (found: $("$PY" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 1
fi
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  "$PY" -m venv "$ROOT/.venv"
fi
extra="${1:-}"
stamp="$ROOT/.venv/.qcycle-installed${extra:+-$extra}"
# Reinstall only when the dependency files changed since the last install.
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/constraints.txt" -nt "$stamp" ]; then
  "$ROOT/.venv/bin/python" -m pip install -q --upgrade "pip>=24" 2>&1 | grep -v "^WARNING: Location" || true
  "$ROOT/.venv/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT${extra:+[$extra]}" 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$ROOT/.venv/bin/python" -c "import qcycle, prefect, apprise" || { echo "install failed" >&2; exit 1; }
  touch "$stamp"
fi
