"""Does an implementation match its contract? Every mismatch of a plugin at once.

Names, parameter kinds and defaults, and parameter and return annotations where both sides
have them: an annotation must accept what the contract's does (a parameter) or give what it
promises (a return), decided conservatively (``int`` for ``str`` is refused; an undecidable
pair such as a non-runtime Protocol is refused too).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from ._contract import ContractMethod, resolved_hints
from .errors import PluginContractError

__all__ = ["ContractMismatch", "ContractMismatchError", "check_params"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_KIND_TEXT = {
    inspect.Parameter.POSITIONAL_ONLY: "positional-only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional-or-keyword",
    inspect.Parameter.VAR_POSITIONAL: "*args",
    inspect.Parameter.KEYWORD_ONLY: "keyword-only",
    inspect.Parameter.VAR_KEYWORD: "**kwargs",
}


@dataclass(frozen=True, slots=True)
class ContractMismatch:
    """One way a plugin method differs from its contract: where, and expected versus got."""

    method: str
    message: str
    parameter: str | None = None
    expected: str | None = None
    got: str | None = None


class ContractMismatchError(PluginContractError):
    """Every mismatch of one plugin at once, so a plugin author fixes them in one round.

    ``method`` is the method when all mismatches are in one, else None; ``mismatches`` lists
    them all.
    """

    def __init__(self, plugin: str, mismatches: Sequence[ContractMismatch]) -> None:
        self.mismatches = tuple(mismatches)
        methods = {m.method for m in self.mismatches}
        if len(methods) == 1:
            method: str | None = self.mismatches[0].method
            text = "; ".join(m.message for m in self.mismatches)
        else:
            method = None
            text = "; ".join(f"method {m.method!r}: {m.message}" for m in self.mismatches)
        super().__init__(plugin, method, text)


_UNIONS: tuple[object, ...] = (Union, types.UnionType)
_PROMOTIONS = {(float, int), (complex, int), (complex, float)}  # (wide, narrow), PEP 484


def _accepts(wide: object, narrow: object) -> bool:
    """True when every value of type ``narrow`` is surely a ``wide`` (False when undecided)."""
    if wide is Any or narrow is Any or wide is object or wide == narrow:
        return True
    if isinstance(wide, TypeVar) or isinstance(narrow, TypeVar):
        return True  # a generic contract: the type checker judges it, not us
    n_origin, w_origin = get_origin(narrow), get_origin(wide)
    if n_origin in _UNIONS:
        return all(_accepts(wide, arg) for arg in get_args(narrow))
    if w_origin in _UNIONS:
        return any(_accepts(arg, narrow) for arg in get_args(wide))
    if n_origin is Literal:
        return all(_accepts(wide, type(value)) for value in get_args(narrow))
    w_class, n_class = w_origin or wide, n_origin or narrow
    if not (isinstance(w_class, type) and isinstance(n_class, type)):
        return False
    try:
        related = issubclass(n_class, w_class)
    except TypeError:  # a non-runtime Protocol and the like: not decidable here
        return False
    if w_origin is None and n_origin is None:
        return related or (wide, narrow) in _PROMOTIONS
    if not related:
        return False
    w_args = get_args(wide)
    # a bare generic (``list``, ``Sequence``) takes any parameters; otherwise only the same ones
    return not w_args or get_args(narrow) == w_args


def _type_text(annotation: object) -> str:
    if isinstance(annotation, type) and not get_args(annotation):
        return annotation.__qualname__
    return repr(annotation).replace("typing.", "").replace("collections.abc.", "")


class _MethodCheck:
    """The mismatches of one plugin method against its contract method."""

    def __init__(self, m: ContractMethod, fn: Callable[..., Any]) -> None:
        self.m = m
        self.hints = resolved_hints(fn)
        self.found: list[ContractMismatch] = []

    def fail(
        self, message: str, parameter: str | None = None, *, types_: tuple[str, str] | None = None
    ) -> None:
        expected, got = types_ if types_ is not None else (None, None)
        self.found.append(ContractMismatch(self.m.name, message, parameter, expected, got))

    def annotation(self, want: inspect.Parameter, have: inspect.Parameter) -> None:
        """A plugin parameter must accept what the contract passes (it may be wider)."""
        expected, got = self.m.hints.get(want.name), self.hints.get(have.name)
        if expected is None or got is None or _accepts(got, expected):
            return
        e, g = _type_text(expected), _type_text(got)
        self.fail(
            f"parameter {have.name!r} is annotated {g}, the contract has {e}",
            have.name,
            types_=(e, g),
        )

    def returns(self) -> None:
        """A plugin may return a narrower type than the contract, never another one."""
        expected, got = self.m.hints.get("return"), self.hints.get("return")
        if expected is None or got is None or _accepts(expected, got):
            return
        e, g = _type_text(expected), _type_text(got)
        self.fail(f"returns {g}, the contract returns {e}", types_=(e, g))

    def default(self, want: inspect.Parameter, have: inspect.Parameter) -> None:
        """A contract default must be the plugin's default too: callers may omit the argument
        through the gateway (which passes the contract's default) or call the plugin directly."""
        if want.default is inspect.Parameter.empty:
            return
        if have.default is inspect.Parameter.empty:
            self.fail(f"parameter {have.name!r} needs a default as in the contract", have.name)
            return
        try:
            same = bool(have.default == want.default)
        except Exception:
            same = have.default is want.default
        if not same:
            self.fail(
                f"parameter {have.name!r} defaults to {have.default!r}, the contract to "
                f"{want.default!r}",
                have.name,
                types_=(repr(want.default), repr(have.default)),
            )

    def matched(self, want: inspect.Parameter, have: inspect.Parameter) -> None:
        self.default(want, have)
        self.annotation(want, have)


def check_params(m: ContractMethod, fn: Callable[..., Any]) -> list[ContractMismatch]:
    """How ``fn``'s parameters and return differ from contract method ``m`` (empty: they match)."""
    try:
        impl_sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        return [ContractMismatch(m.name, f"signature cannot be read: {exc}")]
    check = _MethodCheck(m, fn)
    want = list(m.signature.parameters.values())
    have = list(impl_sig.parameters.values())
    have_var_pos = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in have)
    have_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in have)
    have_positional = [p for p in have if p.kind in _POSITIONAL]
    have_by_name = {p.name: p for p in have}
    used: set[str] = set()
    pos_index = 0
    for c in want:
        if c.kind in _POSITIONAL:
            if pos_index >= len(have_positional):
                if have_var_pos:
                    pos_index += 1
                    continue
                n_want = sum(1 for p in want if p.kind in _POSITIONAL)
                check.fail(
                    f"takes {len(have_positional)} positional parameters, contract has {n_want} "
                    f"(missing {c.name!r})",
                    c.name,
                )
                break  # the positions no longer line up: one report is the useful one
            p = have_positional[pos_index]
            pos_index += 1
            used.add(p.name)
            # the context (position 1) is always passed positionally: its name is free
            if (
                pos_index > 1
                and c.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                and (p.name != c.name or p.kind is not c.kind)
            ):
                check.fail(
                    f"parameter {pos_index} is {p.name!r} ({_KIND_TEXT[p.kind]}), contract has "
                    f"{c.name!r} ({_KIND_TEXT[c.kind]})",
                    c.name,
                    types_=(c.name, p.name),
                )
                continue
            check.matched(c, p)
        elif c.kind is inspect.Parameter.KEYWORD_ONLY:
            p_kw = have_by_name.get(c.name)
            if p_kw is None or p_kw.kind not in (
                inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                if p_kw is None and have_var_kw:
                    continue
                check.fail(f"lacks keyword parameter {c.name!r} of the contract", c.name)
                continue
            used.add(p_kw.name)
            check.matched(c, p_kw)
        elif c.kind is inspect.Parameter.VAR_POSITIONAL and not have_var_pos:
            check.fail(f"lacks *{c.name} of the contract", c.name)
        elif c.kind is inspect.Parameter.VAR_KEYWORD and not have_var_kw:
            check.fail(f"lacks **{c.name} of the contract", c.name)
    for p in have:
        if (
            p.name not in used
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            and p.default is inspect.Parameter.empty
        ):
            check.fail(f"has extra required parameter {p.name!r} not in the contract", p.name)
    check.returns()
    return check.found
