"""List the tape files of a .tap image, and extract one: its data as a file, and a tar archive
unpacked with restore-grade path safety (recovery/tar_safe.py).

The image and the archive are customer data and untrusted: the image must be a regular file,
records are bounded by the reader, the output folder is created 0700 by this run (an existing
one must be empty and this user's), and nothing is written outside it. With ``job_id`` the
extraction is recorded on the job's custody record (tape.extracted).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tarfile

from backupctl.actions.image import Who
from recovery import custody, errors, image_folder, tape_files, tar_safe
from recovery.jobs import JobStore

COMPRESSED_TAR_CANDIDATES = ("gzip", "bzip2", "xz")


@dataclasses.dataclass(frozen=True)
class ExtractRequest:
    image: pathlib.Path
    number: int
    to: pathlib.Path
    job_id: str | None = None


def files(image: pathlib.Path) -> tape_files.TapSummary:
    """Given a .tap image, return its tape files; raise InvalidRequest, TapFormatError."""
    with tape_files.open_image(image) as stream:
        return tape_files.summarize(stream)


def _output_folder(to: pathlib.Path) -> pathlib.Path:
    """Create ``to`` 0700 (or take it when it is an empty folder of this user); refuse an
    unsafe place."""
    to = pathlib.Path(os.path.abspath(to))
    reasons = image_folder.out_dir_reasons(to)
    if reasons:
        raise errors.RefusedError(f"--to {to}: " + "; ".join(reasons))
    try:
        to.mkdir(mode=0o700, parents=False)
    except FileNotFoundError:
        raise errors.InvalidRequest(f"--to {to}: its parent folder does not exist") from None
    except FileExistsError:
        if any(to.iterdir()):
            raise errors.RefusedError(
                f"--to {to} is not empty; give a new or empty folder"
            ) from None
        if to.stat().st_uid != os.geteuid():
            raise errors.RefusedError(f"--to {to} belongs to another user") from None
    os.chmod(to, 0o700, follow_symlinks=False)
    return to


def _write_raw(
    image: pathlib.Path, number: int, path: pathlib.Path, usual_size: int
) -> tuple[int, tuple]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with (
        tape_files.open_image(image) as stream,
        os.fdopen(os.open(path, flags, 0o600), "wb") as out,
    ):
        return tape_files.write_file(stream, number, out, usual_size=usual_size)


def extract(store: JobStore | None, request: ExtractRequest, who: Who | None = None) -> dict:
    """Write tape file N of an image to ``to/file-N.bin`` and unpack it to ``to/file-N/`` when
    it is a tar archive (plain or gzip/bzip2/xz-compressed); return what was done.

    Raise InvalidRequest (no such file or image), RefusedError (unsafe ``to``), TapFormatError.
    """
    summary = files(request.image)
    if not 0 <= request.number < len(summary.files):
        raise errors.InvalidRequest(
            f"{request.image} has {len(summary.files)} tape files; file {request.number} is not one"
        )
    tape_file = summary.files[request.number]
    folder = _output_folder(request.to)
    raw = folder / f"file-{request.number}.bin"
    written, filled = _write_raw(request.image, request.number, raw, tape_file.usual_size or 0)
    details = {
        "image": str(request.image),
        "file_number": request.number,
        "format": tape_file.format,
        "data": str(raw),
        "bytes": written,
        "sha256": tape_file.sha256,
        "filled": [item.to_dict() for item in filled],
        "unpacked": None,
        "note": None,
    }
    details.update(_unpack(raw, folder / f"file-{request.number}", tape_file.format, filled))
    if store is not None and request.job_id is not None and who is not None:
        store.record_event(
            request.job_id,
            kind="tape.extracted",
            actor=who.actor,
            host=who.host,
            details={**details, "at": custody.utc_now()},
        )
    return details


def _unpack(raw: pathlib.Path, target: pathlib.Path, kind: str | None, filled: tuple) -> dict:
    """Unpack a tar (or compressed tar) archive; return the "unpacked" and "note" details."""
    is_tar = kind is not None and kind.startswith("tar")
    if not is_tar and kind not in COMPRESSED_TAR_CANDIDATES:
        return {"note": f"not unpacked: {kind or 'unknown format'} (the data is in {raw.name})"}
    target.mkdir(mode=0o700)
    ranges = tuple((item.offset, item.length) for item in filled) if is_tar else ()
    try:
        with open(raw, "rb") as archive:
            unpacked = tar_safe.unpack(archive, target, damaged_ranges=ranges)
    except tarfile.ReadError:
        target.rmdir()
        return {"note": f"{kind} data, but not a tar archive (the data is in {raw.name})"}
    note = None
    if filled and not is_tar:
        note = "unreadable records inside compressed data: members after them may be lost"
    return {"unpacked": {"folder": str(target), **unpacked.to_dict()}, "note": note}
