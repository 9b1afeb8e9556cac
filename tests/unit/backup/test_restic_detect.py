"""restic's version is detected with the real binary and remembered until the binary changes."""

import json
import os
import shutil

import pytest

from backupctl.restic import operations
from tests.fixtures.requirements import skip_or_fail

RESTIC = shutil.which("restic")


@pytest.fixture(autouse=True)
def _restic_installed() -> None:
    if RESTIC is None:
        skip_or_fail("restic is not installed")


def test_version_is_detected_then_remembered_for_the_same_binary(tmp_path):
    first = operations.detect("restic", tmp_path)
    assert first.version >= (0, 14, 0)
    memo = tmp_path / "backupctl-restic-version.json"
    remembered = json.loads(memo.read_text())
    remembered["version"] = [0, 99, 0]  # if detect ran restic again, it would not say 0.99
    memo.write_text(json.dumps(remembered))
    assert operations.detect("restic", tmp_path).version == (0, 99, 0)


def test_a_changed_binary_is_asked_again(tmp_path):
    copy = tmp_path / "bin" / "restic"
    copy.parent.mkdir()
    shutil.copy2(RESTIC, copy)
    operations.detect(str(copy), tmp_path)
    memo = tmp_path / "backupctl-restic-version.json"
    remembered = json.loads(memo.read_text())
    memo.write_text(json.dumps({**remembered, "version": [0, 99, 0]}))
    os.utime(copy, ns=(1, 1))  # an upgrade changes the binary's mtime
    assert operations.detect(str(copy), tmp_path).version < (0, 99, 0)


def test_a_missing_binary_is_a_clear_error(tmp_path):
    with pytest.raises(operations.ResticError, match="not found"):
        operations.detect("no-such-restic-binary", tmp_path)
