"""Turn JSON or YAML *text* into GTS documents (the gts layer never touches files itself).

YAML is read with a loader that keeps scalars JSON-shaped (timestamps stay strings) and refuses
aliases, so a document means the same thing whichever notation it was written in and an alias
bomb cannot blow up memory. Over-deep documents are refused instead of recursed into.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from plugway.gts._errors import GtsError

__all__ = [
    "DOCUMENT_SUFFIXES",
    "MAX_LOAD_DEPTH",
    "GtsDocumentError",
    "dump_document",
    "load_documents",
]

#: File name endings that hold GTS documents.
DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")
#: Deepest nesting accepted from text.
MAX_LOAD_DEPTH = 128


class GtsDocumentError(GtsError):
    """Text that is not JSON/YAML, or does not hold JSON objects; the message names the source."""


class _JsonShapedLoader(yaml.SafeLoader):
    """SafeLoader minus the implicit timestamp type, and with aliases refused."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases are not accepted", None
            )
        return super().compose_node(parent, index)


# Plain scalars resolve by the YAML 1.2 core schema (what JSON means), not YAML 1.1: no
# timestamps, no yes/no/on/off booleans, no octal "010" or sexagesimal "1:20", and "1e-05" is a
# float. Everything else stays a string.
_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
)
_JsonShapedLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in _CORE_RESOLVERS:
    _JsonShapedLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


class _QuotingDumper(yaml.SafeDumper):
    """SafeDumper that also quotes strings the loader above would read as another type."""


for _tag, _pattern, _first in _CORE_RESOLVERS:
    _QuotingDumper.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(str(loader.construct_scalar(node)), 10)  # "010" is ten, as in JSON and YAML 1.2


_JsonShapedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_documents(text: str, *, filename: str = "") -> list[dict[str, Any]]:
    """Parse ``text`` into a list of JSON objects.

    JSON is chosen for ``.json`` names or text starting with ``{``/``[``, YAML otherwise
    (multi-document streams allowed). A top-level array contributes each of its items.
    Raises GtsDocumentError naming ``filename`` for anything else.
    """
    source = filename or "<text>"
    stripped = text.lstrip()
    as_json = filename.endswith(".json") or (not filename and stripped[:1] in ("{", "["))
    raw: list[Any]
    try:
        if as_json:
            raw = [json.loads(text)]
        else:
            raw = [d for d in yaml.load_all(text, Loader=_JsonShapedLoader) if d is not None]
    except RecursionError as exc:
        raise GtsDocumentError(f"{source}: document is nested too deeply") from exc
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if as_json else "YAML"
        raise GtsDocumentError(f"{source}: not valid {kind}: {exc}") from exc
    docs: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        parts = item if isinstance(item, list) else [item]
        for sub_index, part in enumerate(parts):
            where = f"{source} document {index}" + (
                f" item {sub_index}" if isinstance(item, list) else ""
            )
            if not isinstance(part, Mapping):
                raise GtsDocumentError(
                    f"{where}: expected a JSON object, got {type(part).__name__}"
                )
            _check_shape(part, where)
            docs.append(dict(part) if as_json else _join_surrogates(part))
    return docs


def _join_surrogates(node: Any) -> Any:
    """PyYAML decodes an escaped astral character (``"\\ud83d\\ude00"``) as two lone
    surrogates; JSON joins them. Join them here too so YAML and JSON give the same text.
    Depth is already bounded by ``_check_shape``."""
    if isinstance(node, str):
        if any("\ud800" <= ch <= "\udfff" for ch in node):
            return node.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
        return node
    if isinstance(node, Mapping):
        return {_join_surrogates(k): _join_surrogates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_join_surrogates(v) for v in node]
    return node


def _check_shape(doc: Any, where: str) -> None:
    """Depth limit, string keys and finite numbers, checked without recursion."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_LOAD_DEPTH:
            raise GtsDocumentError(f"{where}: nested deeper than {MAX_LOAD_DEPTH} levels")
        if isinstance(node, Mapping):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise GtsDocumentError(f"{where}: object key {key!r} is not a string")
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise GtsDocumentError(f"{where}: {node!r} is not a JSON value (not finite)")
        elif not isinstance(node, str | int | float | bool) and node is not None:
            raise GtsDocumentError(f"{where}: {type(node).__name__} is not a JSON value")


def dump_document(doc: Mapping[str, Any], *, fmt: str = "json") -> str:
    """Render one document as JSON or YAML text that ``load_documents`` reads back unchanged.

    YAML output quotes every string a YAML 1.1 reader could take for another type
    (``"on"``, ``"2024-01-01"``...), so other tools read it the same way too.
    """
    _check_shape(doc, "document")
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        text = yaml.dump(
            dict(doc), Dumper=_QuotingDumper, sort_keys=False, allow_unicode=False, width=2**16
        )
        return str(text)
    raise GtsDocumentError(f"unknown document format {fmt!r} (expected 'json' or 'yaml')")
