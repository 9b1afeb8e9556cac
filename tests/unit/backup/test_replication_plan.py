"""Replication planning from the manifest and the listings alone, and the content check of files."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backupctl.replication import plan as planning
from backupctl.replication import verify
from backupctl.replication.manifest import Manifest, new_files
from backupctl.results import ForeignFile


def name_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


K, D, N, S, X = (name_of(bytes([n])) for n in range(5))
FULL = {
    "config": 155,
    f"keys/{K}": 450,
    f"data/{D[:2]}/{D}": 1000,
    f"index/{N}": 300,
    f"snapshots/{S}": 250,
}
MANIFEST = Manifest(FULL)


def test_nothing_to_do_when_all_locations_hold_the_manifest():
    result = planning.plan(MANIFEST, {"a": dict(FULL), "b": dict(FULL)}, ("a", "b"))
    assert result == planning.Plan(("a", "b"), (), (), (), ())


def test_no_listings_no_transfers():
    assert planning.plan(MANIFEST, {}, ("a", "b")).transfers == ()


def test_lacking_files_are_planned_in_crash_safe_order_from_preferred_origins():
    result = planning.plan(
        MANIFEST, {"b": dict(FULL), "a": dict(FULL), "c": {"config": 155}}, ("a", "b", "c")
    )
    assert [t.path for t in result.transfers] == [
        f"keys/{K}",
        f"data/{D[:2]}/{D}",
        f"index/{N}",
        f"snapshots/{S}",
    ]
    assert result.transfers[0] == planning.Transfer(
        path=f"keys/{K}",
        size=450,
        origins=("a", "b"),
        lacking=("c",),
        damaged=(),
        reason="missing at c",
    )
    assert result.total_bytes == 450 + 1000 + 300 + 250


def test_a_file_not_in_the_manifest_is_foreign_and_never_copied():
    planted = f"snapshots/{X}"
    listings = {"a": {**FULL, planted: 300}, "b": dict(FULL)}
    result = planning.plan(MANIFEST, listings, ("a", "b"))
    assert result.transfers == ()
    assert result.foreign == (ForeignFile("a", planted, 300),)


def test_only_the_manifest_size_is_an_origin_and_other_sizes_are_damaged():
    path = f"data/{D[:2]}/{D}"
    listings = {"a": {**FULL, path: 200_000_000}, "b": dict(FULL), "c": {**FULL, path: 999}}
    (transfer,) = planning.plan(MANIFEST, listings, ("a", "b", "c")).transfers
    assert transfer.origins == ("b",)
    assert transfer.destinations == ("a", "c")
    assert "size 200000000 at a, manifest says 1000" in transfer.reason


def test_a_manifest_file_held_nowhere_at_its_size_is_unavailable_not_transferred():
    path = f"index/{N}"
    listings = {"a": {**FULL, path: 1}, "b": {k: v for k, v in FULL.items() if k != path}}
    result = planning.plan(MANIFEST, listings, ("a", "b"))
    assert result.unavailable == (path,)
    assert all(t.path != path for t in result.transfers)


def test_files_deleted_by_the_toolkit_are_removed_where_present_snapshots_first():
    gone = {f"snapshots/{X}", f"data/{D[:2]}/{D}"}
    manifest = Manifest({k: v for k, v in FULL.items() if k not in gone}, frozenset(gone))
    listings = {"a": dict(FULL), "b": {**FULL, f"snapshots/{X}": 9}, "c": {"config": 155}}
    result = planning.plan(manifest, listings, ("a", "b", "c"))
    assert [(r.location, r.path) for r in result.removals] == [
        ("b", f"snapshots/{X}"),
        ("a", f"data/{D[:2]}/{D}"),
        ("b", f"data/{D[:2]}/{D}"),
    ]
    assert result.foreign == ()
    assert all(t.path not in gone for t in result.transfers)


def test_preference_orders_the_origins_and_unlisted_locations_come_last():
    listings = {"a": {f"index/{N}": 300}, "b": {f"index/{N}": 300}, "c": {}}
    result = planning.plan(Manifest({f"index/{N}": 300}), listings, ("b",))
    assert result.locations == ("b", "a", "c")
    assert result.transfers[0].origins == ("b", "a")


def test_new_files_are_those_only_in_the_later_listing():
    assert new_files({"config": 1, "a": 2}, {"config": 1, "a": 3, "b": 4}) == {"b": 4}


@pytest.mark.parametrize(("path", "category"), [
    ("config", "config"), (f"keys/{K}", "keys"), (f"data/ab/{D}", "data"), (f"index/{N}", "index"),
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

CATEGORY_PATHS = [
    f"{prefix}{name_of(bytes([n]))}"
    for n in range(6)
    for prefix in ("keys/", "index/", "snapshots/")
]
CATEGORY_PATHS += [f"data/{name_of(bytes([n]))[:2]}/{name_of(bytes([n]))}" for n in range(6)]
CATEGORY_PATHS += ["config"]
LOCATIONS = ("a", "b", "c", "d")


@st.composite
def cases(draw):
    """A manifest, a set of deleted paths, and listings of 1-4 locations that hold manifest files
    (some at a wrong size), deleted files and foreign files."""
    names = draw(st.lists(st.sampled_from(LOCATIONS), min_size=1, max_size=4, unique=True))
    paths = draw(st.lists(st.sampled_from(CATEGORY_PATHS), max_size=14, unique=True))
    kinds = {path: draw(st.sampled_from(("manifest", "deleted", "foreign"))) for path in paths}
    true_size = {path: draw(st.integers(1, 10_000)) for path in paths}
    listings: dict[str, dict[str, int]] = {name: {} for name in names}
    for path in paths:
        for holder in draw(st.lists(st.sampled_from(names), unique=True)):
            damaged = draw(st.booleans()) and draw(st.booleans())
            listings[holder][path] = true_size[path] + (7 if damaged else 0)
    manifest = Manifest(
        {p: true_size[p] for p in paths if kinds[p] == "manifest"},
        frozenset(p for p in paths if kinds[p] == "deleted"),
    )
    return manifest, listings, tuple(draw(st.permutations(names)))


def apply(manifest, listings, result):
    """Simulate the sync: write each transfer at its manifest size, carry out the removals."""
    after = {name: dict(listing) for name, listing in listings.items()}
    for transfer in result.transfers:
        for name in transfer.destinations:
            after[name][transfer.path] = transfer.size
    for removal in result.removals:
        del after[removal.location][removal.path]
    return after


@settings(max_examples=80, deadline=None)
@given(cases())
def test_never_plans_a_copy_of_a_file_not_in_the_manifest(case):
    manifest, listings, preference = case
    for transfer in planning.plan(manifest, listings, preference).transfers:
        assert transfer.path in manifest.files
        assert transfer.size == manifest.files[transfer.path]


@settings(max_examples=80, deadline=None)
@given(cases())
def test_every_origin_holds_the_manifest_size(case):
    manifest, listings, preference = case
    for transfer in planning.plan(manifest, listings, preference).transfers:
        assert transfer.origins
        assert all(listings[o][transfer.path] == transfer.size for o in transfer.origins)
        order = [preference.index(origin) for origin in transfer.origins]
        assert order == sorted(order)


@settings(max_examples=80, deadline=None)
@given(cases())
def test_after_the_plan_every_location_holds_every_available_manifest_file(case):
    manifest, listings, preference = case
    result = planning.plan(manifest, listings, preference)
    after = apply(manifest, listings, result)
    for path, size in manifest.files.items():
        if path in result.unavailable:
            assert not any(listing.get(path) == size for listing in listings.values())
            continue
        if any(listing.get(path) == size for listing in listings.values()):
            assert all(after[name][path] == size for name in listings)


@settings(max_examples=80, deadline=None)
@given(cases())
def test_foreign_files_are_reported_untouched_and_deleted_files_disappear(case):
    manifest, listings, preference = case
    result = planning.plan(manifest, listings, preference)
    after = apply(manifest, listings, result)
    expected_foreign = {
        (name, path)
        for name, listing in listings.items()
        for path in listing
        if path not in manifest.files and path not in manifest.deleted
    }
    assert {(f.location, f.path) for f in result.foreign} == expected_foreign
    for name, path in expected_foreign:
        assert after[name][path] == listings[name][path]
    for name in listings:
        assert not set(after[name]) & manifest.deleted


@settings(max_examples=80, deadline=None)
@given(cases())
def test_transfers_are_ordered_config_keys_data_index_snapshots(case):
    manifest, listings, preference = case
    ranks = [
        planning.CATEGORY_ORDER.index(planning.category(t.path))
        for t in planning.plan(manifest, listings, preference).transfers
    ]
    assert ranks == sorted(ranks)
