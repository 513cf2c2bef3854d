"""The compiled router: routing document + current plugin set -> an immutable per-call decider.

Everything that does not depend on the call is worked out at compile time: targets resolved to
plugin ids, one preallocated Decision per (rule, target), a bucket table per split. ``decide`` is
generated Python source with each rule's test inlined (the same technique ``dataclasses`` uses),
so a call with no rules costs an attribute read and a sticky split one hash and one tuple index.
User-supplied values never enter the generated source; they are bound as names in its namespace.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._context import SecurityContext
from ._errors import RoutingConfigError, RoutingProblem
from ._hashing import (
    BUCKET_SHIFT,
    MASK64,
    MIX,
    N_BUCKETS,
    bucket_of,
    build_table,
    key_hash,
    rollout_bucket,
    salt_state,
)
from ._routing import RoutingConfig, RoutingRule, Target, parse_routing

__all__ = ["Decision", "Explanation", "PluginLike", "Router"]


class PluginLike(Protocol):
    """What routing needs to know about a plugin (PluginSpec and PluginInstance both fit)."""

    @property
    def id(self) -> str: ...
    @property
    def vendor(self) -> str: ...
    @property
    def priority(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """Which plugin serves a call, chosen by which rule, and where to go if it fails.

    Decisions are preallocated when a router is compiled (one per rule and target); ``slot`` is
    this decision's index in ``Router.decisions``, which gateways use to find per-route state.
    ``rule_index`` None means the default route.
    """

    plugin_id: str | None
    rule_index: int | None
    rule_name: str | None
    fallback: tuple[str, ...]
    shadow: str | None
    revision: int
    slot: int

    @property
    def rule_label(self) -> str:
        """The rule as metrics and logs name it: its name, ``rule<i>``, or ``default``."""
        if self.rule_name is not None:
            return self.rule_name
        return "default" if self.rule_index is None else f"rule{self.rule_index}"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a context goes to a plugin: the rule that chose it, each rule's verdict, the rest."""

    gateway: str
    plugin_id: str | None
    rule_index: int | None
    rule_name: str | None
    reason: str
    steps: tuple[str, ...]
    fallback: tuple[str, ...]
    shadow: str | None
    revision: int
    circuit: str | None = None  # the chosen plugin's breaker state, filled in by a Gateway


@dataclass(frozen=True, slots=True)
class _Rule:
    index: int
    rule: RoutingRule
    salt: str
    state: int
    key: str | None  # context key of a split / rollout
    decision: Decision | None = None  # fixed target / rollout target
    variants: tuple[tuple[str, int], ...] = ()  # split (label, weight after resolution)
    variant_decisions: tuple[Decision | None, ...] = ()
    table: tuple[Decision, ...] = ()
    points: int = 0
    skipped: str | None = None  # why this rule never applies (non-strict compile)
    note: str = ""  # how compilation adapted the rule (non-strict compile)


def _key_of(ctx: SecurityContext, key: str) -> str:
    if key == "tenant_id":
        return ctx.tenant_id
    if key == "subject_id":
        return ctx.subject_id
    return ctx.attributes.get(key.removeprefix("attributes."), "")


def _key_expr(key: str, ns: dict[str, Any], name: str) -> str:
    if key == "tenant_id":
        return "ctx.tenant_id"
    if key == "subject_id":
        return "ctx.subject_id"
    ns[name] = key.removeprefix("attributes.")
    return f"ctx.attributes.get({name}, '')"


