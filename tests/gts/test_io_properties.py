"""Property tests: load_documents turns any text into documents or a GtsError, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plugway.gts import GtsError
from plugway.gts._io import dump_document, load_documents

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    # YAML caps implicit keys at 1024 characters, so keys stay short (JSON has no such limit).
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=40), inner, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), filename=st.sampled_from(["", "a.json", "a.yaml", "a.yml"]))
def test_any_text_gives_documents_or_a_gts_error(text: str, filename: str) -> None:
    try:
        docs = load_documents(text, filename=filename)
    except GtsError:
        return
    assert all(isinstance(d, dict) for d in docs)


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=40), _json, max_size=4))
def test_json_objects_round_trip_through_json_and_yaml(doc: dict[str, Any]) -> None:
    assert load_documents(json.dumps(doc)) == [doc]
    assert load_documents(json.dumps(doc), filename="same.yaml") == [doc], "JSON is YAML"


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=40), _json, max_size=4))
def test_dumped_documents_load_back_unchanged(doc: dict[str, Any]) -> None:
    assert load_documents(dump_document(doc, fmt="yaml"), filename="d.yaml") == [doc]
    assert load_documents(dump_document(doc), filename="d.json") == [doc]
