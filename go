#!/usr/bin/env bash
# The two entry points of the README:
#   ./go test          set up, then run the tests (tox)
#   ./go [ARGS...]     set up, then `bench ARGS` (default: `bench run`, the full comparison and report)
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "test" ]; then
  shift
  scripts/bootstrap.sh --tests
  exec .venv/bin/tox "$@"
fi
scripts/bootstrap.sh
[ $# -gt 0 ] || set -- run
exec .venv/bin/bench "$@"
