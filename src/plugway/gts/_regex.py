"""Schema regular expressions (``pattern``, ``patternProperties``) run by RE2, in linear time.

Why RE2: schema authors write the regexes and instance data runs through them. Python's ``re``
backtracks, so a pattern as plain as ``^a*a*a*a*a*a*a*a*b$`` takes seconds on forty-odd
``a``s, and no heuristic recognises every such pattern. RE2 (``google-re2``) matches in time
linear in the input whatever the pattern; what it cannot express — backreferences and
lookaround, which only a backtracking engine can run — is refused at registration, naming the
pattern and its place. JSON Schema itself advises schema authors to keep to such a subset
(no lookaround, no backreferences) for interoperability, so nothing the spec relies on is lost.

fastjsonschema, the instance validator, compiles patterns with ``re`` into the generated code.
``route_patterns`` hands it a stand-in for each schema regex (a distinct pattern that accepts
everything, so its compile-time checks never run a hostile regex either) and
``install_patterns`` then puts the RE2 program in the stand-in's place in the compiled
validator's pattern table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import re2

from plugway.gts._errors import GtsValidationError
from plugway.gts._refs import SUBSCHEMA_LISTS, SUBSCHEMA_MAPS, SUBSCHEMA_ONE

__all__ = [
    "MAX_PATTERN_LENGTH",
    "PatternRoutes",
    "SchemaRegex",
    "compile_schema_regex",
    "install_patterns",
    "regex_problem",
    "restore_patterns",
    "route_patterns",
]

#: Longest regex accepted in a schema.
MAX_PATTERN_LENGTH = 4096


class SchemaRegex(Protocol):
    """What the compiled validators call: an unanchored search, as JSON Schema specifies."""

    def search(self, text: str) -> Any: ...


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is our error to report, not a log line
    return options


_OPTIONS = _options()
_UNICODE_ESCAPE = re.compile(r"\\\\|\\u([0-9A-Fa-f]{4})")


def _to_re2(pattern: str) -> str:
    """ECMA-262 spellings RE2 reads differently: ``\\uHHHH`` is ``\\x{HHHH}`` there."""
    return _UNICODE_ESCAPE.sub(
        lambda m: m.group(0) if m.group(1) is None else f"\\x{{{m[1]}}}", pattern
    )


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> SchemaRegex | str:
    try:
        compiled: SchemaRegex = re2.compile(_to_re2(pattern), _OPTIONS)
    except re2.error as exc:
        return _reason(pattern, exc)
    return compiled


def _reason(pattern: str, exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return f"is not a valid regular expression: {detail}"
    return (
        "uses what only a backtracking engine can run (a backreference or lookaround), "
        f"which is not allowed in schema regexes: {detail}"
    )


def regex_problem(pattern: Any) -> str | None:
    """Why a schema regex is refused (not a string, too long, invalid, not RE2), or None."""
    if not isinstance(pattern, str):
        return "must be a string"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"is longer than {MAX_PATTERN_LENGTH} characters"
    found = _compile(pattern)
    return found if isinstance(found, str) else None


def compile_schema_regex(pattern: str) -> SchemaRegex:
    """The RE2 program of a schema regex (compiled once); ``GtsValidationError`` if refused."""
    problem = regex_problem(pattern)
    if problem is not None:
        raise GtsValidationError(f"regular expression {pattern[:80]!r} {problem}")
    found = _compile(pattern)
    assert not isinstance(found, str)
    return found


PatternRoutes = dict[str, str]
"""Stand-in handed to fastjsonschema -> the schema's own regex."""

_STAND_IN = "(?s:.*)(?#plugway-re2-{})"
_ONE = tuple(k for k in SUBSCHEMA_ONE if k != "x-gts-traits-schema")


def route_patterns(schema: Any) -> tuple[Any, PatternRoutes]:
    """A copy of ``schema`` whose regexes are stand-ins, and the stand-ins' real regexes."""
    routes: PatternRoutes = {}

    def stand_in(pattern: str) -> str:
        key = _STAND_IN.format(len(routes))
        routes[key] = pattern
        return key

    def walk(node: Any, depth: int) -> Any:
        if not isinstance(node, Mapping):
            return node
        if depth > 512:  # never hand a real regex to fastjsonschema's ``re``
            raise GtsValidationError("schema nests too deeply to route its regexes through RE2")
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                out[key] = stand_in(value)
            elif key == "patternProperties" and isinstance(value, Mapping):
                out[key] = {stand_in(str(p)): walk(sub, depth + 1) for p, sub in value.items()}
            elif key in _ONE:
                out[key] = walk(value, depth + 1)
            elif (key == "items" or key in SUBSCHEMA_LISTS) and isinstance(value, list):
                out[key] = [walk(v, depth + 1) for v in value]
            elif key == "items":
                out[key] = walk(value, depth + 1)
            elif key in SUBSCHEMA_MAPS and isinstance(value, Mapping):
                out[key] = {name: walk(sub, depth + 1) for name, sub in value.items()}
            else:
                out[key] = value
        return out

    return walk(schema, 0), routes


_STAND_IN_TEXT = re.compile(r"\(\?s:\.\*\)\(\?#plugway-re2-\d+\)")


def restore_patterns(text: str, routes: PatternRoutes) -> str:
    """``text`` (a validator's message) with each stand-in replaced by its real regex."""
    return _STAND_IN_TEXT.sub(lambda m: routes.get(m.group(0), m.group(0)), text)


def install_patterns(fn: Callable[[Any], Any], routes: PatternRoutes, label: str) -> None:
    """Put the RE2 programs in the place of their stand-ins in ``fn``'s pattern table."""
    if not routes:
        return
    table = getattr(fn, "__globals__", {}).get("REGEX_PATTERNS")
    if not isinstance(table, dict):
        # Never leave a stand-in (which accepts everything) in force.
        raise GtsValidationError(
            f"{label}: cannot run its regexes with RE2 (the validator's pattern table is missing)"
        )
    for stand_in, pattern in routes.items():
        if stand_in in table:
            table[stand_in] = compile_schema_regex(pattern)
