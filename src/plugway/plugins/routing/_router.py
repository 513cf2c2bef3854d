"""The router: a routing document compiled against the current plugin set into rule objects.

Everything that does not depend on the call is worked out once: targets resolved to plugin ids,
one preallocated Decision per (rule, target), a lazily filled bucket table per split. ``pick`` is
the one interpretation of the rules: ``decide`` is ``pick`` without a trace, ``explain`` is
``pick`` with one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from .._context import SecurityContext
from ..errors import RoutingConfigError, RoutingProblem
from ._decision import Decision, Explanation
from ._hashing import BucketTable, salt_state
from ._models import Match, RoutingConfig, RoutingRule, Target, parse_routing
from ._rules import MatchTest, RolloutRule, Rule, SkippedRule, SplitRule, TargetRule, Trace

__all__ = ["PluginLike", "Router"]

_MEMO_KEYS = ("tenant_id", "subject_id")  # keys a caller can read inline (attributes: a lookup)


class PluginLike(Protocol):
    """What routing needs to know about a plugin (PluginSpec and PluginInstance both fit)."""

    @property
    def id(self) -> str: ...
    @property
    def vendor(self) -> str: ...
    @property
    def priority(self) -> int: ...


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
    default_reason: str = field(repr=False)
    rules: tuple[Rule, ...] = field(repr=False)
    # the context key a decision depends on alone, when it is tenant_id or subject_id: a
    # caller may keep decisions (or what it derives from them) by that key's value
    memo_key: str | None = None

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
        """Resolve targets against ``plugins`` and build the rules.

        ``strict`` (a routing change): a target naming an unknown plugin or a vendor with no
        plugin is refused with RoutingConfigError listing field paths. Not strict (the plugin set
        changed under a valid routing): such targets are dropped and listed in ``warnings``.
        """
        return _Compiler(parse_routing(config), plugins, gateway, revision, strict).build()

    def pick(self, ctx: SecurityContext, trace: Trace | None = None) -> Decision:
        """The decision for ``ctx``; with a ``trace``, every rule's verdict is written down.

        The last rule's ``rest`` is the default, so the loop ends on a decision.
        """
        for rule in self.rules:
            d = rule.apply(ctx, trace)
            if d is not None:
                return d
        if trace is not None:
            trace.reason = self.default_reason
        return self.default

    @property
    def decider(self) -> Callable[[SecurityContext], Decision]:
        """What a call runs to decide: ``pick``, or the only rule's ``apply`` (the same code
        without the loop around it: that rule's ``rest`` is the default, never None)."""
        if len(self.rules) == 1:
            return cast(Callable[[SecurityContext], Decision], self.rules[0].apply)
        return self.pick

    def decide(self, ctx: SecurityContext) -> Decision:
        """The decision for ``ctx`` (a preallocated value)."""
        return self.pick(ctx)

    def explain(self, ctx: SecurityContext) -> Explanation:
        """Which plugin serves ``ctx`` and why: ``decide`` with a trace."""
        trace = Trace()
        d = self.pick(ctx, trace)
        return Explanation(
            gateway=self.gateway,
            plugin_id=d.plugin_id,
            rule_index=d.rule_index,
            rule_name=d.rule_name,
            reason=trace.reason,
            steps=tuple(trace.steps),
            fallback=d.fallback,
            shadow=d.shadow,
            revision=self.revision,
        )


