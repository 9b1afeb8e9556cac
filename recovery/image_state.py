"""What imaging keeps in the toolkit's own state (state.db), never in files beside the image.

* The original kernel read-only flag of a device while ``media image`` holds it read-only, so
  that after a crash the next run restores the true original (a file beside the output could be
  planted by anyone who can write there).
* The image folder of each job with its device and inode numbers, so a resumed run reopens only
  the folder (and so the image and mapfile) this toolkit created for this job.
"""

from __future__ import annotations

import dataclasses
import pathlib

from recovery import custody, state_db


@dataclasses.dataclass(frozen=True)
class FolderRecord:
    folder: pathlib.Path
    device: int
    inode: int


class ImageState:
    """Given the state database (its recovery schema already migrated by JobStore), keep
    the read-only records and the image folders of jobs."""

    def __init__(self, db_path: pathlib.Path) -> None:
        self.db_path = pathlib.Path(db_path)

    # -- the read-only flag: blockdev.read_only's record --------------------------------------

    def load(self, node: str) -> bool | None:
        """Return the saved original read-only flag of ``node``, None when none is saved."""
        with state_db.connect(self.db_path) as connection:
            row = connection.execute(
                "SELECT read_only FROM recovery_read_only WHERE node = ?", (node,)
            ).fetchone()
        return None if row is None else bool(row[0])

    def save(self, node: str, value: bool, *, job_id: str = "") -> None:
        with state_db.write(self.db_path) as connection:
            connection.execute(
                "INSERT OR REPLACE INTO recovery_read_only VALUES (?, ?, ?, ?)",
                (node, job_id, int(value), custody.utc_now()),
            )

    def clear(self, node: str) -> None:
        with state_db.write(self.db_path) as connection:
            connection.execute("DELETE FROM recovery_read_only WHERE node = ?", (node,))

    # -- image folders ----------------------------------------------------------------------

    def folder(self, job_id: str) -> FolderRecord | None:
        """Return the image folder recorded for the job, None when it has none yet."""
        with state_db.connect(self.db_path) as connection:
            row = connection.execute(
                "SELECT folder, device, inode FROM recovery_image_folders WHERE job_id = ?",
                (job_id,),
            ).fetchone()
        return None if row is None else FolderRecord(pathlib.Path(row[0]), row[1], row[2])

    def record_folder(self, job_id: str, record: FolderRecord) -> None:
        with state_db.write(self.db_path) as connection:
            connection.execute(
                "INSERT OR REPLACE INTO recovery_image_folders VALUES (?, ?, ?, ?)",
                (job_id, str(record.folder), record.device, record.inode),
            )


class JobReadOnlyRecord:
    """The read-only record of one job's run, as ``blockdev.read_only`` wants it."""

    def __init__(self, state: ImageState, job_id: str) -> None:
        self.state, self.job_id = state, job_id

    def load(self, node: str) -> bool | None:
        return self.state.load(node)

    def save(self, node: str, value: bool) -> None:
        self.state.save(node, value, job_id=self.job_id)

    def clear(self, node: str) -> None:
        self.state.clear(node)
