"""What the TSK worker sends over its pipe comes back as the same values."""

from __future__ import annotations

import json
import os
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from recovery import tsk_client, tsk_worker
from recovery.scan_model import ByteRun, FoundFile

names = st.binary(min_size=1, max_size=40).map(lambda raw: raw.decode("utf-8", "surrogateescape"))
found_files = st.builds(
    FoundFile,
    partition=st.integers(0, 128),
    inode=st.integers(0, 2**64),
    path=names.map(lambda name: "/" + name),
    size=st.integers(0, 2**48),
    allocated=st.booleans(),
    times=st.dictionaries(
        st.sampled_from(["mtime", "crtime"]), st.just("2025-01-01T00:00:00+00:00")
    ),
    runs=st.lists(st.builds(ByteRun, st.integers(0, 2**48), st.integers(1, 2**30)), max_size=5).map(
        tuple
    ),
    resident=st.booleans(),
)


@given(found_files)
def test_a_found_file_survives_the_pipe_with_undecodable_names(item):
    line = json.dumps({"file": tsk_worker.found_to_dict(item)}).encode("ascii")
    assert tsk_client._found(json.loads(line)["file"]) == item


class _PipeEnd:
    """The answer end of a real pipe, standing where the worker's pipe would be."""

    def __init__(self, descriptor: int) -> None:
        self.stdout = os.fdopen(descriptor, "rb", buffering=0)


def test_many_warnings_then_an_answer_are_read_in_order(tmp_path):
    read_end, write_end = os.pipe()
    warnings: list[str] = []
    client = tsk_client.TskClient(tmp_path / "image", timeout=5, warn=warnings.append)
    client._process = _PipeEnd(read_end)
    lines = [json.dumps({"warning": f"damaged directory {index}"}) for index in range(5000)]
    payload = ("\n".join([*lines, json.dumps({"done": True})]) + "\n").encode()
    writer = threading.Thread(target=lambda: os.write(write_end, payload) and os.close(write_end))
    writer.start()
    assert client._message(time.monotonic() + 5) == {"done": True}
    writer.join()
    assert len(warnings) == 5000 and warnings[-1] == "damaged directory 4999"
    client._process.stdout.close()
