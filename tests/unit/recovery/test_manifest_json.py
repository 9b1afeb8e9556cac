"""The manifest's JSON text is the standard library's, byte for byte."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from recovery import manifest_json

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF))
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.dictionaries(st.integers() | st.booleans() | st.none(), children, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=400)
@given(values)
def test_the_text_is_json_dumps_with_indent_2(value):
    assert manifest_json.dumps(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_a_manifest_shaped_document_is_the_same():
    entry = {
        "path": 'allocated/p0/d\u00e9j\u00e0 "vu"\n.txt',
        "size": 2560,
        "times": {"mtime": "2026-11-29T14:52:49+00:00"},
        "damaged": False,
        "partition": None,
        "byte_runs": [[31481856, 2560], [0, 1]],
        "empty": [],
        "none": {},
    }
    document = {"scan": {"counts": {"total": 2}, "warnings": []}, "files": [entry, entry]}
    assert manifest_json.dumps(document) == json.dumps(document, indent=2, ensure_ascii=False)
