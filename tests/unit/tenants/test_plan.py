"""What rotation does with each source given its tenant (backupctl/tenants/plan.py)."""

from __future__ import annotations

import datetime

from backupctl.tenants import plan, states
from backupctl.tenants.states import Change, Kind
from backupctl.tenants.store import LocationDestruction

NOW = datetime.datetime(2026, 9, 1, tzinfo=datetime.UTC)
LOCATIONS = ("disk", "sftp", "s3")


def offboarded(*more: Change) -> states.Standing:
    first = Change(Kind.OFFBOARD, "ann", NOW, "non-payment", effective=datetime.date(2026, 5, 1))
    return states.replay("acme", [first, *more])


def record(location: str, *, finished: bool, source: str = "web") -> LocationDestruction:
    return LocationDestruction(source, location, "t", 7, "t" if finished else None, 1, 1, 0, "", "")


def test_an_active_tenant_is_rotated():
    decided = plan.for_source("web", "acme", LOCATIONS, states.Standing("acme"), [], now=NOW)
    assert decided.step is plan.Step.ROTATE


def test_a_held_tenant_is_rotated_with_the_hold_even_after_cooling():
    held = offboarded(Change(Kind.HOLD, "ann", NOW, "court", reference="C-1"))
    decided = plan.for_source("web", "acme", LOCATIONS, held, [], now=NOW)
    assert decided.step is plan.Step.ROTATE
    assert "legal hold (C-1)" in decided.reason


def test_after_cooling_every_location_not_finished_is_destroyed():
    done = [record("disk", finished=True), record("sftp", finished=False)]
    decided = plan.for_source("web", "acme", LOCATIONS, offboarded(), done, now=NOW)
    assert decided.step is plan.Step.DESTROY
    assert decided.locations == ("sftp", "s3")


def test_a_source_finished_everywhere_is_gone():
    done = [record(name, finished=True) for name in LOCATIONS]
    decided = plan.for_source(
        "web", "acme", LOCATIONS, offboarded(), done, key_erased=True, now=NOW
    )
    assert decided.step is plan.Step.GONE


def test_a_source_whose_key_could_not_be_erased_is_destroyed_again_for_its_key():
    done = [record(name, finished=True) for name in LOCATIONS]
    decided = plan.for_source("web", "acme", LOCATIONS, offboarded(), done, now=NOW)
    assert (decided.step, decided.locations) == (plan.Step.DESTROY, ())


def test_destruction_is_complete_only_with_every_location_and_key():
    sources = {"web": ("disk", "s3"), "mail": ("disk",)}
    done = [
        record("disk", finished=True),
        record("s3", finished=True),
        record("disk", finished=True, source="mail"),
    ]
    assert plan.complete(sources, done, ["web", "mail"])
    assert not plan.complete(sources, done, ["web"])
    done[1] = record("s3", finished=False)
    assert not plan.complete(sources, done, ["web", "mail"])
    assert plan.pending(done) == [done[1]]


def test_a_legal_hold_keeps_everything_in_the_repository_even_hand_made_snapshots():
    from policies import rotation
    from policies.retention import RetentionPolicy

    old = NOW - datetime.timedelta(days=500)
    snapshots = [
        rotation.SnapshotFacts("a" * 64, old, old, ("backupctl", "tenant:acme"), "web"),
        rotation.SnapshotFacts("b" * 64, old, old, (), "foreign:bench"),  # made by hand, no tags
    ]
    policy = RetentionPolicy(name="backup-12m", max_age_days=365)
    hold = rotation.Hold("legal hold C-1 on tenant acme", everything=True)
    held = rotation.plan(snapshots, policy, holds=[hold], now=NOW)
    assert held.forget == ()
    assert all(v.held and "held: legal hold C-1 on tenant acme" in v.reasons for v in held.verdicts)
    assert set(rotation.plan(snapshots, policy, now=NOW).forget) == {"a" * 64, "b" * 64}


def test_restic_cache_of_the_repository_goes_and_nothing_else(tmp_path):
    from backupctl.tenants import destroy

    cache = tmp_path / "cache"
    for repository, snapshot in (("r1", "a" * 64), ("r2", "b" * 64)):
        (cache / repository / "snapshots" / snapshot[:2]).mkdir(parents=True)
        (cache / repository / "snapshots" / snapshot[:2] / snapshot).write_text("x")
    outside = tmp_path / "outside"
    (outside / "snapshots").mkdir(parents=True)
    (outside / "snapshots" / ("a" * 64)).write_text("not the cache")
    (cache / "link").symlink_to(outside)
    assert destroy.remove_caches(cache, {"a" * 64}) == ("r1",)
    assert sorted(path.name for path in cache.iterdir()) == ["link", "r2"]
    assert (outside / "snapshots" / ("a" * 64)).exists()
    assert destroy.remove_caches(tmp_path / "none", {"a" * 64}) == ()


def test_a_hold_placed_after_destruction_began_pauses_it_and_nothing_is_rotated():
    began = offboarded(Change(Kind.DESTROYING, "root", NOW, "non-payment", run_id=4))
    held = states.apply(began, Change(Kind.HOLD, "ann", NOW, "court", reference="C-2"))
    decided = plan.for_source("web", "acme", LOCATIONS, held, [], now=NOW)
    assert decided.step is plan.Step.PAUSED and "legal hold (C-2)" in decided.reason
    released = states.apply(held, Change(Kind.RELEASE, "ann", NOW, "lifted", reference="C-2"))
    decided = plan.for_source("web", "acme", LOCATIONS, released, [], now=NOW)
    assert (decided.step, decided.locations) == (plan.Step.DESTROY, LOCATIONS)
