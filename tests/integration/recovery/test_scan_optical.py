"""A CD or DVD image (ISO 9660 with Rock Ridge and Joliet names, as genisoimage writes it from
real files Debian ships): `media scan` finds the file system on the bare image and gets every
file back byte for byte under its own name, through The Sleuth Kit's ISO 9660 reader."""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import subprocess

import pytest

from recovery import scan
from tests.fixtures.requirements import skip_or_fail

LICENSES = pathlib.Path("/usr/share/common-licenses")


@pytest.fixture(scope="module")
def disc(tmp_path_factory):
    if shutil.which("genisoimage") is None:
        skip_or_fail("genisoimage missing (scripts/setup.sh --test)")
    root = tmp_path_factory.mktemp("disc")
    tree = root / "tree"
    (tree / "docs" / "deeper").mkdir(parents=True)
    shutil.copyfile(LICENSES / "GPL-3", tree / "docs" / "GPL-3")
    shutil.copyfile(LICENSES / "Apache-2.0", tree / "docs" / "deeper" / "Apache-2.0")
    (tree / "a name with spaces and more than eight.txt").write_bytes(bytes(range(256)) * 40)
    (tree / "empty").write_bytes(b"")
    image = root / "disc.iso"
    subprocess.run(
        ("genisoimage", "-quiet", "-R", "-J", "-V", "CUSTOMER", "-o", str(image), str(tree)),
        check=True,
        capture_output=True,
    )
    originals = {
        "/" + str(path.relative_to(tree)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in tree.rglob("*")
        if path.is_file()
    }
    return image, originals


def test_every_file_of_a_disc_image_comes_back_under_its_name(disc, tmp_path):
    image, originals = disc
    result = scan.scan(image, None, tmp_path / "out", options=scan.ScanOptions(carve=False))
    assert [partition.filesystem for partition in result.partitions] == ["iso9660"]
    found = {entry.original_path: entry for entry in result.entries}
    assert {path: entry.sha256 for path, entry in found.items()} == originals
    assert {entry.origin for entry in result.entries} == {"allocated"}
    for path, digest in originals.items():
        written = tmp_path / "out" / found[path].path
        assert hashlib.sha256(written.read_bytes()).hexdigest() == digest
    assert result.warnings == ()
