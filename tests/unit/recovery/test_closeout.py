"""Close-out decisions: the outcome, when copies go, and exactly which copies the record names."""

from __future__ import annotations

import datetime

import pytest

from recovery import closeout, errors
from recovery.custody import CustodyEvent

UTC = datetime.UTC


def _event(sequence: int, kind: str, details: dict, at: str = "2026-01-01T00:00:00+00:00"):
    return CustodyEvent(sequence, "J-20260101-001", kind, "a", "h", at, details, "")


IMAGING = {"paths": {"image": "/srv/jobs/J/J.img", "mapfile": "/srv/jobs/J/J.map"}}


def test_close_details_record_outcome_and_date():
    details = closeout.close_details(
        "recovered", closed_at="2026-01-01T10:00:00+00:00", kept_days=30
    )
    assert details == {
        "outcome": "recovered",
        "copies_kept_days": 30,
        "delete_after": "2026-01-31T10:00:00+00:00",
    }


@pytest.mark.parametrize("outcome", ["", "lost", "RETURNED", "returned; rm -rf /"])
def test_unknown_outcome_is_a_usage_error(outcome):
    with pytest.raises(errors.InvalidRequest):
        closeout.check_outcome(outcome)


@pytest.mark.parametrize("days", [-1, 3651, True, "30"])
def test_days_out_of_range_are_refused(days):
    with pytest.raises(errors.InvalidRequest):
        closeout.check_kept_days(days)


def test_due_uses_the_recorded_date_not_todays_setting():
    closed = _event(3, "job.closed", {"delete_after": "2026-02-01T00:00:00+00:00"})
    assert closeout.due([closed], kept_days=1) == datetime.datetime(2026, 2, 1, tzinfo=UTC)


def test_job_closed_before_close_out_existed_uses_the_setting():
    closed = _event(3, "job.closed", {}, at="2026-01-01T00:00:00+00:00")
    assert closeout.due([closed], kept_days=10) == datetime.datetime(2026, 1, 11, tzinfo=UTC)
    assert closeout.due([_event(1, "job.opened", {})], kept_days=10) is None


def test_copies_are_what_the_record_names():
    events = [
        _event(1, "image.started", IMAGING),
        _event(2, "image.finished", {**IMAGING, "sha256": "f" * 64}),
        _event(
            3, "scan.finished", {"output": "/srv/out/J", "manifest_sha256": "e" * 64, "counts": {}}
        ),
        _event(
            4,
            "scan.finished",
            {"output": "relative/path", "manifest_sha256": "e" * 64, "counts": {}},
        ),
        _event(5, "image.started", {"paths": {"image": "../../etc/passwd"}}),
        _event(6, "scan.failed", {"output": "/srv/out/J2", "reason": "disk full"}),
        _event(7, "scan.finished", {"output": "/srv/out/J3", "manifest_sha256": "d" * 64}),
    ]
    copies = closeout.copies(events)
    assert [(copy.what, str(copy.path)) for copy in copies] == [
        ("image", "/srv/jobs/J/J.img"),
        ("imaging lock", "/srv/jobs/J/.J.lock"),
        ("mapfile", "/srv/jobs/J/J.map"),
        ("mapfile backup", "/srv/jobs/J/J.map.bak"),
        ("recovered files", "/srv/out/J"),
        ("recovered files", "/srv/out/J2"),
        ("recovered files", "/srv/out/J3"),
    ]
    assert copies[0].recorded_sha256 == "f" * 64 and copies[-1].directory
    assert copies[-1].recorded_sha256 == "d" * 64 and copies[-2].recorded_sha256 is None


def test_deletion_text_follows_the_job():
    now = datetime.datetime(2026, 1, 10, tzinfo=UTC)
    opened = [_event(1, "job.opened", {})]
    assert "deleted 30 days after the job is closed" in closeout.deletion_text(
        opened, kept_days=30, now=now
    )
    closed = [*opened, _event(2, "job.closed", {"delete_after": "2026-01-31T00:00:00+00:00"})]
    assert closeout.deletion_text(closed, kept_days=30, now=now) == (
        "The workshop's copies are to be deleted after 2026-01-31T00:00:00+00:00 (in 21 days)."
    )
    later = datetime.datetime(2026, 2, 2, tzinfo=UTC)
    assert "deletion is pending" in closeout.deletion_text(closed, kept_days=30, now=later)
    failed = [*closed, _event(3, "copies.destroyed", {"failed": 1}, at="2026-02-01T00:00:00")]
    assert "pending" in closeout.deletion_text(failed, kept_days=30, now=later)
    done = [*failed, _event(4, "copies.destroyed", {"failed": 0}, at="2026-02-02T00:00:00")]
    assert closeout.deletion_text(done, kept_days=30, now=later) == (
        "The workshop's copies were deleted on 2026-02-02T00:00:00."
    )


def test_as_of_time_without_zone_is_utc():
    assert closeout.parse_time("2026-03-01") == datetime.datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(errors.InvalidRequest):
        closeout.parse_time("next tuesday")


def test_tape_images_and_extracted_tape_files_are_copies_too():
    image = "/srv/jobs/J/J-box1.tap"
    events = [
        _event(1, "tape.started", {"paths": {"image": image}}),
        _event(2, "tape.finished", {"paths": {"image": image}, "sha256": "ab" * 32}),
        _event(
            3,
            "tape.extracted",
            {"data": "/srv/out/file-0.bin", "unpacked": {"folder": "/srv/out/file-0"}},
        ),
        _event(4, "tape.extracted", {"data": "relative/file-1.bin", "unpacked": None}),
    ]
    found = {
        (copy.what, str(copy.path), copy.recorded_sha256, copy.directory)
        for copy in closeout.copies(events)
    }
    assert found == {
        ("tape image", image, "ab" * 32, False),
        ("tape image lock", image + ".lock", None, False),
        ("extracted tape file", "/srv/out/file-0.bin", None, False),
        ("unpacked tape file", "/srv/out/file-0", None, True),
    }
