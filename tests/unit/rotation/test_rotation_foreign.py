"""When rotation leaves a forgotten hand-made snapshot's data at another location alone: the
location is down, lacks backupctl files, or holds another hand-made snapshot (restic never runs:
no prune is attempted, so none is faked here)."""

from __future__ import annotations

import pathlib

import pytest

from backupctl.reach import Reached
from backupctl.replication.manifest import Manifest
from backupctl.rotation import apply, foreign
from backupctl.rotation.progress import NoSteps

OURS = "snapshots/" + "a" * 64
HAND_MADE = "snapshots/" + "b" * 64
MANIFEST = Manifest({"config": 10, "data/aa/" + "c" * 64: 100, OURS: 5})


def _context(tmp_path: pathlib.Path) -> apply.Context:
    return apply.Context(tmp_path / "state.db", None, "mail", None, 1, NoSteps())


@pytest.mark.parametrize(
    ("listings", "failures", "why"),
    [
        ({}, {"nas": "down"}, "not reached"),
        ({"nas": {"config": 10, OURS: 5}}, {}, "it does not hold every backupctl file yet"),
        ({"nas": {**MANIFEST.files, HAND_MADE: 7}}, {}, "1 other hand-made snapshot(s) there"),
    ],
)
def test_hand_made_data_is_left_and_named_when_pruning_there_is_not_safe(
    tmp_path, listings, failures, why
):
    reached = Reached({}, listings, failures)
    cleaned = foreign.clean(
        _context(tmp_path), reached, MANIFEST, ["nas"], copy_back=lambda again: again
    )
    assert cleaned.events == ()
    (leftover,) = cleaned.leftovers
    assert leftover.startswith("location nas: data of forgotten snapshot(s) backupctl did not")
    assert f"({why})" in leftover
