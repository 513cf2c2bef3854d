"""Turn JSON or YAML *text* into GTS documents (the gts layer never touches files itself).

YAML is read with a loader that keeps scalars JSON-shaped (timestamps stay strings) and refuses
aliases, so a document means the same thing whichever notation it was written in and an alias
bomb cannot blow up memory. Over-deep documents are refused instead of recursed into.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from plugway.gts._errors import GtsError

__all__ = ["DOCUMENT_SUFFIXES", "MAX_LOAD_DEPTH", "GtsDocumentError", "load_documents"]

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


_JsonShapedLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


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
            docs.append(dict(part))
    return docs


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
        elif isinstance(node, float) and node != node:  # NaN is not JSON
            raise GtsDocumentError(f"{where}: NaN is not a JSON value")
        elif not isinstance(node, str | int | float | bool) and node is not None:
            raise GtsDocumentError(f"{where}: {type(node).__name__} is not a JSON value")
