"""Purge deletes exactly the recorded copies and never follows a symlink out of them."""

from __future__ import annotations

import os
import pathlib

from recovery import purge
from recovery.closeout import Copy


def test_deletes_a_recorded_file_and_reports_its_size(tmp_path):
    image = tmp_path / "J.img"
    image.write_bytes(b"x" * 300)
    outcome = purge.destroy(Copy("image", image, "a" * 64))
    assert outcome.result == "deleted" and outcome.size == 300 and outcome.sha256 == "a" * 64
    assert not image.exists()


def test_missing_copy_is_already_gone(tmp_path):
    assert purge.destroy(Copy("image", tmp_path / "nothing.img")).result == "already gone"


def test_symlink_at_the_recorded_path_is_left_alone_and_its_target_kept(tmp_path):
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    (tmp_path / "J.img").symlink_to(precious)
    outcome = purge.destroy(Copy("image", tmp_path / "J.img"))
    assert outcome.result.startswith("refused: it is a symlink") and not outcome.ok
    assert precious.read_text() == "keep me" and (tmp_path / "J.img").is_symlink()


def test_a_folder_on_the_path_swapped_for_a_symlink_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "J.img").write_text("not ours")
    (tmp_path / "jobs").symlink_to(elsewhere)
    outcome = purge.destroy(Copy("image", tmp_path / "jobs" / "J.img"))
    assert outcome.result == "refused: a folder on its path is a symlink"
    assert (elsewhere / "J.img").read_text() == "not ours"


def test_scan_folder_is_removed_without_following_symlinks_inside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("keep me")
    scan = tmp_path / "scan"
    (scan / "carved").mkdir(parents=True)
    (scan / "carved" / "f1.jpg").write_bytes(b"j" * 10)
    (scan / "manifest.json").write_bytes(b"{}")
    (scan / "link").symlink_to(outside)
    outcome = purge.destroy(Copy("recovered files", scan, directory=True))
    assert outcome.result == "deleted" and outcome.files == 3 and outcome.size == 12
    assert not os.path.lexists(scan)
    assert (outside / "file").read_text() == "keep me"


def test_kind_mismatch_is_refused(tmp_path):
    (tmp_path / "J.img").mkdir()
    assert purge.destroy(Copy("image", tmp_path / "J.img")).result.startswith("refused: a file")
    (tmp_path / "scan").write_text("x")
    folder = Copy("recovered files", tmp_path / "scan", directory=True)
    assert purge.destroy(folder).result.startswith("refused: a directory")


def test_relative_or_dotted_paths_are_refused():
    for path in ("relative/J.img", "/srv/../etc/passwd", "/"):
        assert purge.destroy(Copy("image", pathlib.Path(path))).result.startswith("refused")
