"""The custody hash chain: any alteration, removal or reordering is detected."""

from __future__ import annotations

import dataclasses

import hypothesis
import hypothesis.strategies as st
import pytest

from recovery import custody
from recovery.custody import CustodyEvent


def _chain(count: int) -> list[CustodyEvent]:
    events, previous = [], custody.GENESIS
    for sequence in range(1, count + 1):
        event = CustodyEvent(
            sequence,
            "J-1",
            f"kind.{sequence}",
            "alice",
            "bench1",
            f"2025-01-01T00:00:{sequence:02d}+00:00",
            {"n": sequence},
            "",
        )
        event = dataclasses.replace(event, digest=custody.digest_of(event, previous))
        events.append(event)
        previous = event.digest
    return events


def test_intact_chain_verifies():
    events = _chain(4)
    assert custody.verify(events, head_digest=events[-1].digest) == (
        True,
        "custody chain of 4 events verifies",
    )


def test_empty_chain_does_not_verify():
    assert custody.verify([])[0] is False


def test_digest_depends_on_previous():
    first = _chain(1)[0]
    assert custody.digest_of(first, custody.GENESIS) != custody.digest_of(first, "f" * 64)


@pytest.mark.parametrize("field", ["kind", "actor", "host", "at", "job_id"])
def test_altered_field_is_detected(field):
    events = _chain(3)
    events[1] = dataclasses.replace(events[1], **{field: "forged"})
    verifies, explanation = custody.verify(events)
    assert not verifies and "event 2" in explanation


def test_removed_middle_event_is_detected():
    events = _chain(3)
    assert custody.verify([events[0], events[2]])[0] is False


def test_removed_last_event_is_detected_by_head():
    events = _chain(3)
    verifies, explanation = custody.verify(events[:2], head_digest=events[2].digest)
    assert not verifies and "head" in explanation


def test_swapped_events_are_detected():
    events = _chain(3)
    assert custody.verify([events[0], events[2], events[1]])[0] is False


@hypothesis.given(index=st.integers(min_value=0, max_value=4), value=st.integers())
def test_any_details_change_is_detected(index, value):
    events = _chain(5)
    hypothesis.assume(value != events[index].details["n"])
    events[index] = dataclasses.replace(events[index], details={"n": value})
    assert custody.verify(events)[0] is False
