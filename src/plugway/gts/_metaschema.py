"""A type schema must itself be valid JSON Schema: checked against its declared meta-schema.

Why jsonschema (a runtime dependency for this alone): it ships the meta-schemas of every
draft (04, 06, 07, 2019-09, 2020-12, through ``jsonschema-specifications``, no network) and
resolves the 2019-09/2020-12 ones, which are split into vocabularies joined by
``$dynamicRef`` — fastjsonschema compiles only drafts 04-07 and cannot read those. A schema
is checked once, at registration, so an interpreting validator costs nothing that matters;
fastjsonschema stays the engine for instances, which are validated many times.

``$schema`` picks the meta-schema; without it (or with a URI no draft answers to) draft-07 is
used, the GTS default. GTS keywords (``x-gts-*``) are unknown keywords to every meta-schema
and so accepted; ``gts://`` ``$id``s and ``$ref``s are URI references, which the meta-schemas
do not check further (GTS's own rules for them live in ``_refs``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Protocol

from plugway.gts._errors import GtsSchemaError
from plugway.gts._ids import shorten

__all__ = ["check_metaschema", "metaschema_errors"]


class _MetaValidator(Protocol):
    def iter_errors(self, instance: Any) -> Any: ...


_DRAFT_07 = "http://json-schema.org/draft-07/schema#"


@functools.cache
def _meta_validator(dialect: str) -> tuple[str, _MetaValidator]:
    """The validator of meta-schema ``dialect`` (and the draft's name), built once per dialect."""
    from jsonschema import validators

    cls = validators.validator_for({"$schema": dialect}, default=None)
    if cls is None:
        cls = validators.validator_for({"$schema": _DRAFT_07})
    name = str(cls.META_SCHEMA.get("$schema", dialect))
    return name, cls(cls.META_SCHEMA)


def _format_path(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "<root>"


def metaschema_errors(schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field path, message)`` for each way ``schema`` breaks its meta-schema, best first.

    The path names the bad keyword inside the schema, e.g. ``properties.total.type``.
    """
    from jsonschema import exceptions

    dialect = schema.get("$schema")
    name, validator = _meta_validator(dialect if isinstance(dialect, str) else _DRAFT_07)
    try:
        errors = list(validator.iter_errors(schema))
    except RecursionError:
        return [("<root>", "the schema is nested too deeply to check against its meta-schema")]
    if not errors:
        return []
    best = exceptions.best_match(errors)
    ordered = [best, *(e for e in errors if e is not best)]
    return [(_format_path(e.absolute_path), _message(e, name)) for e in ordered]


def _message(error: Any, dialect: str) -> str:
    return f"{shorten(str(error.message), 160)} (under the {dialect} meta-schema)"


def check_metaschema(schema: Mapping[str, Any], label: str) -> None:
    """Raise ``GtsSchemaError`` naming ``label`` and the bad keyword's path unless ``schema``
    is valid against its meta-schema."""
    errors = metaschema_errors(schema)
    if errors:
        path, message = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise GtsSchemaError(f"{label} is not a valid JSON Schema at {path}: {message}{more}")
