"""`reach.Reached` is a value: marking a location failed or listing it again returns a new one."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from backupctl import reach


class ListingStore:
    """Stand-in store with only the one call Reached makes (list_files)."""

    def __init__(self, name: str, listing: dict[str, int] | None = None, error=None):
        self.name, self.listing, self.error = name, listing or {}, error

    def list_files(self) -> dict[str, int]:
        if self.error:
            raise self.error
        return dict(self.listing)


def test_a_reached_value_cannot_be_changed_in_place():
    value = reach.Reached({"a": ListingStore("a")}, {"a": {"config": 1}}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.listings = {}
    with pytest.raises(TypeError):
        value.listings["b"] = {}
    with pytest.raises(TypeError):
        value.failures["a"] = "down"


def test_failed_and_relisted_return_new_values():
    store = ListingStore("a", {"config": 1, "keys/k": 2})
    original = reach.Reached(
        {"a": store, "b": ListingStore("b", error=OSError("gone"))},
        {"a": {"config": 1}, "b": {}},
        {},
    )
    relisted = original.relisted(["a", "b"])
    assert original.listings == {"a": {"config": 1}, "b": {}}
    assert relisted.listings == {"a": {"config": 1, "keys/k": 2}}
    assert relisted.failures == {"b": "OSError: gone"}
    failed = relisted.failed("a", "restic backup: no-space")
    assert "a" in relisted.listings and "a" not in failed.listings
    assert failed.failures["a"] == "restic backup: no-space"


def test_with_config_follows_the_preference():
    value = reach.Reached({}, {"a": {}, "b": {"config": 1}, "c": {"config": 1}}, {})
    assert value.with_config(("c", "a", "b", "d")) == ("c", "b")


class ResticStore(ListingStore):
    """Also says how restic reaches it."""

    def restic_repository(self) -> str:
        return f"/repos/{self.name}"

    def restic_options(self) -> tuple[str, ...]:
        return ()

    def restic_environment(self) -> dict[str, str]:
        return {}


def test_the_fast_key_is_hinted_only_where_the_location_lists_it():
    key = "ab" * 32
    value = reach.Reached(
        {"a": ResticStore("a"), "b": ResticStore("b")},
        {"a": {"config": 1, f"keys/{key}": 400}, "b": {"config": 1}},
        {},
    ).hinted(key)
    assert value.repository("a").key_hint == key
    assert value.repository("a").url == "/repos/a"
    assert value.repository("b").key_hint is None  # not copied there yet
    assert value.failed("b", "down").relisted(["a"]).key_hint == key
    assert value.hinted(None).repository("a").key_hint is None


class ThreadRecordingStore(ListingStore):
    """Also records on which thread it was listed and closed."""

    def __init__(self, name: str, *, error=None, close_may_block: bool = True):
        super().__init__(name, {"config": 1}, error)
        self.close_may_block = close_may_block
        self.listed_on = self.closed_on = None

    def list_files(self) -> dict[str, int]:
        self.listed_on = threading.current_thread()
        return super().list_files()

    def close(self) -> None:
        self.closed_on = threading.current_thread()


def test_one_location_is_listed_on_the_calling_thread_several_at_once():
    alone = ThreadRecordingStore("a")
    assert reach._list_all({"a": alone}, {}) == {"a": {"config": 1}}
    assert alone.listed_on is threading.current_thread()
    stores = {name: ThreadRecordingStore(name) for name in "abc"}
    assert set(reach._list_all(stores, {})) == {"a", "b", "c"}
    assert stores["a"].listed_on is threading.current_thread()
    assert all(stores[name].listed_on is not threading.current_thread() for name in "bc")


def test_a_failed_listing_is_a_reason_whether_listed_here_or_on_a_thread():
    for failing in ("a", "b"):
        stores = {
            name: ThreadRecordingStore(name, error=OSError("gone") if name == failing else None)
            for name in "ab"
        }
        failures: dict[str, str] = {}
        listings = reach._list_all(stores, failures)
        assert failures == {failing: "OSError: gone"} and failing not in listings


def test_a_store_whose_close_cannot_block_is_closed_here_the_others_on_threads():
    local, remote = ThreadRecordingStore("a", close_may_block=False), ThreadRecordingStore("b")
    reach.close([local, remote])
    assert local.closed_on is threading.current_thread()
    assert remote.closed_on is not None and remote.closed_on is not threading.current_thread()