def _match_test(m: Match | None) -> MatchTest | None:
    if m is None:
        return None
    return MatchTest(
        frozenset(m.tenant) if m.tenant is not None else None,
        frozenset(m.subject) if m.subject is not None else None,
        tuple((k, frozenset(v)) for k, v in (m.attributes or {}).items()),
    )


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
        d = Decision(
            plugin_id=plugin_id,
            rule_index=index,
            rule_name=rule.name if rule is not None else None,
            fallback=tuple(f for f in fallback if f != plugin_id),
            shadow=shadow if shadow != plugin_id else None,
            revision=self.revision,
            slot=len(self.decisions),
        )
        self.decisions.append(d)
        return d

    def default_route(self) -> tuple[str | None, str]:
        """The default route's plugin and how explain describes it."""
        cfg = self.config
        vendor = cfg.vendor
        how = "lowest priority, ties by id"
        if cfg.default is not None:
            pinned = self.resolve(cfg.default, "default")
            if pinned is not None:
                return pinned, f"default route: {cfg.default.label} (the routing's 'default')"
            how += f"; its 'default' {cfg.default.label} is gone"
        if vendor is None:
            if self.first is None:
                return None, "default route: no plugin registered"
            return self.first, f"default route: any vendor, {how}"
        found = self.by_vendor.get(vendor)
        if found is None:
            msg = f"no plugin of vendor {vendor!r}"
            if self.strict and self.ids:
                self.problems.append(RoutingProblem("vendor", msg))
            elif self.ids or self.strict:
                self.warnings.append(f"vendor: {msg}")
            return None, f"default route: no plugin of vendor {vendor!r}"
        return found, f"default route: vendor {vendor!r}, {how}"

    def build(self) -> Router:
        cfg = self.config
        default_id, default_reason = self.default_route()
        default_chain = self.chain(cfg.fallback, "fallback", default_id)
        if default_id is None and default_chain:
            default_id, default_chain = default_chain[0], default_chain[1:]
            default_reason += f"; the first available fallback {default_id} serves"
        default = self.decision(default_id, None, None, default_chain, None)
        rules = [self.rule(i, r) for i, r in enumerate(cfg.rules)]
        if self.problems:
            raise RoutingConfigError(self.problems, gateway=self.gateway)
        if rules:
            rules[-1].rest, rules[-1].rest_reason = default, default_reason
        reads = frozenset().union(*(rule.reads for rule in rules))
        memo_key = next(iter(reads)) if len(reads) == 1 else None
        if memo_key not in _MEMO_KEYS:
            memo_key = None
        else:  # the caller keeps decisions by this key: the rules keep none of their own
            for rule in rules:
                if isinstance(rule, (SplitRule, RolloutRule)):
                    rule.memo = None
        return Router(
            gateway=self.gateway,
            config=cfg,
            revision=self.revision,
            plugin_ids=tuple(sorted(self.ids)),
            decisions=tuple(self.decisions),
            default=default,
            fixed=default if not rules else None,
            warnings=tuple(self.warnings),
            default_reason=default_reason,
            rules=tuple(rules),
            memo_key=memo_key,
        )

    def rule(self, i: int, r: RoutingRule) -> Rule:
        path = f"rules[{i}]"
        own_salt = (r.split.salt if r.split else None) or (r.rollout.salt if r.rollout else None)
        salt = f"{self.gateway}/{own_salt or r.name or f'rule{i}'}"
        match = _match_test(r.match)
        shadow = self.resolve(r.shadow, f"{path}.shadow") if r.shadow is not None else None
        if r.target is not None:
            primary = self.resolve(r.target, f"{path}.target")
            chain = self.chain(r.fallback, f"{path}.fallback", primary)
            note = ""
            if primary is None:
                if not chain:
                    return SkippedRule(i, r.name, "target has no plugin")
                primary, chain = chain[0], chain[1:]
                note = " (it has no plugin: the first available fallback serves)"
            d = self.decision(primary, r, i, chain, shadow)
            return TargetRule(i, r.name, match, r.target.label, d, note)
        if r.split is not None:
            labels: list[str] = []
            weights: list[int] = []
            decisions: list[Decision | None] = []
            for j, v in enumerate(r.split.variants):
                pid = self.resolve(v, f"{path}.split.variants[{j}]")
                live = pid is not None and v.weight > 0
                labels.append(v.label)
                weights.append(v.weight if live else 0)
                decisions.append(
                    self.decision(
                        pid, r, i, self.chain(r.fallback, f"{path}.fallback", pid), shadow
                    )
                    if live
                    else None
                )
            if not any(weights):
                return SkippedRule(i, r.name, "no variant has a plugin")
            return SplitRule(
                i,
                r.name,
                match,
                r.split.key,
                salt_state(salt),
                BucketTable(salt, list(zip(labels, weights, strict=True))),
                tuple(labels),
                tuple(weights),
                tuple(decisions),
            )
        assert r.rollout is not None
        primary = self.resolve(r.rollout.target, f"{path}.rollout.target")
        chain = self.chain(r.fallback, f"{path}.fallback", primary)
        if primary is None:
            return SkippedRule(i, r.name, "rollout target has no plugin")
        return RolloutRule(
            i,
            r.name,
            match,
            r.rollout.key,
            salt_state(salt),
            r.rollout.points,
            r.rollout.target.label,
            self.decision(primary, r, i, chain, shadow),
        )
