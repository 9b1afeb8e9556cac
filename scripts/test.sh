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
# Two workers (pytest-xdist): most integration tests wait on restic, sshd or the S3 server, so
# two run side by side even on two cores; tests that use udevd or loop devices share one worker
# (tests/conftest.py). BACKUPCTL_TEST_WORKERS=0 runs everything in this process.
workers="${BACKUPCTL_TEST_WORKERS:-2}"
if [ "$workers" = 0 ]; then parallel=(); else parallel=(-n "$workers" --dist loadgroup); fi
"$VENV/bin/pytest" -p no:cacheprovider "${parallel[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
