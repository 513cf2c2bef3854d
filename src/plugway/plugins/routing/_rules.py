"""Compiled routing rules: plain objects whose one ``apply`` both decides and, given a trace,
explains.

``apply(ctx, None)`` is the per-call path: a few set lookups, and for a split or rollout one key
hash. ``apply(ctx, trace)`` runs the very same tests and also writes down each verdict, so an
explanation can never disagree with the traffic it explains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .._context import SecurityContext
from ._decision import Decision
from ._hashing import BUCKET_SHIFT, N_BUCKETS, UNSET, BucketTable, key_hash, rollout_bucket

__all__ = ["MatchTest", "RolloutRule", "Rule", "SkippedRule", "SplitRule", "TargetRule", "Trace"]


@dataclass(slots=True)
class Trace:
    """What explain collects while a router decides: each rule's verdict, then the reason."""

    steps: list[str] = field(default_factory=list)
    reason: str = ""


class MatchTest:
    """A rule's ``match``: every given condition must hold; values are alternatives."""

    __slots__ = ("attributes", "subject", "tenant")

    def __init__(
        self,
        tenant: frozenset[str] | None,
        subject: frozenset[str] | None,
        attributes: tuple[tuple[str, frozenset[str]], ...],
    ) -> None:
        self.tenant = tenant
        self.subject = subject
        self.attributes = attributes

    @property
    def reads(self) -> frozenset[str]:
        """The context keys this test reads (``tenant_id``, ``subject_id``, ``attributes.<k>``)."""
        keys = {f"attributes.{name}" for name, _ in self.attributes}
        if self.tenant is not None:
            keys.add("tenant_id")
        if self.subject is not None:
            keys.add("subject_id")
        return frozenset(keys)

    def miss(self, ctx: SecurityContext) -> int:
        """-1 when every condition holds, else which one failed (0 tenant, 1 subject, 2+ attrs)."""
        if self.tenant is not None and ctx.tenant_id not in self.tenant:
            return 0
        if self.subject is not None and ctx.subject_id not in self.subject:
            return 1
        if self.attributes:
            attrs = ctx.attributes
            failed = 2
            for name, values in self.attributes:
                if attrs.get(name) not in values:
                    return failed
                failed += 1
        return -1

    def describe(self, ctx: SecurityContext, failed: int) -> str:
        if failed == 0:
            return f"tenant_id {ctx.tenant_id!r} not in {sorted(self.tenant or ())}"
        if failed == 1:
            return f"subject_id {ctx.subject_id!r} not in {sorted(self.subject or ())}"
        name, values = self.attributes[failed - 2]
        return f"attribute {name}={ctx.attributes.get(name)!r} not in {sorted(values)}"


class Rule:
    """One compiled rule; subclasses say what it does once its match holds.

    ``rest`` is what a call that this rule does not take gets: None (go on to the next rule),
    or, on the last rule, the router's default -- so a one-rule router decides in one call.
    """

    __slots__ = ("index", "label", "match", "rest", "rest_reason")

    def __init__(self, index: int, name: str | None, match: MatchTest | None) -> None:
        self.index = index
        self.label = f"rule {index}" + (f" {name!r}" if name else "")
        self.match = match
        self.rest: Decision | None = None
        self.rest_reason = ""

    @property
    def reads(self) -> frozenset[str]:
        """The context keys ``apply`` reads: its decision depends on nothing else."""
        return self.match.reads if self.match is not None else frozenset()

    def _passed(self, trace: Trace) -> Decision | None:
        """Not taken (explain): the default's reason when this rule is the last."""
        if self.rest is not None:
            trace.reason = self.rest_reason
        return self.rest

    def _no_match(self, ctx: SecurityContext, trace: Trace, failed: int) -> Decision | None:
        assert self.match is not None
        trace.steps.append(f"{self.label}: no match ({self.match.describe(ctx, failed)})")
        return self._passed(trace)

    @property
    def _matched(self) -> str:
        return "matched" if self.match is not None else "applies to all"

    def _chose(self, trace: Trace, reason: str) -> None:
        trace.reason = f"{self.label} {self._matched}; {reason}"
        trace.steps.append(f"{self.label}: chosen")

    def apply(self, ctx: SecurityContext, trace: Trace | None = None) -> Decision | None:
        """The decision of this rule for ``ctx``, or ``rest`` when it does not take the call."""
        raise NotImplementedError


class SkippedRule(Rule):
    """A rule left without any plugin by a change of the plugin set: it never applies."""

    __slots__ = ("why",)

    def __init__(self, index: int, name: str | None, why: str) -> None:
        super().__init__(index, name, None)
        self.why = why

    def apply(self, ctx: SecurityContext, trace: Trace | None = None) -> Decision | None:
        if trace is None:
            return self.rest
        trace.steps.append(f"{self.label}: skipped ({self.why})")
        return self._passed(trace)


