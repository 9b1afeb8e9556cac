"""`backupctl media scan` and `media browse` on test media built by tests/fixtures/make_media.py.

Real parts: file systems written by mkfs/mtools/debugfs/ntfs-3g (FUSE), The Sleuth Kit, PhotoRec
and the installed CLI. The job's image is put in place and recorded as an ``image.finished``
event instead of running ddrescue on a device (imaging has its own tests with loop devices); its
mapfile is written to mark an area unreadable, as ddrescue would on a failing medium.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import stat
import subprocess
import sys

import pytest

from recovery import mapfile as mapfile_module
from recovery.jobs import JobStore
from tests.fixtures import make_media
from tests.fixtures.requirements import skip_or_fail

BACKUPCTL = pathlib.Path(sys.executable).parent / "backupctl"
TOOLS = ("photorec", "mkfs.fat", "mcopy", "mkfs.ext4", "debugfs", "mkfs.ntfs", "ntfs-3g")


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """FAT32, ext4, NTFS and the reformatted image with 30 files each, built once."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        skip_or_fail(f"test media tools missing: {', '.join(missing)} (scripts/setup.sh --test)")
    if not os.path.exists("/dev/fuse"):
        skip_or_fail("no /dev/fuse: the NTFS test image is written through ntfs-3g")
    folder = tmp_path_factory.mktemp("media")
    return {
        kind: make_media.build(kind, folder, files=30)
        for kind in ("fat32", "ext4", "ntfs", "reformatted")
    }


def run_cli(state_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BACKUPCTL_STATE_DIR": str(state_dir),
        "BACKUPCTL_CONFIG": str(state_dir / "absent.toml"),
        "SUDO_USER": "tech-anna",
    }
    return subprocess.run(
        (str(BACKUPCTL), *args), check=False, capture_output=True, text=True, env=env, timeout=120
    )


def imaged_job(state_dir, image: pathlib.Path, *, bad: tuple[int, int] | None = None) -> str:
    """Open a job, put ``image`` in its folder as if ``media image`` had made it, with a mapfile
    marking ``bad`` (offset, size) as bad sectors (zeros in the image, as ddrescue leaves)."""
    store = JobStore(state_dir / "state.db", state_dir / "jobs")
    job = store.open_job(
        customer="C-1", consent_ref="CF-1", ticket=None, note=None, actor="tech", host="bench"
    )
    target = job.folder / f"{job.job_id}.img"
    shutil.copyfile(image, target)
    size = target.stat().st_size
    blocks = [mapfile_module.Block(0, size, mapfile_module.BlockStatus.FINISHED)]
    if bad is not None:
        offset, length = bad
        with open(target, "r+b") as stream:
            stream.seek(offset)
            stream.write(b"\0" * length)
        blocks = [
            mapfile_module.Block(0, offset, mapfile_module.BlockStatus.FINISHED),
            mapfile_module.Block(offset, length, mapfile_module.BlockStatus.BAD_SECTOR),
            mapfile_module.Block(
                offset + length, size - offset - length, mapfile_module.BlockStatus.FINISHED
            ),
        ]
    with open(job.folder / f"{job.job_id}.map", "w") as stream:
        mapfile_module.write(mapfile_module.Mapfile(size, "+", 1, tuple(blocks)), stream)
    paths = {"image": str(target), "mapfile": str(job.folder / f"{job.job_id}.map")}
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    store.record_event(
        job.job_id,
        kind="image.finished",
        actor="tech",
        host="bench",
        details={"paths": paths, "sha256": digest},
    )
    return job.job_id


