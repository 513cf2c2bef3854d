"""OP#6: validating instances against GTS type schemas, compiled once and cached.

Why fastjsonschema: it turns a schema into straight-line Python, which validates a small
instance many times faster than an interpreting validator. It cannot fetch ``gts://``
references, so a type schema is first *bundled*: every ``gts://`` schema it reaches through
the resolver is copied under ``definitions`` and its references are rewritten to local
pointers. GTS keywords are stripped from what fastjsonschema sees; ``x-gts-ref`` is enforced
by the small compiled checks of ``_xref_checks`` and ``x-gts-abstract`` by the validator itself.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import fastjsonschema

from plugway.gts._bundle import Bundler, Stripper
from plugway.gts._chain import find_ref_cycle
from plugway.gts._errors import GtsError, GtsSchemaError, GtsValidationError
from plugway.gts._ids import GtsId, shorten
from plugway.gts._refs import (
    MAX_SCHEMA_DEPTH,
    SCHEMA_ONLY_KEYWORDS,
    SchemaResolver,
    is_abstract,
)
from plugway.gts._regex import install_patterns, restore_patterns, route_patterns
from plugway.gts._xref_checks import XrefCheck, XrefCompiler

__all__ = [
    "InstanceValidator",
    "InstanceValidatorCache",
    "compile_fragments",
    "compile_instance_validator",
    "compile_standalone",
    "validate_instance",
]

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
DRAFT_2019 = "https://json-schema.org/draft/2019-09/schema"


def _dialect_for(doc: Mapping[str, Any]) -> str:
    """Draft-07 unless the document asks for 2019-09 or later.

    The dialect matters beyond syntax: ``format: uuid`` exists only from 2019-09 on, so in a
    draft-07 schema it is an annotation (the conformance suite relies on that).
    """
    dialect = doc.get("$schema")
    if isinstance(dialect, str) and ("2019-09" in dialect or "2020-12" in dialect):
        return DRAFT_2019
    return DRAFT_07


_ValueError = fastjsonschema.JsonSchemaValueException
_DATA_PATH = re.compile(r"^data\.?")


def _compile(schema: Any, label: str, dialect: str = DRAFT_07) -> Callable[[Any], Any]:
    """fastjsonschema's validator of ``schema``, its regexes run by RE2 (see ``_regex``)."""
    if isinstance(schema, Mapping):
        schema = {**schema, "$schema": dialect}
    schema, routes = route_patterns(schema)
    try:
        fn: Callable[[Any], Any] = fastjsonschema.compile(schema, use_default=False)
        install_patterns(fn, routes, label)
    except GtsValidationError:
        raise
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise GtsValidationError(f"{label} is not a valid JSON Schema: {exc}") from exc
    except Exception as exc:  # fastjsonschema fails on malformed input in many ways
        raise GtsValidationError(
            f"{label} is not a valid JSON Schema: {type(exc).__name__}: {shorten(str(exc), 200)}"
        ) from exc
    if not routes:
        return fn

    def run(data: Any) -> Any:
        try:
            return fn(data)
        except _ValueError as exc:  # name the schema's regex, not its stand-in
            exc.message = restore_patterns(exc.message, routes)
            raise

    return run


