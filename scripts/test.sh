#!/usr/bin/env bash
# Runs the test suite against the package installed by scripts/setup.sh (arguments go to pytest).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$repo/.venv}"
if [ ! -x "$venv/bin/pytest" ] || [ ! -f "$repo/build/cmake/CMakeCache.txt" ]; then
  echo "test.sh: run scripts/setup.sh first (no virtualenv or build at $venv)." >&2
  exit 2
fi
# Pick up Python files added since the last set-up (the install links each source file).
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
(cd "$repo/build/cmake" && cmake --install .) > "$repo/build/logs/install.log" 2>&1 \
  || { tail -20 "$repo/build/logs/install.log" >&2; echo "test.sh: re-installing the package failed" >&2; exit 2; }
cd "$repo"
exec "$venv/bin/pytest" "$@"
