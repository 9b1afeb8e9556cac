"""The pure placement rule over resolved places: one place under two names, one inside another."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.placement import Place, duplicate_places, nested_places, same_or_inside

LOCAL = ("local",)


def local(*parts: str) -> Place:
    return Place(LOCAL, parts)


@pytest.mark.parametrize(("first", "second", "relation"), [
    (local("mnt", "a"), local("mnt", "a"), "same"),
    (local("mnt", "a", "b"), local("mnt", "a"), "inside"),
    (local("mnt", "a"), local("mnt", "a", "b"), "contains"),
    (local("mnt", "a"), local("mnt", "ab"), None),
    (local("mnt", "a"), Place(("sftp", "host", "22"), ("mnt", "a")), None),
    (Place(("s3", "e", "b"), ()), Place(("s3", "e", "b"), ("p",)), "contains"),
    (Place(("s3", "e", "b"), ()), Place(("s3", "e", "other"), ()), None),
])  # fmt: skip
def test_same_or_inside(first, second, relation):
    assert same_or_inside(first, second) == relation


parts = st.lists(st.sampled_from(["a", "b", "c"]), max_size=4).map(tuple)


@given(parts, parts)
def test_inside_and_contains_mirror_each_other(first, second):
    mirror = {"same": "same", "inside": "contains", "contains": "inside", None: None}
    assert (
        same_or_inside(local(*second), local(*first))
        == mirror[same_or_inside(local(*first), local(*second))]
    )


def test_duplicate_places_names_the_first_holder():
    places = {"a": local("x"), "b": local("y"), "c": local("x"), "d": local("x")}
    assert duplicate_places(places) == [("c", "a"), ("d", "a")]


def test_nested_places_returns_inner_then_outer():
    places = {"outer": local("x"), "inner": local("x", "y"), "apart": local("z")}
    assert nested_places(("inner", "outer", "apart"), places) == [("inner", "outer")]
    assert nested_places(("outer", "inner"), places) == [("inner", "outer")]
