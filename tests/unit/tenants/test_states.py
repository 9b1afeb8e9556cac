"""The tenant state machine (backupctl/tenants/states.py): which changes are allowed, what a
tenant may do at a moment, when destruction is due. Pure: the clock is a parameter."""

from __future__ import annotations

import datetime

import pytest

from backupctl.tenants import states
from backupctl.tenants.states import Change, Kind, Phase

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
EFFECTIVE = datetime.date(2026, 3, 10)
DUE = datetime.datetime(2026, 6, 8, tzinfo=datetime.UTC)  # 90 days after 2026-03-10


def change(kind: Kind, **values) -> Change:
    values.setdefault("reason", "cancellation" if kind is Kind.OFFBOARD else "because")
    return Change(kind, values.pop("actor", "ann"), values.pop("at", T0), **values)


def offboarded() -> states.Standing:
    return states.replay("acme", [change(Kind.OFFBOARD, effective=EFFECTIVE)])


def test_destruction_is_due_ninety_days_after_the_effective_date():
    standing = offboarded()
    assert standing.destruction_due == DUE
    assert not standing.destruction_is_due(DUE - datetime.timedelta(seconds=1))
    assert standing.destruction_is_due(DUE)


def test_backups_and_restores_stop_on_the_effective_date_not_before():
    standing = offboarded()
    before = datetime.datetime(2026, 3, 9, 23, 59, tzinfo=datetime.UTC)
    after = datetime.datetime(2026, 3, 10, tzinfo=datetime.UTC)
    assert standing.backup_refusal(before) is None
    assert standing.restore_refusal(before) is None
    assert "offboarded (cancellation) effective 2026-03-10" in standing.backup_refusal(after)
    assert "destruction due 2026-06-08" in standing.backup_refusal(after)
    assert "offboarded" in standing.restore_refusal(after)


def test_a_legal_hold_stops_destruction_until_every_hold_is_released():
    standing = offboarded()
    for reference in ("C-1", "C-2"):
        standing = states.apply(standing, change(Kind.HOLD, reference=reference))
    assert not standing.destruction_is_due(DUE + datetime.timedelta(days=400))
    standing = states.apply(standing, change(Kind.RELEASE, reference="C-1"))
    assert not standing.destruction_is_due(DUE)
    standing = states.apply(standing, change(Kind.RELEASE, reference="C-2"))
    assert standing.destruction_is_due(DUE)


def test_a_hold_does_not_block_restores_but_suspension_does_and_backups_go_on():
    held = states.apply(states.Standing("acme"), change(Kind.HOLD, reference="C-1"))
    assert held.restore_refusal(T0) is None
    suspended = states.apply(held, change(Kind.SUSPEND))
    assert suspended.restore_refusal(T0) == "suspended since 2026-03-01"
    assert suspended.backup_refusal(T0) is None
    resumed = states.apply(suspended, change(Kind.RESUME))
    assert resumed.restore_refusal(T0) is None


def test_reinstatement_undoes_the_offboarding():
    standing = states.apply(offboarded(), change(Kind.REINSTATE))
    assert standing.phase is Phase.ACTIVE
    assert standing.destruction_due is None
    assert standing.backup_refusal(DUE) is None
    assert not standing.destruction_is_due(DUE + datetime.timedelta(days=1000))
    assert [c.kind for c in standing.history] == [Kind.OFFBOARD, Kind.REINSTATE]


@pytest.mark.parametrize(
    ("history", "asked", "problem"),
    [
        ([], change(Kind.REINSTATE), "is not offboarded"),
        ([], change(Kind.RESUME), "is not suspended"),
        ([], change(Kind.RELEASE, reference="C-9"), "no legal hold with reference C-9"),
        ([], change(Kind.OFFBOARD, reason="bored", effective=EFFECTIVE), "one of cancellation"),
        ([change(Kind.SUSPEND)], change(Kind.SUSPEND), "suspended already"),
        (
            [change(Kind.HOLD, reference="C-1")],
            change(Kind.HOLD, reference="C-1"),
            "C-1 already stands",
        ),
        (
            [change(Kind.OFFBOARD, effective=EFFECTIVE)],
            change(Kind.OFFBOARD, effective=EFFECTIVE),
            "already offboarded",
        ),
        (
            [change(Kind.OFFBOARD, effective=EFFECTIVE), change(Kind.DESTROYING)],
            change(Kind.REINSTATE),
            "destruction has begun",
        ),
        (
            [
                change(Kind.OFFBOARD, effective=EFFECTIVE),
                change(Kind.DESTROYING),
                change(Kind.DESTROYED),
            ],
            change(Kind.HOLD, reference="C-1"),
            "was destroyed on 2026-03-01",
        ),
        ([change(Kind.OFFBOARD, effective=EFFECTIVE)], change(Kind.DESTROYING), "not due"),
    ],
)
def test_changes_the_state_does_not_allow_are_refused_with_the_reason(history, asked, problem):
    standing = states.replay("acme", history)
    with pytest.raises(states.NotAllowed, match=problem):
        states.check(standing, asked, now=T0)


def test_destruction_once_begun_is_due_until_finished_and_never_after():
    standing = states.apply(offboarded(), change(Kind.DESTROYING))
    assert standing.destruction_is_due(T0)  # the clock no longer matters: finish it
    assert standing.restore_refusal(T0) == "its data is being destroyed"
    done = states.apply(standing, change(Kind.DESTROYED))
    assert not done.destruction_is_due(DUE)
    assert done.backup_refusal(T0) == "its data is destroyed"
