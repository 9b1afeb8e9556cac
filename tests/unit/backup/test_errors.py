"""Exit codes: the documented values, and how per-location outcomes combine."""

from __future__ import annotations

import pytest

from backupctl import errors
from backupctl.errors import ExitCode, exit_code_for


def test_documented_exit_code_values():
    assert [(code.name, int(code)) for code in ExitCode] == [
        ("OK", 0),
        ("PARTIAL", 1),
        ("USAGE", 2),
        ("FAILED", 3),
        ("REFUSED", 4),
        ("WARNING", 5),
        ("EMPTY_SNAPSHOT", 6),
        ("INTERRUPTED", 130),
    ]


@pytest.mark.parametrize(("codes", "expected"), [
    ([], ExitCode.OK), ([0, 0], ExitCode.OK), ([0, 5], ExitCode.WARNING),
    ([5, 6], ExitCode.EMPTY_SNAPSHOT), ([6, 1, 5], ExitCode.PARTIAL), ([1, 3], ExitCode.FAILED),
    ([3, 4], ExitCode.REFUSED), ([5, 130, 3], ExitCode.INTERRUPTED),
])  # fmt: skip
def test_most_serious_outcome_is_the_exit_code(codes, expected):
    assert errors.most_serious(codes) is expected


@pytest.mark.parametrize(("outcomes", "code"), [
    ([True], ExitCode.OK), ([True, True, True], ExitCode.OK), ([], ExitCode.OK),
    ([True, False], ExitCode.PARTIAL), ([False, True, True], ExitCode.PARTIAL),
    ([False], ExitCode.FAILED), ([False, False], ExitCode.FAILED),
])  # fmt: skip
def test_exit_code_for(outcomes, code):
    assert exit_code_for(outcomes) is code


@pytest.mark.parametrize(("error_class", "code"), [
    (errors.BackupctlError, 3), (errors.ConfigError, 2), (errors.RefusedError, 4),
])  # fmt: skip
def test_error_classes_carry_their_exit_code(error_class, code):
    assert error_class("x").exit_code == code
    assert issubclass(error_class, errors.BackupctlError)


class _LowerLayerError(Exception):
    exit_code = 3  # the convention lower packages follow without importing backupctl


@pytest.mark.parametrize(("error", "expected"), [
    (errors.ConfigError("x"), True), (_LowerLayerError("x"), True),
    (ValueError("x"), False), (KeyboardInterrupt(), False),
])  # fmt: skip
def test_is_expected_follows_the_exit_code_convention(error, expected):
    assert errors.is_expected(error) is expected
