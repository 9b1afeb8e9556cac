"""Rotation's tables in state.db: recorded times keep the first, the intent goes through its
stages, deleted files are marked also when the manifest never held them."""

from __future__ import annotations

import datetime

from backupctl import state
from backupctl.rotation import records


def test_a_taken_snapshot_keeps_its_time_when_seen_again(tmp_path):
    db = state.db_path(tmp_path)
    records.remember_taken(db, "mail", "a" * 64, "disk")
    first = records.recorded_times(db, "mail", ["a" * 64])["a" * 64]
    seen = records.remember_seen(db, "mail", {"a" * 64: "nas", "b" * 64: "nas"})
    assert seen["a" * 64] == first
    assert set(seen) == {"a" * 64, "b" * 64}
    assert first.tzinfo is not None
    assert datetime.datetime.now(datetime.UTC) - first < datetime.timedelta(minutes=5)
    assert records.recorded_times(db, "other", ["a" * 64]) == {}


def test_intent_goes_through_its_stages_and_is_finished(tmp_path):
    db = state.db_path(tmp_path)
    assert records.unfinished(db, "mail") is None
    intent = records.begin(db, "mail", run_id=7, location="disk", snapshot_ids=("a" * 64,))
    assert records.unfinished(db, "mail") == intent
    intent = records.advance(db, intent, "prune", before_prune={"data/x": 5})
    intent = records.advance(db, intent, "replicate")
    stored = records.unfinished(db, "mail")
    assert stored.stage == "replicate" and stored.before_prune == {"data/x": 5}
    assert stored.snapshot_ids == ("a" * 64,) and stored.run_id == 7
    records.finish(db, "mail")
    assert records.unfinished(db, "mail") is None


def test_removed_files_are_deleted_in_the_manifest_also_unknown_ones(tmp_path):
    db = state.db_path(tmp_path)
    state.establish_manifest(db, "mail", {"config": 10, "data/aa": 5}, how="init", location="d")
    records.mark_removed(db, "mail", ["data/aa", "snapshots/" + "f" * 64])
    manifest = state.load_manifest(db, "mail")
    assert dict(manifest.files) == {"config": 10}
    assert manifest.deleted == {"data/aa", "snapshots/" + "f" * 64}
    records.mark_written(db, "mail", {"data/aa": 6, "index/bb": 3})  # prune wrote it again
    manifest = state.load_manifest(db, "mail")
    assert dict(manifest.files) == {"config": 10, "data/aa": 6, "index/bb": 3}


def test_still_held_is_kept_from_the_first_run_until_caught_up(tmp_path):
    db = state.db_path(tmp_path)
    records.still_held(db, "mail", "nas", run_id=3, reason="down")
    records.still_held(db, "mail", "nas", run_id=4, reason="still down")
    (row,) = records.pending(db, "mail")
    assert (row["run_id"], row["reason"]) == (3, "still down")
    records.caught_up(db, "mail", "nas")
    assert records.pending(db, "mail") == []


def test_events_are_returned_by_run_in_order(tmp_path):
    db = state.db_path(tmp_path)
    records.record_event(db, 5, records.Event("mail", "disk", "forget", True, ("a" * 64,)))
    records.record_event(db, 5, records.Event("mail", "disk", "prune", True, files=3, bytes=9))
    found = records.events(db, [5, 6])
    assert list(found) == [5]
    assert [(e["step"], e["files"], e["snapshot_ids"]) for e in found[5]] == [
        ("forget", 0, ["a" * 64]),
        ("prune", 3, []),
    ]