def _field_path(exc: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    name = exc.name or "data"
    path = _DATA_PATH.sub("", name, count=1)
    message = exc.message
    if message.startswith(name):
        message = message[len(name) :].strip()
    return path or "<root>", message


class InstanceValidator:
    """A compiled validator of one type; build with ``compile_instance_validator``."""

    __slots__ = ("_std", "_xref", "depends_on", "is_abstract", "type_id")

    def __init__(
        self,
        type_id: str,
        std: Callable[[Any], Any],
        xref: XrefCheck | None,
        depends_on: frozenset[str],
        abstract: bool,
    ) -> None:
        self.type_id = type_id
        self._std = std
        self._xref = xref
        self.depends_on = depends_on
        self.is_abstract = abstract

    def validate(self, doc: Any) -> None:
        """Raise ``GtsValidationError`` naming the field path when ``doc`` does not conform."""
        if self.is_abstract:
            raise GtsValidationError(
                f"type {self.type_id} is abstract (x-gts-abstract: true) and cannot have "
                "direct instances"
            )
        try:
            self._std(doc)
        except _ValueError as exc:
            path, message = _field_path(exc)
            raise GtsValidationError(
                f"instance of {self.type_id} is invalid at {path}: {message}"
            ) from None
        except RecursionError:
            raise GtsValidationError(
                f"instance of {self.type_id} cannot be validated: the instance is nested too "
                "deeply, or the schema applies itself again through a local $ref cycle"
            ) from None
        except Exception as exc:  # odd non-JSON values...
            raise GtsValidationError(
                f"instance of {self.type_id} cannot be validated: {type(exc).__name__}"
            ) from None
        if self._xref is not None:
            try:
                self._xref(doc, "")
            except GtsValidationError as exc:
                raise GtsValidationError(f"instance of {self.type_id} is invalid {exc}") from None
            except RecursionError:
                raise GtsValidationError(
                    f"instance of {self.type_id} is nested too deeply to validate"
                ) from None

    def is_valid(self, doc: Any) -> bool:
        try:
            self.validate(doc)
        except GtsValidationError:
            return False
        return True


def _finish(
    root: dict[str, Any], bundler: Bundler, label: str, dialect: str = DRAFT_07
) -> tuple[Callable[[Any], Any], XrefCheck | None]:
    bundler.drain()
    defs = root.get("definitions")
    if defs is not None and not isinstance(defs, dict):
        raise GtsValidationError(f"{label}: 'definitions' must be an object")
    if bundler.definitions:
        root["definitions"] = {**(defs or {}), **bundler.definitions}
    xc = XrefCompiler(root)
    xref = xc.compile(root)
    hoisted: dict[str, Any] = {}
    stripper = Stripper(xc.taken_over, hoisted)
    std_root = stripper.strip(root)
    if not isinstance(std_root, dict):
        raise GtsValidationError(f"{label} must be a JSON object")
    if hoisted:
        std_root["definitions"] = {**std_root.get("definitions", {}), **hoisted}
    std = _compile(std_root, label, dialect)
    if xc.taken_over:

        def branch_factory(branch: Any) -> Callable[[Any], bool]:
            stripped = stripper.strip(branch)
            wrapper: dict[str, Any] = {k: v for k, v in std_root.items() if k == "$defs"}
            wrapper["definitions"] = {
                **std_root.get("definitions", {}),
                **hoisted,
                "__branch": stripped,
            }
            wrapper["$ref"] = "#/definitions/__branch"
            fn = _compile(wrapper, label, dialect)

            def ok(value: Any) -> bool:
                try:
                    fn(value)
                except Exception:  # a failed branch, however it fails
                    return False
                return True

            return ok

        xc.finalize(branch_factory)
    return std, xref


def compile_instance_validator(type_id: str, resolver: SchemaResolver) -> InstanceValidator:
    """Bundle and compile the schema of ``type_id``; raises ``GtsValidationError``."""
    try:
        gid = GtsId.parse(type_id)
    except GtsError as exc:
        raise GtsValidationError(f"cannot validate against {shorten(str(type_id))}: {exc}") from exc
    if not gid.is_type:
        raise GtsValidationError(f"{type_id} is an instance id, not a type id")
    doc = resolver(type_id)
    if doc is None:
        raise GtsValidationError(f"type schema {type_id} is not registered")
    if not isinstance(doc, Mapping):
        raise GtsValidationError(f"type schema {type_id} is not a JSON object")
    label = f"type schema {type_id}"
    bundler = Bundler(resolver)
    bundler.pin(type_id, "#")
    try:
        # A cycle of gts:// references applied to the same instance would only surface as
        # endless recursion while validating; name it now instead.
        cycle = find_ref_cycle(type_id, resolver)
        if cycle is not None:
            raise GtsValidationError(f"{label}: cyclic $ref: {' -> '.join(cycle)}")
        root = bundler.rewrite(doc, doc, "#")
        std, xref = _finish(root, bundler, label, _dialect_for(doc))
    except GtsSchemaError as exc:
        raise GtsValidationError(f"{label}: {exc}") from exc
    except GtsValidationError as exc:
        if str(exc).startswith(label):
            raise
        raise GtsValidationError(f"{label}: {exc}") from exc
    return InstanceValidator(type_id, std, xref, bundler.depends_on, is_abstract(doc))


def compile_standalone(schema: Any, *, label: str) -> Callable[[Any], bool]:
    """A boolean validator of a self-contained schema (no ``gts://`` refs, GTS keywords ignored)."""
    fn = _compile(_strip_gts(schema), label)

    def ok(value: Any) -> bool:
        try:
            fn(value)
        except Exception:  # not accepted, however the check fails
            return False
        return True

    return ok


def _strip_gts(node: Any, depth: int = 0) -> Any:
    if depth > MAX_SCHEMA_DEPTH * 4:
        raise GtsValidationError(f"schema nests deeper than {MAX_SCHEMA_DEPTH} levels")
    if isinstance(node, Mapping):
        return {
            k: _strip_gts(v, depth + 1)
            for k, v in node.items()
            if not k.startswith("x-gts-") and k not in ("$id", "$schema")
        }
    if isinstance(node, list):
        return [_strip_gts(v, depth + 1) for v in node]
    return node


def compile_fragments(
    parts: Iterable[tuple[Any, Mapping[str, Any], str | None]],
    resolver: SchemaResolver,
    *,
    label: str,
) -> InstanceValidator:
    """A validator for the conjunction (``allOf``) of schema fragments.

    Each part is ``(fragment, document, document_id)``: the fragment is a subschema taken
    from ``document`` (whose local ``#`` references it may use); ``document_id`` lets
    ``gts://`` references back to that document resolve to the same copy.
    """
    bundler = Bundler(resolver)
    root_defs: dict[str, Any] = {}
    refs: list[dict[str, str]] = []
    for i, (fragment, doc, doc_id) in enumerate(parts):
        base = f"#/definitions/__root{i}"
        if doc_id is not None and doc_id not in bundler.bases:
            bundler.pin(doc_id, base)
        root_defs[f"__root{i}"] = bundler.rewrite(doc, doc, base)
        root_defs[f"__frag{i}"] = bundler.rewrite(fragment, doc, base)
        refs.append({"$ref": f"#/definitions/__frag{i}"})
    root: dict[str, Any] = {"allOf": refs, "definitions": root_defs}
    std, xref = _finish(root, bundler, label)
    return InstanceValidator(label, std, xref, bundler.depends_on, False)


class InstanceValidatorCache:
    """Compiled validators by type id, dropped when a schema they were built from changes.

    The owner (a store) calls ``invalidate(id)`` whenever the schema registered under ``id``
    is added, replaced or removed; every validator that bundled that schema goes with it.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self._maxsize = maxsize
        self._entries: dict[str, InstanceValidator] = {}
        self._dependents: dict[str, set[str]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._entries

    def validator(self, type_id: str, resolver: SchemaResolver) -> InstanceValidator:
        try:
            found = self._entries.get(type_id)
        except TypeError:  # unhashable: certainly not a type id
            raise GtsValidationError(f"{shorten(repr(type_id))} is not a GTS type id") from None
        if found is not None:
            return found
        generation = self._generation
        compiled = compile_instance_validator(type_id, resolver)
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= self._maxsize:
                    self._entries.clear()
                    self._dependents.clear()
                self._entries[type_id] = compiled
                for dep in compiled.depends_on:
                    self._dependents.setdefault(dep, set()).add(type_id)
        return compiled

    def invalidate(self, type_id: str) -> None:
        """Forget ``type_id`` and every cached validator that was built from its schema."""
        with self._lock:
            self._generation += 1
            self._entries.pop(type_id, None)
            for dependent in self._dependents.pop(type_id, ()):
                self._entries.pop(dependent, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._dependents.clear()


_SCHEMA_ONLY = SCHEMA_ONLY_KEYWORDS


def validate_instance(
    doc: Any,
    type_id: str,
    resolver: SchemaResolver,
    cache: InstanceValidatorCache | None = None,
) -> None:
    """OP#6: validate ``doc`` against the schema of its rightmost type ``type_id``.

    Raises ``GtsValidationError`` (message names the field path) when the type is unknown
    or abstract, the document carries schema-only keywords, or it does not conform.
    """
    if type(doc) is dict and not _SCHEMA_ONLY.isdisjoint(doc):
        bad = ", ".join(sorted(_SCHEMA_ONLY.intersection(doc)))
        raise GtsValidationError(
            f"instance of {type_id} contains schema-only keyword(s) {bad}; they are allowed "
            "only in type schemas"
        )
    if cache is not None:
        validator = cache.validator(type_id, resolver)
    else:
        validator = compile_instance_validator(type_id, resolver)
    validator.validate(doc)
