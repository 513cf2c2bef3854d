"""``x-gts-ref`` enforced on instances: small compiled checks over the parts it governs.

Standard JSON Schema libraries ignore ``x-gts-ref``, so the instance check is compiled here
into small closures that walk only the parts of an instance the keyword governs. Inside
``anyOf``/``oneOf``/``not`` a branch can only be judged as a whole (standard keywords *and*
``x-gts-ref``), so those combinators are taken over entirely: the compiler records them and
the caller compiles whole-branch validators for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from plugway.gts._errors import GtsError, GtsValidationError
from plugway.gts._ids import GtsId, shorten
from plugway.gts._refs import follow_pointer
from plugway.gts._regex import SchemaRegex, compile_schema_regex
from plugway.gts._xref import resolve_xref, xref_prefix

__all__ = ["XrefCheck", "XrefCompiler"]

XrefCheck = Callable[[Any, str], None]
"""A compiled check: ``check(value, field_path)`` raises ``GtsValidationError``."""

_MAX_DEPTH = 64


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _at(path: str) -> str:
    return path or "<root>"


def _value_check(prefix: str) -> XrefCheck:
    def check(value: Any, path: str) -> None:
        if type(value) is not str:
            return  # x-gts-ref marks strings; other types are the "type" keyword's business
        try:
            GtsId.parse(value)
        except GtsError as exc:
            raise GtsValidationError(
                f"at {_at(path)}: x-gts-ref: {shorten(value)!r} is not a valid GTS id: {exc}"
            ) from exc
        if not value.startswith(prefix):
            raise GtsValidationError(
                f"at {_at(path)}: x-gts-ref: {shorten(value)!r} does not start with "
                f"{shorten(prefix)!r}"
            )

    return check


BranchFactory = Callable[[Any], Callable[[Any], bool]]
"""Builds a boolean validator of the standard keywords of one combinator branch."""


class XrefCompiler:
    """Compiles the ``x-gts-ref`` checks of one bundled schema (local ``#`` refs only)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._memo: dict[int, XrefCheck | None] = {}
        self._busy: set[int] = set()
        #: (id(node), keyword) of every anyOf/oneOf/not this compiler enforces as a whole.
        self.taken_over: set[tuple[int, str]] = set()
        self._pending: list[tuple[list[Any], list[Callable[[Any], bool]], list[XrefCheck | None]]]
        self._pending = []

    def compile(self, node: Any, depth: int = 0) -> XrefCheck | None:
        """The check for ``node``'s subtree, or None when it holds no ``x-gts-ref``."""
        if not isinstance(node, Mapping):
            return None
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            # Recursive schema: defer to whatever the finished compilation produces.
            memo = self._memo

            def deferred(value: Any, path: str) -> None:
                check = memo.get(key)
                if check is not None:
                    check(value, path)

            return deferred
        if depth > _MAX_DEPTH:
            raise GtsValidationError(f"schema nests deeper than {_MAX_DEPTH} levels")
        self._busy.add(key)
        try:
            check = self._compile_node(node, depth)
        finally:
            self._busy.discard(key)
        self._memo[key] = check
        return check

    def _compile_node(self, node: Mapping[str, Any], depth: int) -> XrefCheck | None:
        ref = node.get("$ref")
        if isinstance(ref, str):
            # draft-07: keywords next to $ref are ignored.
            target = self._resolve_local(ref)
            return self.compile(target, depth + 1)
        checks: list[XrefCheck] = []
        if "x-gts-ref" in node:
            literal = resolve_xref(node["x-gts-ref"], self._root, "schema")
            checks.append(_value_check(xref_prefix(literal)))
        obj = self._object_check(node, depth)
        if obj is not None:
            checks.append(obj)
        arr = self._array_check(node, depth)
        if arr is not None:
            checks.append(arr)
        all_of = node.get("allOf")
        if isinstance(all_of, list):
            checks.extend(c for c in (self.compile(s, depth + 1) for s in all_of) if c is not None)
        for kw in ("anyOf", "oneOf"):
            branches = node.get(kw)
            if isinstance(branches, list):
                comb = self._combinator(node, kw, branches, depth)
                if comb is not None:
                    checks.append(comb)
        if "not" in node:
            comb = self._combinator(node, "not", [node["not"]], depth)
            if comb is not None:
                checks.append(comb)
        for builder in (
            self._contains,
            self._property_names,
            self._conditional,
            self._dependencies,
        ):
            extra = builder(node, depth)
            if extra is not None:
                checks.append(extra)
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]
        frozen = tuple(checks)

        def check_all(value: Any, path: str) -> None:
            for c in frozen:
                c(value, path)

        return check_all

    def _resolve_local(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise GtsValidationError(f"unresolved reference {shorten(ref)!r} in bundled schema")
        try:
            return follow_pointer(self._root, ref[1:])
        except LookupError:
            raise GtsValidationError(f"reference {shorten(ref)!r} does not resolve") from None

    def _object_check(self, node: Mapping[str, Any], depth: int) -> XrefCheck | None:
        props = node.get("properties")
        prop_checks: list[tuple[str, XrefCheck]] = []
        if isinstance(props, Mapping):
            for name, sub in props.items():
                c = self.compile(sub, depth + 1)
                if c is not None:
                    prop_checks.append((name, c))
        # Property names come from the instance: matched by RE2 as the standard keywords are
        # (linear time, ECMA-262 classes), never by ``re``, which can backtrack for ever.
        pattern_checks: list[tuple[SchemaRegex, XrefCheck]] = []
        pprops = node.get("patternProperties")
        if isinstance(pprops, Mapping):
            for pat, sub in pprops.items():
                c = self.compile(sub, depth + 1)
                if c is not None:
                    pattern_checks.append((compile_schema_regex(pat), c))
        extra = self.compile(node.get("additionalProperties"), depth + 1)
        if not prop_checks and not pattern_checks and extra is None:
            return None
        declared = frozenset(props) if isinstance(props, Mapping) else frozenset()
        all_patterns = (
            [compile_schema_regex(p) for p in pprops]
            if isinstance(pprops, Mapping) and extra
            else []
        )

        def check(value: Any, path: str) -> None:
            if not isinstance(value, dict):
                return
            for name, c in prop_checks:
                if name in value:
                    c(value[name], _join(path, name))
            if pattern_checks:
                for k, v in value.items():
                    for pat, c in pattern_checks:
                        if pat.search(k):
                            c(v, _join(path, k))
            if extra is not None:
                for k, v in value.items():
                    if k not in declared and not any(p.search(k) for p in all_patterns):
                        extra(v, _join(path, k))

        return check

    def _array_check(self, node: Mapping[str, Any], depth: int) -> XrefCheck | None:
        items = node.get("items")
        if isinstance(items, list):
            per_index = [self.compile(s, depth + 1) for s in items]
            rest = self.compile(node.get("additionalItems"), depth + 1)
            if rest is None and all(c is None for c in per_index):
                return None

            def check_tuple(value: Any, path: str) -> None:
                if not isinstance(value, list):
                    return
                for i, v in enumerate(value):
                    c = per_index[i] if i < len(per_index) else rest
                    if c is not None:
                        c(v, f"{path}[{i}]")

            return check_tuple
        each = self.compile(items, depth + 1)
        if each is None:
            return None

        def check_items(value: Any, path: str) -> None:
            if isinstance(value, list):
                for i, v in enumerate(value):
                    each(v, f"{path}[{i}]")

        return check_items

    def _combinator(
        self, node: Mapping[str, Any], kw: str, branches: list[Any], depth: int
    ) -> XrefCheck | None:
        subs = [self.compile(b, depth + 1) for b in branches]
        if all(s is None for s in subs):
            return None
        self.taken_over.add((id(node), kw))
        standard: list[Callable[[Any], bool]] = []
        self._pending.append((branches, standard, subs))

        def matches(i: int, value: Any, path: str) -> bool:
            if not standard[i](value):
                return False
            sub = subs[i]
            if sub is None:
                return True
            try:
                sub(value, path)
            except GtsValidationError:
                return False
            return True

        count = len(branches)

        def check(value: Any, path: str) -> None:
            hits = sum(1 for i in range(count) if matches(i, value, path))
            if kw == "anyOf" and hits == 0:
                raise GtsValidationError(f"at {_at(path)}: matches none of the anyOf branches")
            if kw == "oneOf" and hits != 1:
                raise GtsValidationError(
                    f"at {_at(path)}: must match exactly one oneOf branch, matches {hits}"
                )
            if kw == "not" and hits:
                raise GtsValidationError(f"at {_at(path)}: must not match the 'not' schema")

        return check

    def _whole(self, branch: Any, depth: int) -> Callable[[Any, str], bool] | None:
        """A matcher judging ``branch`` as a whole, or None when it holds no ``x-gts-ref``."""
        sub = self.compile(branch, depth + 1)
        if sub is None:
            return None
        standard: list[Callable[[Any], bool]] = []
        self._pending.append(([branch], standard, [sub]))

        def matches(value: Any, path: str) -> bool:
            if not standard[0](value):
                return False
            try:
                sub(value, path)
            except GtsValidationError:
                return False
            return True

        return matches

    def _contains(self, node: Mapping[str, Any], depth: int) -> XrefCheck | None:
        if "contains" not in node:
            return None
        whole = self._whole(node["contains"], depth)
        if whole is None:
            return None
        self.taken_over.add((id(node), "contains"))

        def check(value: Any, path: str) -> None:
            if isinstance(value, list) and not any(
                whole(v, f"{path}[{i}]") for i, v in enumerate(value)
            ):
                raise GtsValidationError(f"at {_at(path)}: no item matches the 'contains' schema")

        return check

    def _property_names(self, node: Mapping[str, Any], depth: int) -> XrefCheck | None:
        if "propertyNames" not in node:
            return None
        whole = self._whole(node["propertyNames"], depth)
        if whole is None:
            return None
        self.taken_over.add((id(node), "propertyNames"))

        def check(value: Any, path: str) -> None:
            if isinstance(value, dict):
                for key in value:
                    if not whole(key, _join(path, key)):
                        raise GtsValidationError(
                            f"at {_at(path)}: property name {shorten(key)!r} is not allowed"
                        )

        return check

    def _conditional(self, node: Mapping[str, Any], depth: int) -> XrefCheck | None:
        if "if" not in node:
            return None
        parts = {kw: node[kw] for kw in ("if", "then", "else") if kw in node}
        wholes = {kw: self._whole(sub, depth) for kw, sub in parts.items()}
        if all(w is None for w in wholes.values()):
            return None
        for kw in parts:
            self.taken_over.add((id(node), kw))
            if wholes[kw] is None:
                wholes[kw] = self._whole_always(parts[kw])
        cond, then, other = wholes.get("if"), wholes.get("then"), wholes.get("else")

        def check(value: Any, path: str) -> None:
            assert cond is not None
            branch, name = (then, "then") if cond(value, path) else (other, "else")
            if branch is not None and not branch(value, path):
                raise GtsValidationError(f"at {_at(path)}: does not match the '{name}' schema")

        return check

    def _whole_always(self, branch: Any) -> Callable[[Any, str], bool]:
        """Like ``_whole`` for a branch without ``x-gts-ref``: standard keywords only."""
        standard: list[Callable[[Any], bool]] = []
        self._pending.append(([branch], standard, [None]))
        return lambda value, _path: standard[0](value)

    def _dependencies(self, node: Mapping[str, Any], depth: int) -> XrefCheck | None:
        deps = node.get("dependencies")
        if not isinstance(deps, Mapping):
            return None
        wholes = {
            name: self._whole(sub, depth) for name, sub in deps.items() if isinstance(sub, Mapping)
        }
        if all(w is None for w in wholes.values()):
            return None
        self.taken_over.add((id(node), "dependencies"))
        rules: list[tuple[str, Any]] = []
        for name, sub in deps.items():
            if isinstance(sub, Mapping):
                rules.append((name, wholes[name] or self._whole_always(sub)))
            else:
                rules.append((name, sub))

        def check(value: Any, path: str) -> None:
            if not isinstance(value, dict):
                return
            for name, rule in rules:
                if name not in value:
                    continue
                if callable(rule):
                    if not rule(value, path):
                        raise GtsValidationError(
                            f"at {_at(path)}: does not match the dependency schema of {name!r}"
                        )
                elif isinstance(rule, list):
                    missing = [r for r in rule if r not in value]
                    if missing:
                        raise GtsValidationError(
                            f"at {_at(path)}: {name!r} requires {', '.join(map(str, missing))}"
                        )

        return check

    def finalize(self, branch_factory: BranchFactory) -> None:
        """Compile the standard-keyword validators of every taken-over branch."""
        for branches, standard, _subs in self._pending:
            standard.extend(branch_factory(b) for b in branches)
        self._pending.clear()