@dataclass(frozen=True, slots=True, eq=False)
class Router:
    """An immutable routing value for one gateway. Build with ``Router.compile``."""

    gateway: str
    config: RoutingConfig
    revision: int
    plugin_ids: tuple[str, ...]
    decisions: tuple[Decision, ...]
    default: Decision
    fixed: Decision | None  # the decision for every call when there are no rules
    warnings: tuple[str, ...]
    decide: Callable[[SecurityContext], Decision] = field(repr=False)
    _rules: tuple[_Rule, ...] = field(repr=False)

    # -- compile -------------------------------------------------------------------------------

    @classmethod
    def compile(
        cls,
        config: RoutingConfig | Any,
        plugins: Sequence[PluginLike],
        *,
        gateway: str,
        revision: int = 0,
        strict: bool = True,
    ) -> Router:
        """Resolve targets against ``plugins`` and build the decider.

        ``strict`` (a routing change): a target naming an unknown plugin or a vendor with no
        plugin is refused with RoutingConfigError listing field paths. Not strict (the plugin set
        changed under a valid routing): such targets are dropped and listed in ``warnings``.
        """
        config = parse_routing(config)
        return _Compiler(config, plugins, gateway, revision, strict).build()

    # -- explain -------------------------------------------------------------------------------

    def explain(self, ctx: SecurityContext) -> Explanation:
        """Which plugin would serve ``ctx`` and why; always agrees with ``decide``."""
        steps: list[str] = []
        chosen: Decision | None = None
        reason = ""
        for r in self._rules:
            label = f"rule {r.index}" + (f" {r.rule.name!r}" if r.rule.name else "")
            if r.skipped is not None:
                steps.append(f"{label}: skipped ({r.skipped})")
                continue
            miss = _match_failure(r.rule, ctx)
            if miss is not None:
                steps.append(f"{label}: no match ({miss})")
                continue
            matched = "matched" if r.rule.match is not None else "applies to all"
            if r.rule.target is not None and r.decision is not None:
                chosen = r.decision
                reason = f"{label} {matched}; fixed target {r.rule.target.label}{r.note}"
            elif r.key is not None:
                key = _key_of(ctx, r.key)
                if not key:
                    steps.append(f"{label}: {matched}, but context key {r.key} is not set")
                    continue
                h = key_hash(r.state, key)
                if r.rule.split is not None:
                    b = bucket_of(h)
                    chosen = r.table[b]
                    pos = next(i for i, d in enumerate(r.variant_decisions) if d is chosen)
                    v_label, v_weight = r.variants[pos]
                    total = sum(w for _, w in r.variants)
                    reason = (
                        f"{label} {matched}; sticky split on {r.key}={key!r}: bucket {b} of "
                        f"{N_BUCKETS} -> variant {v_label} (weight {v_weight} of {total})"
                    )
                else:
                    rb = rollout_bucket(h)
                    if rb >= r.points:
                        steps.append(
                            f"{label}: {matched}; rollout on {r.key}={key!r}: bucket {rb} is not "
                            f"below {r.points} (of 10000), not in the rollout"
                        )
                        continue
                    chosen = r.decision
                    target = r.rule.rollout.target.label if r.rule.rollout else ""
                    reason = (
                        f"{label} {matched}; rollout on {r.key}={key!r}: bucket {rb} is below "
                        f"{r.points} (of 10000) -> {target}"
                    )
            if chosen is not None:
                steps.append(f"{label}: chosen")
                break
        if chosen is None:
            chosen = self.default
            vendor = self.config.vendor
            if chosen.plugin_id is None:
                reason = "default route: no plugin" + (
                    f" of vendor {vendor!r}" if vendor else " registered"
                )
            else:
                reason = (
                    "default route: "
                    + (f"vendor {vendor!r}, " if vendor else "any vendor, ")
                    + "lowest priority, ties by id"
                )
        return Explanation(
            gateway=self.gateway,
            plugin_id=chosen.plugin_id,
            rule_index=chosen.rule_index,
            rule_name=chosen.rule_name,
            reason=reason,
            steps=tuple(steps),
            fallback=chosen.fallback,
            shadow=chosen.shadow,
            revision=self.revision,
        )


def _match_failure(rule: RoutingRule, ctx: SecurityContext) -> str | None:
    m = rule.match
    if m is None:
        return None
    if m.tenant is not None and ctx.tenant_id not in m.tenant:
        return f"tenant_id {ctx.tenant_id!r} not in {m.tenant}"
    if m.subject is not None and ctx.subject_id not in m.subject:
        return f"subject_id {ctx.subject_id!r} not in {m.subject}"
    for k, values in (m.attributes or {}).items():
        if ctx.attributes.get(k) not in values:
            return f"attribute {k}={ctx.attributes.get(k)!r} not in {values}"
    return None


