"""Replication planning from listings alone, and the content check of repository files."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupctl.replication import plan as planning
from backupctl.replication import verify


def name_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


K, D, I, S = (name_of(bytes([n])) for n in range(4))


def test_nothing_to_do_when_all_locations_agree():
    listing = {"config": 155, f"keys/{K}": 450, f"data/{D[:2]}/{D}": 1000}
    assert planning.plan({"a": dict(listing), "b": dict(listing)}, ("a", "b")) == ()


def test_no_listings_no_transfers():
    assert planning.plan({}, ("a", "b")) == ()


def test_lacking_files_are_planned_in_crash_safe_order_from_preferred_origins():
    full = {"config": 155, f"keys/{K}": 450, f"data/{D[:2]}/{D}": 1000, f"index/{I}": 300,
            f"snapshots/{S}": 250}
    transfers = planning.plan({"b": dict(full), "a": dict(full), "c": {"config": 155}},
                              ("a", "b", "c"))
    assert [t.path for t in transfers] == [f"keys/{K}", f"data/{D[:2]}/{D}", f"index/{I}",
                                           f"snapshots/{S}"]
    first = transfers[0]
    assert first == planning.Transfer(path=f"keys/{K}", origins=("a", "b"),
                                      holders=(("a", 450), ("b", 450)), lacking=("c",))
    assert not first.sizes_disagree


def test_config_comes_first():
    transfers = planning.plan({"a": {f"snapshots/{S}": 1, "config": 2}, "b": {}}, ("a", "b"))
    assert [t.path for t in transfers] == ["config", f"snapshots/{S}"]


def test_unknown_categories_go_last():
    transfers = planning.plan({"a": {"zzz/x": 1, f"snapshots/{S}": 1, "aaa/y": 1}, "b": {}},
                              ("a", "b"))
    assert [t.path for t in transfers] == [f"snapshots/{S}", "aaa/y", "zzz/x"]


def test_preference_orders_the_origins():
    listings = {"a": {f"index/{I}": 3}, "b": {f"index/{I}": 3}, "c": {}}
    assert planning.plan(listings, ("b", "a", "c"))[0].origins == ("b", "a")


def test_sizes_that_disagree_are_planned_with_the_damaged_holder_as_destination():
    listings = {"a": {f"index/{I}": 300}, "b": {f"index/{I}": 299}}
    (transfer,) = planning.plan(listings, ("a", "b"))
    assert transfer.sizes_disagree and transfer.lacking == ()
    assert planning.destinations(transfer, 300) == ("b",)
    assert planning.destinations(transfer, 299) == ("a",)


def test_destinations_are_lacking_then_damaged():
    transfer = planning.Transfer(path="x", origins=("a", "b", "c"),
                                 holders=(("a", 5), ("b", 4), ("c", 5)), lacking=("d",))
    assert planning.destinations(transfer, 5) == ("d", "b")


@pytest.mark.parametrize(("path", "category"), [
    ("config", "config"), (f"keys/{K}", "keys"), (f"data/ab/{D}", "data"), (f"index/{I}", "index"),
    (f"snapshots/{S}", "snapshots"),
])  # fmt: skip
def test_category(path, category):
    assert planning.category(path) == category


@pytest.mark.parametrize(("path", "data", "matches"), [
    (f"keys/{name_of(b'key')}", b"key", True),
    (f"data/{name_of(b'pack')[:2]}/{name_of(b'pack')}", b"pack", True),
    (f"data/{name_of(b'pack')[:2]}/{name_of(b'pack')}", b"pack!", False),
    (f"index/{name_of(b'')}", b"", True),
    (f"snapshots/{name_of(b'snap').upper()}", b"snap", False),
    ("config", b"anything at all", True),  # compared across locations instead
    ("keys/config", b"x", False),
])  # fmt: skip
def test_content_name_matches(path, data, matches):
    assert verify.content_name_matches(path, data) is matches


# ---- properties ---------------------------------------------------------------------------

CATEGORY_PATHS = [f"{prefix}{name_of(bytes([n]))}" for n in range(6)
                  for prefix in ("keys/", "index/", "snapshots/")]
CATEGORY_PATHS += [f"data/{name_of(bytes([n]))[:2]}/{name_of(bytes([n]))}" for n in range(6)]
CATEGORY_PATHS += ["config"]
LOCATIONS = ("a", "b", "c", "d")


@st.composite
def listings_strategy(draw):
    """Listings of 1-4 locations; each path has one true size, and some holders a wrong one."""
    names = draw(st.lists(st.sampled_from(LOCATIONS), min_size=1, max_size=4, unique=True))
    paths = draw(st.lists(st.sampled_from(CATEGORY_PATHS), max_size=12, unique=True))
    true_size = {path: draw(st.integers(1, 10_000)) for path in paths}
    listings: dict[str, dict[str, int]] = {name: {} for name in names}
    for path in paths:
        holders = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
        for holder in holders:
            damaged = draw(st.booleans()) and draw(st.booleans())
            listings[holder][path] = true_size[path] + (7 if damaged else 0)
    preference = tuple(draw(st.permutations(names)))
    return listings, preference, true_size


def apply(listings, transfers, true_size):
    """Simulate the copy: write each file, at its true size, to every destination."""
    result = {name: dict(listing) for name, listing in listings.items()}
    for transfer in transfers:
        for name in planning.destinations(transfer, true_size[transfer.path]):
            result[name][transfer.path] = true_size[transfer.path]
    return result


@settings(max_examples=60, deadline=None)
@given(listings_strategy())
def test_after_the_plan_every_location_holds_every_path(case):
    listings, preference, true_size = case
    after = apply(listings, planning.plan(listings, preference), true_size)
    every_path = set().union(*listings.values())
    for name in listings:
        assert set(after[name]) == every_path


@settings(max_examples=60, deadline=None)
@given(listings_strategy())
def test_after_the_plan_every_copy_has_the_true_size_when_one_holder_has_it(case):
    listings, preference, true_size = case
    after = apply(listings, planning.plan(listings, preference), true_size)
    for path, size in true_size.items():
        holders = [listing[path] for listing in listings.values() if path in listing]
        if size in holders:
            assert all(after[name][path] == size for name in listings)


@settings(max_examples=60, deadline=None)
@given(listings_strategy())
def test_transfers_are_ordered_config_keys_data_index_snapshots(case):
    listings, preference, _ = case
    ranks = [planning.CATEGORY_ORDER.index(planning.category(t.path))
             for t in planning.plan(listings, preference)]
    assert ranks == sorted(ranks)


@settings(max_examples=60, deadline=None)
@given(listings_strategy())
def test_nothing_is_ever_planned_for_deletion(case):
    listings, preference, true_size = case
    after = apply(listings, planning.plan(listings, preference), true_size)
    for name, listing in listings.items():
        assert set(listing) <= set(after[name])


@settings(max_examples=60, deadline=None)
@given(listings_strategy())
def test_each_transfer_reads_from_holders_in_preference_order(case):
    listings, preference, _ = case
    for transfer in planning.plan(listings, preference):
        assert transfer.origins
        assert all(transfer.path in listings[origin] for origin in transfer.origins)
        assert all(transfer.path not in listings[name] for name in transfer.lacking)
        order = [preference.index(origin) for origin in transfer.origins]
        assert order == sorted(order)


@settings(max_examples=60, deadline=None)
@given(listings_strategy())
def test_a_path_whose_sizes_disagree_is_always_planned(case):
    listings, preference, _ = case
    planned = {t.path for t in planning.plan(listings, preference)}
    for path in set().union(*listings.values()):
        sizes = {listing[path] for listing in listings.values() if path in listing}
        holders = sum(path in listing for listing in listings.values())
        if len(sizes) > 1 or holders < len(listings):
            assert path in planned
        else:
            assert path not in planned
