#!/usr/bin/env bash
# Run the whole suite. Services the tests need (sshd, the S3-compatible server, udevd) are
# started by the test session's own fixtures on 127.0.0.1 and stopped at its end.
# Under CI (CI=true, set by the CI system) a test part that is missing fails the run instead of
# skipping (tests/fixtures/requirements.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
"$VENV/bin/lint-imports" --no-cache
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
set +e
"$VENV/bin/pytest" -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
