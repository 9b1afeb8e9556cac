"""PhotoRec's runner: bounded in time, without paying for the bound when PhotoRec is quick.

``sleep`` stands in for PhotoRec (no input makes the real one hang, or take an exact time, on
demand); the runner, its process group and its timer are the real thing. The version call runs
the real PhotoRec.
"""

from __future__ import annotations

import shutil
import time

import pytest

from recovery import photorec
from tests.fixtures.requirements import skip_or_fail


def test_a_run_past_its_time_bound_is_killed_with_its_group(tmp_path):
    started = time.monotonic()
    with pytest.raises(photorec.PhotorecError, match=r"did not finish within 0\.3 s"):
        photorec.run(("sh", "-c", "sleep 30 & sleep 30"), cwd=str(tmp_path), timeout=0.3)
    assert time.monotonic() - started < 5


def test_a_quick_run_returns_when_it_ends_not_at_a_polling_step(tmp_path):
    seconds = []
    for _ in range(3):
        started = time.monotonic()
        # PhotoRec closes its standard error early: the wait for its end is all that is left
        photorec.run(("sh", "-c", "exec 2>&-; sleep 0.035"), cwd=str(tmp_path), timeout=60)
        seconds.append(time.monotonic() - started)
    # a bound kept by polling (sleeps of 0.5, 1, 2 … 32 ms) came back at about 63 ms
    assert min(seconds) < 0.055, seconds


def test_the_version_call_is_bounded_the_same_way():
    if shutil.which("photorec") is None:
        skip_or_fail("testdisk missing (scripts/setup.sh --test)")
    assert photorec.parse_version(f"PhotoRec {photorec.version()}") == photorec.version()
    with pytest.raises(photorec.PhotorecError, match="cannot run"):
        photorec.version("/nonexistent/photorec")
