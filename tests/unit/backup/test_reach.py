"""`reach.Reached` is a value: marking a location failed or listing it again returns a new one."""

from __future__ import annotations

import dataclasses

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
