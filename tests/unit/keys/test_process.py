"""A process that opens a keystore can no longer dump core (nor be read by ptrace)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap

from backupctl.keys import kdf, store_format
from backupctl.keys.secret import Secret
from backupctl.keys.store import Keystore

MASTER = "master-secret-for-the-core-dump-test"

# Runs in a fresh interpreter: first allow core dumps (so the test can fail), report, open the
# keystore through the public API, report again. prctl is called here directly, not through
# backupctl, so the measurement does not depend on the code under test.
PROGRAM = textwrap.dedent(
    """
    import ctypes, json, pathlib, resource, sys
    from backupctl.keys.store import Keystore
    from backupctl.keys.secret import Secret

    libc = ctypes.CDLL(None, use_errno=True)

    def report():
        return {"dumpable": libc.prctl(3, 0, 0, 0, 0),
                "core": list(resource.getrlimit(resource.RLIMIT_CORE))}

    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    before = report()
    store = Keystore.open(pathlib.Path(sys.argv[1]), Secret(sys.argv[2]))
    assert store.names() == ["repo/web"]
    print(json.dumps({"before": before, "after": report()}))
    """
)


def test_opening_a_keystore_forbids_core_dumps(tmp_path, monkeypatch):
    monkeypatch.setattr(store_format, "DEFAULT_SCRYPT", kdf.ScryptParams(n=2**10))
    path = tmp_path / "ks.bin"
    Keystore.create(path, Secret(MASTER), entries={"repo/web": Secret("value")})
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(path), MASTER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["before"]["dumpable"] == 1
    assert report["after"] == {"dumpable": 0, "core": [0, 0]}
    # The child starts with the limit pytest has; an in-process keystore test outside
    # tests/unit/keys (which no-ops the call, see conftest.py) may have lowered it for good.
    if resource.getrlimit(resource.RLIMIT_CORE)[1] != 0:
        assert report["before"]["core"][0] != 0
