"""load_documents: JSON and YAML text into GTS documents, refusing what is not JSON-shaped."""

from __future__ import annotations

import json

import pytest

from plugway.gts._errors import GtsError
from plugway.gts._io import MAX_LOAD_DEPTH, GtsDocumentError, dump_document, load_documents

SCHEMA = {
    "$id": "gts://gts.x.a.b.c.v1~",
    "$schema": "http://json-schema.org/draft-07/schema#",
    "x-gts-traits": {"retention": "P30D"},
    "properties": {"when": {"type": "string", "default": "2024-01-01"}},
}


def test_json_object_and_array() -> None:
    assert load_documents(json.dumps(SCHEMA)) == [SCHEMA]
    assert load_documents(json.dumps([SCHEMA, {"id": "x"}]), filename="a.json") == [
        SCHEMA,
        {"id": "x"},
    ]


def test_yaml_is_lossless_for_gts_keys_and_keeps_dates_as_strings() -> None:
    text = """
$id: gts://gts.x.a.b.c.v1~
$schema: http://json-schema.org/draft-07/schema#
x-gts-traits:
  retention: P30D
properties:
  when: {type: string, default: 2024-01-01}
"""
    assert load_documents(text, filename="a.yaml") == [SCHEMA]


def test_yaml_scalars_mean_what_json_means() -> None:
    text = "a: 1e-05\nb: on\nc: 010\nd: 1:20\ne: ~\nf: .5\ng: -3\nh: TRUE\ni: 0x1F\nj: no\n"
    assert load_documents(text, filename="s.yaml") == [
        {
            "a": 1e-05,
            "b": "on",
            "c": 10,
            "d": "1:20",
            "e": None,
            "f": 0.5,
            "g": -3,
            "h": True,
            "i": "0x1F",
            "j": "no",
        }
    ]
    assert load_documents('a: "\\ud83d\\ude00"\n', filename="e.yaml") == [{"a": "\U0001f600"}]


def test_yaml_multi_document_stream() -> None:
    text = "id: a\n---\nid: b\n---\n"
    assert load_documents(text, filename="many.yml") == [{"id": "a"}, {"id": "b"}]


@pytest.mark.parametrize(
    ("text", "filename", "match"),
    [
        ("{not json", "bad.json", "bad.json: not valid JSON"),
        ("a: [1, 2", "bad.yaml", "bad.yaml: not valid YAML"),
        ("[1, 2]", "", "expected a JSON object, got int"),
        ("- 1\n", "list.yaml", "list.yaml document 0 item 0: expected a JSON object"),
        ("just text", "", "expected a JSON object, got str"),
        ("a: &x [1]\nb: *x\n", "alias.yaml", "aliases are not accepted"),
        ("? [1, 2]\n: v\n", "key.yaml", "not valid YAML"),
        ("a: !!binary aGVsbG8=\n", "bin.yaml", "bytes is not a JSON value"),
        ('{"a": NaN}', "", "nan is not a JSON value"),
        ('{"a": [Infinity]}', "", "inf is not a JSON value"),
        ("a: -.inf\n", "inf.yaml", "-inf is not a JSON value"),
    ],
)
def test_refusals_name_the_source(text: str, filename: str, match: str) -> None:
    with pytest.raises(GtsDocumentError, match=match):
        load_documents(text, filename=filename)


def test_deep_nesting_is_refused_not_recursed() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(GtsError, match="nested"):
        load_documents('{"a": ' + deep + "}")
    moderately = '{"a": ' + "[" * (MAX_LOAD_DEPTH + 1) + "]" * (MAX_LOAD_DEPTH + 1) + "}"
    with pytest.raises(GtsDocumentError, match=f"deeper than {MAX_LOAD_DEPTH}"):
        load_documents(moderately)
    yaml_deep = "a: " + "[" * 5000 + "]" * 5000
    with pytest.raises(GtsError):
        load_documents(yaml_deep, filename="deep.yaml")


def test_dump_document_quotes_what_could_be_misread() -> None:
    doc = {"$id": "gts://gts.x.a.b.c.v1~", "a": "on", "b": "2024-01-01", "c": "0E0", "d": 1e-05}
    text = dump_document(doc, fmt="yaml")
    assert "a: 'on'" in text and "b: '2024-01-01'" in text and "c: '0E0'" in text
    assert load_documents(text, filename="d.yaml") == [doc]
    assert load_documents(dump_document(doc), filename="d.json") == [doc]
    with pytest.raises(GtsDocumentError, match="unknown document format 'xml'"):
        dump_document(doc, fmt="xml")
    with pytest.raises(GtsDocumentError, match="not a JSON value"):
        dump_document({"n": float("nan")})
