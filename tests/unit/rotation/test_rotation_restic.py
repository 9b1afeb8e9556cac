"""restic forget and prune for rotation: argv by equality, prune's summary parsed from the text
restic 0.14 and 0.18 print."""

from __future__ import annotations

import pathlib

import pytest

from backupctl.restic import commands, messages
from backupctl.restic.flags import Repository, Restic

CACHE = pathlib.Path("/var/lib/backupctl/restic-cache")
OLD = Restic("/usr/bin/restic", (0, 14, 0), CACHE)
NEW = Restic("/usr/local/bin/restic", (0, 18, 0), CACHE)
LOCAL = Repository("/mnt/nas/mail")
GLOBAL = ("--repo", "/mnt/nas/mail", "--cache-dir", str(CACHE))
ID_A = "a" * 64
ID_B = "0123456789abcdef" * 4


def test_forget_names_exact_ids_after_a_double_dash():
    assert commands.forget_argv(OLD, LOCAL, (ID_A, ID_B)) == (
        "/usr/bin/restic", "forget", *GLOBAL, "--", ID_A, ID_B,
    )  # fmt: skip
    assert commands.forget_argv(NEW, LOCAL, (ID_A,)) == (
        "/usr/local/bin/restic", "forget", *GLOBAL, "--retry-lock", "5m", "--", ID_A,
    )  # fmt: skip


@pytest.mark.parametrize("bad", ["latest", "a" * 8, "A" * 64, "--keep-last=1", "a" * 63 + "\n"])
def test_forget_refuses_anything_but_a_full_snapshot_id(bad):
    with pytest.raises(ValueError, match="not a full snapshot id"):
        commands.forget_argv(OLD, LOCAL, (ID_A, bad))


def test_prune_waits_for_a_lock_where_restic_can():
    assert commands.prune_argv(OLD, LOCAL) == ("/usr/bin/restic", "prune", *GLOBAL)
    assert commands.prune_argv(NEW, LOCAL) == (
        "/usr/local/bin/restic", "prune", *GLOBAL, "--retry-lock", "5m",
    )  # fmt: skip


def test_a_first_attempt_does_not_wait_for_a_lock():
    assert commands.prune_argv(NEW, LOCAL, lock_wait=None) == (
        "/usr/local/bin/restic", "prune", *GLOBAL,
    )  # fmt: skip
    assert commands.forget_argv(NEW, LOCAL, (ID_A,), lock_wait=None) == (
        "/usr/local/bin/restic", "forget", *GLOBAL, "--", ID_A,
    )  # fmt: skip


PRUNE_0_14 = """loading indexes...
[0:00] 100.00%  4 / 4 packs processed

to repack:             0 blobs / 0 B
this removes:          0 blobs / 0 B
to delete:             3 blobs / 541 B
total prune:           3 blobs / 541 B
remaining:             3 blobs / 542 B
unused size after prune: 0 B (0.00% of remaining size)

removing 2 old packs
done
"""
PRUNE_0_18 = PRUNE_0_14.replace("541 B", "1.612 KiB").replace("removing", "[0:00] removing")


@pytest.mark.parametrize(("text", "size"), [(PRUNE_0_14, "541 B"), (PRUNE_0_18, "1.612 KiB")])
def test_prune_summary_is_parsed_from_either_version(text, size):
    summary = messages.parse_prune_output(text)
    assert summary.blobs == {
        "to repack": 0, "this removes": 0, "to delete": 3, "total prune": 3, "remaining": 3,
    }  # fmt: skip
    assert summary.sizes["total prune"] == size
    assert summary.describe() == f"total prune 3 blobs / {size}, remaining 3 blobs / 542 B"


def test_prune_output_without_a_summary_gives_an_empty_one():
    summary = messages.parse_prune_output("nothing to do\n")
    assert summary.blobs == {} and summary.describe() == ""


def test_prune_without_repacking_only_deletes_unused_packs():
    assert commands.prune_argv(OLD, LOCAL, repack=False) == (
        "/usr/bin/restic", "prune", *GLOBAL, "--max-unused", "unlimited",
    )  # fmt: skip
