"""Under CI a fixture whose part is missing fails the run; elsewhere it skips with the reason.

Each case runs a tiny test file in a separate pytest process (pytester), once with CI=true and
once without, and reads the outcome pytest reports.
"""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]

TINY_TEST = """
import pytest
from tests.fixtures import requirements

@pytest.fixture
def sshd_like():
    requirements.skip_or_fail("/usr/sbin/sshd is not installed")

def test_needs_the_part(sshd_like):
    pass
"""


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_tiny=TINY_TEST)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-ra")


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_a_missing_part_fails_the_run_under_ci(pytester, monkeypatch, ci):
    result = _run(pytester, monkeypatch, ci)
    result.assert_outcomes(errors=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*CI=true and a required test part is missing: /usr/sbin/sshd is not installed*"]
    )


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_a_missing_part_skips_with_its_reason_outside_ci(pytester, monkeypatch, ci):
    result = _run(pytester, monkeypatch, ci)
    result.assert_outcomes(skipped=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["SKIPPED*/usr/sbin/sshd is not installed*"])


def test_no_fixture_module_skips_around_the_ci_check():
    """Every skip for a missing part goes through requirements.skip_or_fail."""
    fixtures = ROOT / "tests" / "fixtures"
    offenders = [
        path.name
        for path in sorted(fixtures.glob("*.py"))
        if path.name != "requirements.py"
        and ("pytest.skip(" in path.read_text() or "mark.skipif" in path.read_text())
    ]
    assert offenders == []
