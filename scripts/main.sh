#!/usr/bin/env bash
# The main job: install, then run a whole programme round (P1 Sichuan 揭榜挂帅 by default)
# on the embedded defaults: SQLite, Prefect's local/in-process server, the local message sink.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_LOGGING_LEVEL="${PREFECT_LOGGING_LEVEL:-WARNING}"
exec "$ROOT/.venv/bin/qcycle" simulate "${1:-config/programmes/sc-jbgs-2023.yaml}" "${@:2}"
