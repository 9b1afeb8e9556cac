"""Keep the pytest process itself able to dump core and to start children that can.

Opening a keystore calls ``process.forbid_core_dumps``, which lowers RLIMIT_CORE to 0 for good
(the hard limit too) and is inherited by every later child: test_process.py could then no
longer show a child going from "may dump core" to "may not". In-process tests here therefore
get a no-op; test_process.py runs the real one in a child process.
"""

from __future__ import annotations

import pytest

from backupctl.keys import process


@pytest.fixture(autouse=True)
def keep_core_dumps_in_the_test_process(monkeypatch):
    monkeypatch.setattr(process, "forbid_core_dumps", lambda: None)