class _Compiler:
    def __init__(
        self,
        config: RoutingConfig,
        plugins: Sequence[PluginLike],
        gateway: str,
        revision: int,
        strict: bool,
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.revision = revision
        self.strict = strict
        ordered = sorted(plugins, key=lambda p: (p.priority, p.id))
        self.ids = {p.id for p in ordered}
        self.by_vendor: dict[str, str] = {}
        for p in ordered:
            self.by_vendor.setdefault(p.vendor, p.id)
        self.first = ordered[0].id if ordered else None
        self.problems: list[RoutingProblem] = []
        self.warnings: list[str] = []
        self.decisions: list[Decision] = []

    def resolve(self, target: Target, path: str) -> str | None:
        if target.plugin is not None:
            if target.plugin in self.ids:
                return target.plugin
            self.problem(f"{path}.plugin", f"unknown plugin {target.plugin!r}")
            return None
        assert target.vendor is not None
        found = self.by_vendor.get(target.vendor)
        if found is None:
            self.problem(f"{path}.vendor", f"no plugin of vendor {target.vendor!r}")
        return found

    def problem(self, path: str, message: str) -> None:
        # a rule's fallback is resolved once per split variant: report each field once
        if self.strict:
            p = RoutingProblem(path, message)
            if p not in self.problems:
                self.problems.append(p)
        elif f"{path}: {message}" not in self.warnings:
            self.warnings.append(f"{path}: {message}")

    def chain(self, targets: Sequence[Target], path: str, primary: str | None) -> tuple[str, ...]:
        out: list[str] = []
        for j, t in enumerate(targets):
            pid = self.resolve(t, f"{path}[{j}]")
            if pid is not None and pid != primary and pid not in out:
                out.append(pid)
        return tuple(out)

    def decision(
        self,
        plugin_id: str | None,
        rule: RoutingRule | None,
        index: int | None,
        fallback: tuple[str, ...],
        shadow: str | None,
    ) -> Decision:
        fallback = tuple(f for f in fallback if f != plugin_id)
        d = Decision(
            plugin_id=plugin_id,
            rule_index=index,
            rule_name=rule.name if rule is not None else None,
            fallback=fallback,
            shadow=shadow if shadow != plugin_id else None,
            revision=self.revision,
            slot=len(self.decisions),
        )
        self.decisions.append(d)
        return d

    def build(self) -> Router:
        cfg = self.config
        # default route
        if cfg.vendor is not None:
            default_id = self.by_vendor.get(cfg.vendor)
            if default_id is None and (self.ids or self.strict):
                msg = f"no plugin of vendor {cfg.vendor!r}"
                if self.strict and self.ids:
                    self.problems.append(RoutingProblem("vendor", msg))
                else:
                    self.warnings.append(f"vendor: {msg}")
        else:
            default_id = self.first
        default_chain = self.chain(cfg.fallback, "fallback", default_id)
        if default_id is None and default_chain:
            default_id, default_chain = default_chain[0], default_chain[1:]
        default = self.decision(default_id, None, None, default_chain, None)

        rules = [self.rule(i, r) for i, r in enumerate(cfg.rules)]
        if self.problems:
            raise RoutingConfigError(self.problems, gateway=self.gateway)
        decide = self.generate(rules, default)
        return Router(
            gateway=self.gateway,
            config=cfg,
            revision=self.revision,
            plugin_ids=tuple(sorted(self.ids)),
            decisions=tuple(self.decisions),
            default=default,
            fixed=default if not cfg.rules else None,
            warnings=tuple(self.warnings),
            decide=decide,
            _rules=tuple(rules),
        )

    def rule(self, i: int, r: RoutingRule) -> _Rule:
        path = f"rules[{i}]"
        own_salt = (r.split.salt if r.split else None) or (r.rollout.salt if r.rollout else None)
        salt = f"{self.gateway}/{own_salt or r.name or f'rule{i}'}"
        state = salt_state(salt)
        shadow = self.resolve(r.shadow, f"{path}.shadow") if r.shadow is not None else None
        if r.target is not None:
            primary = self.resolve(r.target, f"{path}.target")
            chain = self.chain(r.fallback, f"{path}.fallback", primary)
            if primary is None:
                if not chain:
                    return _Rule(i, r, salt, state, None, skipped="target has no plugin")
                primary, chain = chain[0], chain[1:]
                note = " (it has no plugin: the first available fallback serves)"
                d = self.decision(primary, r, i, chain, shadow)
                return _Rule(i, r, salt, state, None, d, note=note)
            return _Rule(i, r, salt, state, None, self.decision(primary, r, i, chain, shadow))
        if r.split is not None:
            resolved: list[str | None] = []
            variants: list[tuple[str, int]] = []
            for j, v in enumerate(r.split.variants):
                pid = self.resolve(v, f"{path}.split.variants[{j}]")
                resolved.append(pid)
                variants.append((v.label, v.weight if pid is not None else 0))
            table = build_table(salt, variants)
            if table is None:
                return _Rule(i, r, salt, state, r.split.key, skipped="no variant has a plugin")
            chain_targets = r.fallback
            vds: list[Decision | None] = []
            for pid, (_, w) in zip(resolved, variants, strict=True):
                if pid is None or w <= 0:
                    vds.append(None)
                    continue
                chain = self.chain(chain_targets, f"{path}.fallback", pid)
                vds.append(self.decision(pid, r, i, chain, shadow))
            return _Rule(
                i,
                r,
                salt,
                state,
                r.split.key,
                variants=tuple(variants),
                variant_decisions=tuple(vds),
                table=tuple(vds[j] for j in table),  # type: ignore[misc]
            )
        assert r.rollout is not None
        primary = self.resolve(r.rollout.target, f"{path}.rollout.target")
        chain = self.chain(r.fallback, f"{path}.fallback", primary)
        if primary is None:
            return _Rule(i, r, salt, state, r.rollout.key, skipped="rollout target has no plugin")
        return _Rule(
            i,
            r,
            salt,
            state,
            r.rollout.key,
            decision=self.decision(primary, r, i, chain, shadow),
            points=r.rollout.points,
        )

    def generate(
        self, rules: Sequence[_Rule], default: Decision
    ) -> Callable[[SecurityContext], Decision]:
        ns: dict[str, Any] = {"_crc": zlib.crc32, "_default": default}
        lines = ["def decide(ctx):"]
        for r in rules:
            if r.skipped is not None:
                continue
            i = r.index
            conds: list[str] = []
            m = r.rule.match
            if m is not None:
                if m.tenant is not None:
                    ns[f"_t{i}"] = frozenset(m.tenant)
                    conds.append(f"ctx.tenant_id in _t{i}")
                if m.subject is not None:
                    ns[f"_s{i}"] = frozenset(m.subject)
                    conds.append(f"ctx.subject_id in _s{i}")
                for j, (k, values) in enumerate((m.attributes or {}).items()):
                    ns[f"_ak{i}_{j}"] = k
                    ns[f"_av{i}_{j}"] = frozenset(values)
                    conds.append(f"ctx.attributes.get(_ak{i}_{j}) in _av{i}_{j}")
            indent = "    "
            if conds:
                lines.append(f"    if {' and '.join(conds)}:")
                indent = "        "
            if r.rule.target is not None:
                ns[f"_d{i}"] = r.decision
                lines.append(f"{indent}return _d{i}")
                continue
            assert r.key is not None
            ns[f"_st{i}"] = r.state
            key = _key_expr(r.key, ns, f"_k{i}")
            lines.append(f"{indent}k = {key}")
            h = f"((_crc(k.encode(), _st{i}) * {MIX}) & {MASK64})"
            if r.rule.split is not None:
                ns[f"_tab{i}"] = r.table
                lines.append(f"{indent}if k:")
                lines.append(f"{indent}    return _tab{i}[{h} >> {BUCKET_SHIFT}]")
            else:
                ns[f"_d{i}"] = r.decision
                ns[f"_p{i}"] = r.points
                lines.append(f"{indent}if k and (({h} * 10000) >> 64) < _p{i}:")
                lines.append(f"{indent}    return _d{i}")
        lines.append("    return _default")
        exec("\n".join(lines), ns)
        fn: Callable[[SecurityContext], Decision] = ns["decide"]
        return fn
