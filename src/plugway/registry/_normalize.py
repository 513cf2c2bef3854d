"""Turning a submitted document into a storable row: id extraction and canonical JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plugway.gts import GtsError, GtsId, extract_id

from ._backend import EntityRow
from ._errors import RegistryInvalidContentError, RegistryInvalidEntityError

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_json(doc: Mapping[str, Any]) -> str:
    """Key-sorted, compact JSON: equal documents give equal text (the idempotency test)."""
    return _ENCODER.encode(doc)


_SEGMENT_KEYS: dict[tuple[str, str, str], str] = {}
_SEGMENT_KEYS_MAX = 65_536


def _segment_key(vendor: str, package: str, namespace: str) -> str:
    key = (vendor, package, namespace)
    text = _SEGMENT_KEYS.get(key)
    if text is None:
        if len(_SEGMENT_KEYS) >= _SEGMENT_KEYS_MAX:
            _SEGMENT_KEYS.clear()
        text = _SEGMENT_KEYS[key] = f"v:{vendor}|p:{package}|n:{namespace}|"
    return text


def segments_key(gid: GtsId) -> str:
    """``|v:<vendor>|p:<package>|n:<namespace>|…`` over every segment, for any-segment filters.

    Bulk loads repeat the same few (vendor, package, namespace) triples, so each triple's text
    is built once and reused.
    """
    return "|" + "".join([_segment_key(s.vendor, s.package, s.namespace) for s in gid.segments])


def _unencodable(node: object, path: str) -> tuple[str, str] | None:
    """The path and value of the first key or string that UTF-8 cannot encode."""
    if isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:
            return path, node
        return None
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _unencodable(key, "") is not None:
                return here, key
            found = _unencodable(value, here)
            if found is not None:
                return found
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found = _unencodable(value, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _check_encodable(content: str, doc: Mapping[str, Any], gts_id: str) -> None:
    """Refuse text that cannot be stored or sent: a lone surrogate decodes from JSON
    (``"\\ud800"``) but has no UTF-8 form, so SQLite and every response would fail on it."""
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return
    found = _unencodable(doc, "")
    field, value = found if found is not None else ("", content)
    # Spelled as escapes (\\ud800), so the message and the path are themselves encodable.
    field = field.encode("utf-8", "backslashreplace").decode("ascii", "replace")
    shown = value[:60].encode("utf-8", "backslashreplace").decode("utf-8")
    raise RegistryInvalidContentError(
        f"{gts_id}: {field or 'the document'}: text that is not valid Unicode (a lone "
        f'surrogate) in "{shown}"',
        gts_id,
        field,
    )


def normalize(doc: object) -> EntityRow:
    """Check that ``doc`` is a well-formed entity and build its row.

    Only the id and the document's form are checked here; schema and reference checks belong to
    validation (at the switch to ready, or at once after it).
    """
    if not isinstance(doc, Mapping):
        raise RegistryInvalidEntityError(
            f"an entity must be a JSON object, got {type(doc).__name__}"
        )
    try:
        ext = extract_id(doc)
    except (GtsError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise RegistryInvalidEntityError(f"cannot extract a GTS id: {exc}") from exc
    raw = ext.id
    if not isinstance(raw, str) or not raw:
        raise RegistryInvalidEntityError(
            "no GTS id found (looked in $id, gtsId, id); anonymous entities are not registrable"
        )
    if ext.type_id and not raw.startswith("gts."):
        raise RegistryInvalidEntityError(
            f"{raw}: anonymous instance of {ext.type_id} cannot be registered by its UUID; "
            f"give it a combined id such as {ext.type_id}{raw}",
            raw,
        )
    gid = ext.gts_id  # already parsed by the extraction when the id is valid
    if gid is None or gid.text != raw:
        try:
            gid = GtsId.parse(raw)
        except GtsError as exc:
            raise RegistryInvalidEntityError(f"{raw}: invalid GTS id: {exc}", raw) from exc
    if gid.is_type and not ext.is_type:
        raise RegistryInvalidEntityError(
            f"{gid.text}: a type id (ending in '~') needs a JSON Schema document with $schema",
            gid.text,
        )
    if not gid.is_type and ext.is_type:
        raise RegistryInvalidEntityError(
            f"{gid.text}: a JSON Schema document needs a type id ending in '~'", gid.text
        )
    try:
        content = canonical_json(doc)
    except (TypeError, ValueError, RecursionError) as exc:
        raise RegistryInvalidEntityError(
            f"{gid.text}: not valid JSON content: {exc}", gid.text
        ) from exc
    if not content.isascii():  # the common case pays one C-speed scan, nothing more
        _check_encodable(content, doc, gid.text)
    first = gid.segments[0]
    return EntityRow(
        gts_id=gid.text,
        is_type=gid.is_type,
        type_id=gid.type_id,
        vendor=first.vendor,
        package=first.package,
        namespace=first.namespace,
        content=content,
        segments=segments_key(gid),
    )
