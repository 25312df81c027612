#!/usr/bin/env bash
# The tests: install qcycle with its test extras (and PostgreSQL 15 and Chromium if missing, as root),
# then run the whole suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing PostgreSQL 15 for the production-path tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null) \
    || echo "PostgreSQL could not be installed: its tests will say so and skip" >&2
fi
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Chromium (and a CJK font) for the browser test of the run-history UI"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
    || echo "Chromium could not be installed: the UI test will say so and skip" >&2
fi
bash "$ROOT/scripts/bootstrap.sh" dev
cd "$ROOT"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# Two workers by default (pytest-xdist; QCYCLE_TEST_WORKERS=0 runs in this process): most of
# the suite waits on servers and subprocesses, so even two cores nearly halve it. The slow
# tests start first (tests/conftest.py) and an idle worker takes queued tests from the other
# (worksteal), so neither ends alone with a long test. The slowest tests are listed at the end.
WORKERS="${QCYCLE_TEST_WORKERS:-2}"
DIST=()
[ "$WORKERS" != 0 ] && DIST=(--dist worksteal)
exec "$ROOT/.venv/bin/python" -m pytest -n "$WORKERS" "${DIST[@]}" --durations=20 "$@"
