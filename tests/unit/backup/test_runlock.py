"""The source lock: one run at a time, and whether the run before ended cleanly."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from backupctl import runlock


def test_a_second_holder_is_refused_while_the_first_holds_it(tmp_path):
    busy = pytest.raises(runlock.SourceBusy, match="source web: another backupctl run")
    with runlock.source_lock(tmp_path, "web"), busy, runlock.source_lock(tmp_path, "web"):
        pass


def test_after_a_clean_run_the_next_one_is_told_so(tmp_path):
    with runlock.source_lock(tmp_path, "web") as held:
        assert held.previous_run_unclean is False  # the first run ever
    with runlock.source_lock(tmp_path, "web") as held:
        assert held.previous_run_unclean is False


def test_after_a_run_that_failed_the_next_one_is_told_so(tmp_path):
    with pytest.raises(KeyboardInterrupt), runlock.source_lock(tmp_path, "web"):
        raise KeyboardInterrupt
    with runlock.source_lock(tmp_path, "web") as held:
        assert held.previous_run_unclean is True
    with runlock.source_lock(tmp_path, "web") as held:
        assert held.previous_run_unclean is False  # the run in between ended cleanly


def _hold_and_wait(state_dir, ready) -> None:
    with runlock.source_lock(state_dir, "web"):
        ready.set()
        signal.pause()


def test_after_a_killed_run_the_next_one_is_told_so(tmp_path):
    ready = multiprocessing.get_context("fork").Event()
    holder = multiprocessing.get_context("fork").Process(
        target=_hold_and_wait, args=(tmp_path, ready)
    )
    holder.start()
    assert ready.wait(30), "the holder never took the lock"
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    with runlock.source_lock(tmp_path, "web") as held:  # the kernel dropped the dead run's lock
        assert held.previous_run_unclean is True


def test_a_symlink_planted_as_the_lock_file_is_refused(tmp_path):
    (tmp_path / "locks").mkdir(mode=0o700)
    (tmp_path / "elsewhere").write_text("not ours\n")
    (tmp_path / "locks" / "web.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError), runlock.source_lock(tmp_path, "web"):
        pass
    assert (tmp_path / "elsewhere").read_text() == "not ours\n"


def test_with_patience_a_run_waits_until_the_holder_is_done(tmp_path):
    import threading

    taken = threading.Event()
    failures = []

    def second_run():
        try:
            with runlock.patience(60), runlock.source_lock(tmp_path, "web"):
                taken.set()
        except runlock.SourceBusy as error:
            failures.append(error)

    with runlock.source_lock(tmp_path, "web"):
        waiter = threading.Thread(target=second_run)
        waiter.start()
        assert not taken.is_set()  # it cannot have the lock while this run holds it
    waiter.join(30)
    assert taken.is_set() and failures == []


def test_patience_runs_out(tmp_path):
    held = runlock.source_lock(tmp_path, "web")
    busy = pytest.raises(runlock.SourceBusy)
    with held, runlock.patience(0.3), busy, runlock.source_lock(tmp_path, "web"):
        pass
    held, busy = runlock.source_lock(tmp_path, "web"), pytest.raises(runlock.SourceBusy)
    with held, busy, runlock.source_lock(tmp_path, "web"):  # no patience: refused at once
        pass