class TargetRule(Rule):
    """A fixed target."""

    __slots__ = ("decision", "note", "target")

    def __init__(
        self,
        index: int,
        name: str | None,
        match: MatchTest | None,
        target: str,
        decision: Decision,
        note: str = "",
    ) -> None:
        super().__init__(index, name, match)
        self.target = target
        self.decision = decision
        self.note = note

    def apply(self, ctx: SecurityContext, trace: Trace | None = None) -> Decision | None:
        m = self.match
        if m is not None:
            failed = m.miss(ctx)
            if failed >= 0:
                return self.rest if trace is None else self._no_match(ctx, trace, failed)
        if trace is not None:
            self._chose(trace, f"fixed target {self.target}{self.note}")
        return self.decision


MEMO_SIZE = 4096  # keys whose decision a split or rollout keeps; the table is emptied when full
_MISS = object()


class _KeyedRule(Rule):
    """A rule sticky on a context key: the key's hash picks the outcome.

    The outcome of a key never changes for a compiled rule, so a call keeps the latest
    ``MEMO_SIZE`` keys' outcomes (a dict read instead of the hash); explain always works it out.
    A router that reads one key alone is memoised whole by its caller instead (``memo_key``):
    its rules then keep none (``memo`` None), so a key seen for the first time is not stored
    twice.
    """

    __slots__ = ("attribute", "by_tenant", "key", "memo", "state")

    def __init__(
        self, index: int, name: str | None, match: MatchTest | None, key: str, state: int
    ) -> None:
        super().__init__(index, name, match)
        self.key = key
        # read inline on every call: an attribute name, else tenant_id or subject_id
        self.attribute = key.removeprefix("attributes.") if key.startswith("attributes.") else None
        self.by_tenant = key == "tenant_id"
        self.state = state
        self.memo: dict[str, Decision | None] | None = {}

    @property
    def reads(self) -> frozenset[str]:
        return super().reads | {self.key}

    def apply(self, ctx: SecurityContext, trace: Trace | None = None) -> Decision | None:
        m = self.match
        failed = -1 if m is None else m.miss(ctx)
        name = self.attribute
        if name is not None:
            value = ctx.attributes.get(name, "")
        else:
            value = ctx.tenant_id if self.by_tenant else ctx.subject_id
        if failed >= 0 or not value:
            return self.rest if trace is None else self._skip(ctx, trace, failed)
        if trace is not None:
            return self._take(key_hash(self.state, value), value, trace)
        memo = self.memo
        if memo is None:
            return self._take(key_hash(self.state, value), value, None)
        d = memo.get(value, _MISS)
        if d is _MISS:
            d = self._take(key_hash(self.state, value), value, None)
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[value] = d
        return d  # type: ignore[return-value]

    def _take(self, h: int, value: str, trace: Trace | None) -> Decision | None:
        """The decision for a key of hash ``h`` (the rule's match holds and the key is set)."""
        raise NotImplementedError

    def _skip(self, ctx: SecurityContext, trace: Trace, failed: int) -> Decision | None:
        """Not taken (explain): the match failed (``failed`` >= 0) or the key is not set."""
        if failed >= 0:
            return self._no_match(ctx, trace, failed)
        trace.steps.append(f"{self.label}: {self._matched}, but context key {self.key} is not set")
        return self._passed(trace)


class SplitRule(_KeyedRule):
    """A weighted split, sticky on a context key."""

    __slots__ = ("decisions", "labels", "table", "weights")

    def __init__(
        self,
        index: int,
        name: str | None,
        match: MatchTest | None,
        key: str,
        state: int,
        table: BucketTable,
        labels: tuple[str, ...],
        weights: tuple[int, ...],
        decisions: tuple[Decision | None, ...],
    ) -> None:
        super().__init__(index, name, match, key, state)
        self.table = table
        self.labels = labels
        self.weights = weights
        self.decisions = decisions  # by variant index; None for a variant that never wins

    def _take(self, h: int, value: str, trace: Trace | None) -> Decision | None:
        bucket = h >> BUCKET_SHIFT  # bucket_of, inline
        table = self.table
        v = table.cells[bucket]
        if v == UNSET:
            v = table.winner(bucket)
        if trace is not None:
            self._chose(
                trace,
                f"sticky split on {self.key}={value!r}: bucket {bucket} of "
                f"{N_BUCKETS} -> variant {self.labels[v]} (weight {self.weights[v]} of "
                f"{sum(self.weights)})",
            )
        return self.decisions[v]


class RolloutRule(_KeyedRule):
    """A percentage of keys (basis points) sent to a target; the others go on."""

    __slots__ = ("decision", "points", "target")

    def __init__(
        self,
        index: int,
        name: str | None,
        match: MatchTest | None,
        key: str,
        state: int,
        points: int,
        target: str,
        decision: Decision,
    ) -> None:
        super().__init__(index, name, match, key, state)
        self.points = points
        self.target = target
        self.decision = decision

    def _take(self, h: int, value: str, trace: Trace | None) -> Decision | None:
        bucket = rollout_bucket(h)
        if bucket < self.points:
            if trace is not None:
                self._chose(
                    trace,
                    f"rollout on {self.key}={value!r}: bucket {bucket} is below "
                    f"{self.points} (of 10000) -> {self.target}",
                )
            return self.decision
        if trace is None:
            return self.rest
        trace.steps.append(
            f"{self.label}: {self._matched}; rollout on {self.key}={value!r}: "
            f"bucket {bucket} is not below {self.points} (of 10000), not in the rollout"
        )
        return self._passed(trace)