def recovered(out: pathlib.Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_scan_fat32_recovers_allocated_and_deleted_files_and_flags_damage(media, tmp_path):
    image, originals = media["fat32"]
    victim = next(item for item in originals if not item["deleted"])
    source = pathlib.Path(
        next(
            p
            for p in make_media.pick_files(30)
            if hashlib.sha256(p.read_bytes()).hexdigest() == victim["sha256"]
        )
    )
    offset = image.read_bytes().find(source.read_bytes())
    job_id = imaged_job(tmp_path / "state", image, bad=(offset + 512, 1024))
    out = tmp_path / "out"
    result = run_cli(tmp_path / "state", "media", "scan", job_id, "--to", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    manifest = recovered(out)
    by_sha = {entry["sha256"]: entry for entry in manifest["files"]}
    for item in originals:
        if item is victim:
            continue
        entry = by_sha[item["sha256"]]
        assert entry["origin"] == ("deleted" if item["deleted"] else "allocated")
        assert entry["damaged_bytes"] == 0 and entry["size"] == item["size"]
        assert (out / entry["path"]).read_bytes() and entry["path"].startswith(entry["origin"])
    damaged = [entry for entry in manifest["files"] if entry["damaged_bytes"]]
    assert [(entry["original_path"], entry["damaged_bytes"]) for entry in damaged] == [
        (victim["path"], 1024)
    ]
    assert summary["counts"]["damaged"] == 1
    assert summary["counts"]["deleted"] == sum(item["deleted"] for item in originals)
    assert set(manifest["files"][0]) >= {
        "path",
        "size",
        "sha256",
        "origin",
        "original_path",
        "times",
        "damaged_bytes",
    }
    rows = (out / "manifest.csv").read_text().splitlines()
    assert len(rows) == len(manifest["files"]) + 1 and rows[0].startswith("path,size,sha256")
    for path in (out, *out.rglob("*")):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    shown = json.loads(run_cli(tmp_path / "state", "job", "show", job_id, "--json").stdout)
    event = shown["events"][-1]
    assert event["kind"] == "scan.finished" and shown["chain"]["verifies"]
    assert (
        event["details"]["manifest_sha256"]
        == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    )
    assert event["details"]["output"] == str(out) and event["details"]["counts"]["damaged"] == 1
    assert set(event["details"]["tools"]) == {"sleuthkit", "pytsk3", "photorec"}


@pytest.mark.parametrize("kind", ["ext4", "ntfs"])
def test_scan_recovers_every_file_of_ext4_and_ntfs(media, tmp_path, kind):
    image, originals = media[kind]
    job_id = imaged_job(tmp_path / "state", image)
    out = tmp_path / "out"
    result = run_cli(tmp_path / "state", "media", "scan", job_id, "--to", str(out))
    assert result.returncode == 0, result.stderr
    assert "recovered:" in result.stdout and "DAMAGED" not in result.stdout
    origins = {entry["sha256"]: entry["origin"] for entry in recovered(out)["files"]}
    expected = {item["sha256"]: "deleted" if item["deleted"] else "allocated" for item in originals}
    assert {sha: origins.get(sha) for sha in expected} == expected


def test_scan_of_a_reformatted_stick_carves_the_old_files(media, tmp_path):
    image, originals = media["reformatted"]
    job_id = imaged_job(tmp_path / "state", image)
    out = tmp_path / "out"
    result = run_cli(tmp_path / "state", "media", "scan", job_id, "--to", str(out), "--json")
    assert result.returncode == 0, result.stderr
    files = recovered(out)["files"]
    carved = [entry for entry in files if entry["origin"] == "carved"]
    fs_hashes = {entry["sha256"] for entry in files if entry["origin"] != "carved"}
    assert carved and not fs_hashes & {entry["sha256"] for entry in carved}
    assert all(entry["path"].startswith("carved/") and entry["byte_runs"] for entry in carved)
    old = {item["sha256"] for item in originals if item["deleted"]}
    found = old & {entry["sha256"] for entry in carved}
    assert len(found) >= 0.7 * len(old), f"carved {len(found)} of {len(old)} old files"


def test_browse_lists_without_exporting_and_is_recorded(media, tmp_path):
    image, originals = media["fat32"]
    victim = next(item for item in originals if item["path"].startswith("/docs/"))
    source = next(
        path
        for path in make_media.pick_files(30)
        if hashlib.sha256(path.read_bytes()).hexdigest() == victim["sha256"]
    )
    offset = image.read_bytes().find(source.read_bytes())
    job_id = imaged_job(tmp_path / "state", image, bad=(offset, 512))
    result = run_cli(tmp_path / "state", "media", "browse", job_id, "/docs", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    docs = [item for item in originals if item["path"].startswith("/docs/")]
    assert len(listing["files"]) == len(docs)
    assert {item["state"] for item in listing["files"]} == {"allocated", "deleted"}
    assert listing["partitions"][0]["filesystem"] == "fat32"
    flagged = [
        (item["path"], item["damaged_bytes"]) for item in listing["files"] if item["damaged"]
    ]
    assert flagged == [(victim["path"], 512)]
    human = run_cli(tmp_path / "state", "media", "browse", job_id)
    assert "deleted" in human.stdout and "/pictures/" in human.stdout
    assert f"{victim['path']}  DAMAGED (512 bytes unreadable)" in human.stdout
    shown = json.loads(run_cli(tmp_path / "state", "job", "show", job_id, "--json").stdout)
    assert [event["kind"] for event in shown["events"]][-2:] == ["scan.browsed", "scan.browsed"]


def test_truncated_and_garbage_images_give_warnings_and_the_scan_goes_on(media, tmp_path):
    image, _ = media["ntfs"]
    truncated = tmp_path / "truncated.img"
    truncated.write_bytes(image.read_bytes()[: image.stat().st_size // 3])
    garbage = tmp_path / "garbage.img"
    garbage.write_bytes(hashlib.sha256(b"seed").digest() * 40_000)
    for number, broken in enumerate((truncated, garbage)):
        job_id = imaged_job(tmp_path / f"state{number}", broken)
        out = tmp_path / f"out{number}"
        result = run_cli(
            tmp_path / f"state{number}", "media", "scan", job_id, "--to", str(out), "--json"
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert (out / "manifest.json").is_file()


def test_scan_refuses_a_non_empty_folder_and_a_job_without_image(media, tmp_path):
    image, _ = media["fat32"]
    job_id = imaged_job(tmp_path / "state", image)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    refused = run_cli(tmp_path / "state", "media", "scan", job_id, "--to", str(tmp_path / "full"))
    assert refused.returncode == 4 and "not empty" in refused.stderr
    opened = run_cli(
        tmp_path / "state", "job", "open", "--customer", "C", "--consent", "CF", "--json"
    )
    bare = json.loads(opened.stdout)["job_id"]
    missing = run_cli(tmp_path / "state", "media", "scan", bare, "--to", str(tmp_path / "o2"))
    assert missing.returncode == 2 and "no finished image" in missing.stderr


def test_hostile_names_on_the_image_stay_inside_the_folder_and_make_no_links(tmp_path):
    """An ext4 image whose names carry a newline, an escape sequence, 255 bytes, a symlink to
    /etc/passwd, a FIFO and a file named like the manifest (made with mkfs.ext4 -d)."""
    if shutil.which("mkfs.ext4") is None:
        skip_or_fail("mkfs.ext4 missing (e2fsprogs)")
    staging = tmp_path / "staging"
    (staging / "sub").mkdir(parents=True)
    names = ["evil\nname.txt", "\x1b[31mred.txt", "x" * 255, "manifest.json"]
    for index, name in enumerate(names):
        (staging / "sub" / name).write_text(f"content {index}\n")
    (staging / "sub" / "link").symlink_to("/etc/passwd")
    os.mkfifo(staging / "sub" / "fifo")
    image = tmp_path / "hostile.img"
    with open(image, "wb") as stream:
        stream.truncate(8 << 20)
    subprocess.run(
        ("mkfs.ext4", "-q", "-F", "-d", str(staging), str(image)), check=True, capture_output=True
    )
    job_id = imaged_job(tmp_path / "state", image)
    out = tmp_path / "out"
    result = run_cli(tmp_path / "state", "media", "scan", job_id, "--to", str(out), "--no-carve")
    assert result.returncode == 0, result.stderr
    files = {entry["original_path"]: entry for entry in recovered(out)["files"]}
    assert set(files) == {f"/sub/{name}" for name in names}
    for index, name in enumerate(names):
        written = out / files[f"/sub/{name}"]["path"]
        assert written.read_text() == f"content {index}\n"
        assert written.resolve().is_relative_to(out.resolve())
        assert "\n" not in written.name and "\x1b" not in written.name
    assert not [
        path
        for path in out.rglob("*")
        if path.is_symlink() or not (path.is_file() or path.is_dir())
    ]
    assert json.loads((out / "manifest.json").read_text())["scan"]["counts"]["allocated"] == 4


@pytest.mark.parametrize(("label", "table"), [("gpt", "gpt"), ("dos", "mbr")])
def test_scan_reads_the_partition_table_and_the_file_system_inside(tmp_path, label, table):
    """A 48 MiB disk image with a GPT or MBR table (sfdisk) and FAT32 in its one partition at
    1 MiB (mkfs.fat --offset, mtools image@@offset): no loop device."""
    if shutil.which("sfdisk") is None or shutil.which("mcopy") is None:
        skip_or_fail("sfdisk or mtools missing (scripts/setup.sh --test)")
    image = tmp_path / "disk.img"
    with open(image, "wb") as stream:
        stream.truncate(48 << 20)
    kind = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" if label == "gpt" else "c"
    layout = f"label: {label}\nstart=2048, size=90000, type={kind}\n"
    subprocess.run(
        ("sfdisk", "-q", str(image)), input=layout, text=True, check=True, capture_output=True
    )
    subprocess.run(
        ("mkfs.fat", "-F", "32", "-s", "1", "--offset", "2048", str(image), "90000"),
        check=True,
        capture_output=True,
    )
    source = pathlib.Path("/usr/share/common-licenses/GPL-3")
    subprocess.run(
        ("mcopy", "-i", f"{image}@@1M", str(source), "::/GPL-3"),
        check=True,
        capture_output=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )
    job_id = imaged_job(tmp_path / "state", image)
    out = tmp_path / "out"
    result = run_cli(tmp_path / "state", "media", "scan", job_id, "--to", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    fat = [item for item in summary["partitions"] if item["filesystem"]]
    assert [(item["table"], item["offset"], item["filesystem"]) for item in fat] == [
        (table, 1 << 20, "fat32")
    ]
    (entry,) = [item for item in recovered(out)["files"] if item["origin"] == "allocated"]
    assert entry["original_path"] == "/GPL-3" and entry["path"].startswith("allocated/p")
    assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert entry["byte_runs"][0][0] >= 1 << 20


def test_a_libtsk_crash_is_a_warning_and_the_scan_is_recorded(media, tmp_path, monkeypatch):
    # No image crashes libtsk on demand: the worker's test switch (recovery/tsk_worker.py)
    # makes it die of SIGSEGV while listing, as libtsk would; only tests set it.
    monkeypatch.setenv("BACKUPCTL_TEST_TSK_FAULT", "crash:walk")
    image, originals = media["fat32"]
    job_id = imaged_job(tmp_path / "state", image)
    out = tmp_path / "out"
    result = run_cli(tmp_path / "state", "media", "scan", job_id, "--to", str(out), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert any("The Sleuth Kit crashed (SIGSEGV)" in text for text in summary["warnings"])
    assert summary["counts"]["allocated"] == 0 and summary["counts"]["carved"] > 0
    shown = json.loads(run_cli(tmp_path / "state", "job", "show", job_id, "--json").stdout)
    event = shown["events"][-1]
    assert event["kind"] == "scan.finished" and event["details"]["warnings"] >= 1
    assert (
        event["details"]["manifest_sha256"]
        == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    )
