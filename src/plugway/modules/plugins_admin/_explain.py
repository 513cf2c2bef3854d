"""Explaining decisions over HTTP: the request bodies, and explain-bulk kept within bounds.

``explain-bulk`` decides up to 100,000 values of one context key (A/B and rollout measurements).
Unbounded, a few such requests at once took the CPU from the gateway calls of the same process;
so it runs in a worker thread, a bounded number at a time (429 beyond), on a bounded amount of
work (values, characters, and a body limit the server enforces before reading it).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from plugway.plugins import GatewayModule, SecurityContext
from plugway.plugins.routing import Explanation
from plugway.server import FieldProblem, ProblemCode, ProblemError

__all__ = [
    "MAX_BULK_BYTES",
    "MAX_BULK_CHARS",
    "MAX_BULK_VALUES",
    "BulkExplainRequest",
    "BulkExplainer",
    "ExplainRequest",
    "check_text",
    "explanation_to_dict",
]

MAX_BULK_VALUES = 100_000
"""Values in one explain-bulk request."""
MAX_BULK_CHARS = 4_000_000
"""Characters of all the values of one explain-bulk request, together."""
MAX_BULK_BYTES = 8 * 1024 * 1024
"""Bytes of one explain-bulk request body (the server refuses more before reading it)."""


def explanation_to_dict(exp: Explanation) -> dict[str, Any]:
    return {
        "gateway": exp.gateway,
        "plugin": exp.plugin_id,
        "rule": exp.rule_name,
        "rule_index": exp.rule_index,
        "reason": exp.reason,
        "steps": list(exp.steps),
        "fallbacks": list(exp.fallback),
        "shadow": exp.shadow,
        "circuit": exp.circuit,
        "revision": exp.revision,
    }


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExplainRequest(_Body):
    tenant_id: str = ""
    subject_id: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)

    def context(self) -> SecurityContext:
        return SecurityContext(self.tenant_id, self.subject_id, self.attributes)

    def text_fields(self) -> list[tuple[str, str]]:
        """(field path, text) of every string that reaches routing (checked for Unicode)."""
        names = [("body.attributes", k) for k in self.attributes]  # a bad name: not quotable
        values = [(f"body.attributes.{k}", v) for k, v in self.attributes.items()]
        return [("body.tenant_id", self.tenant_id), ("body.subject_id", self.subject_id)] + (
            names + values
        )


class BulkExplainRequest(ExplainRequest):
    """Decide for many values of one context key at once (A/B and rollout measurements)."""

    key: str = Field(description="tenant_id, subject_id or attributes.<name>")
    values: list[str] = Field(
        max_length=MAX_BULK_VALUES,
        description=f"at most {MAX_BULK_VALUES} values, {MAX_BULK_CHARS} characters in all",
    )

    def text_fields(self) -> list[tuple[str, str]]:
        fields = [*super().text_fields(), ("body.key", self.key)]
        if not _is_text("".join(self.values)):  # one pass in C; find the culprits only if any
            fields.extend((f"body.values[{i}]", v) for i, v in enumerate(self.values))
        return fields


def _is_text(value: str) -> bool:
    """Whether ``value`` has a UTF-8 form (JSON can carry lone surrogates, ``"\\ud800"``)."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_text(fields: list[tuple[str, str]]) -> None:
    """400 naming each field (the first ten) that holds no Unicode text."""
    bad = [f for f, v in fields if not _is_text(v)][:10]
    if bad:
        raise ProblemError(
            400,
            ProblemCode.REQUEST_INVALID,
            f"invalid request: {', '.join(bad)}",
            errors=[
                FieldProblem(f, "not valid Unicode text (a lone surrogate)", "request.invalid")
                for f in bad
            ],
        )


class BulkExplainer:
    """Runs explain-bulk requests, at most ``concurrency`` at once, each in a worker thread."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._slots = threading.BoundedSemaphore(concurrency)

    def try_claim(self) -> bool:
        """Take a slot if one is free (what a request does first; tests use it to fill one)."""
        return self._slots.acquire(blocking=False)

    def release(self) -> None:
        self._slots.release()

    async def explain(self, gw: GatewayModule, body: BulkExplainRequest) -> dict[str, Any]:
        """The plugin of each value; 413 beyond the characters cap, 429 when all slots run."""
        total = sum(map(len, body.values))
        if total > MAX_BULK_CHARS:
            message = f"the values hold {total} characters, at most {MAX_BULK_CHARS} are served"
            raise ProblemError(
                413,
                ProblemCode.REQUEST_TOO_LARGE,
                message,
                errors=[FieldProblem("body.values", message, str(ProblemCode.REQUEST_TOO_LARGE))],
            )
        if not self.try_claim():
            raise ProblemError(
                429,
                "plugins.busy",
                f"{self.concurrency} explain-bulk request(s) already running; retry later",
                title="Too Many Requests",
                headers={"Retry-After": "1"},
            )

        def work() -> dict[str, Any]:
            try:  # released by the thread itself: a client that leaves does not free a slot
                check_text(body.text_fields())
                return _bulk(gw, body)
            finally:
                self.release()

        return await asyncio.to_thread(work)


def _bulk(module: GatewayModule, body: BulkExplainRequest) -> dict[str, Any]:
    gw = module.gateway
    key = body.key
    base = body.context()
    attr = key[len("attributes.") :] if key.startswith("attributes.") else ""
    if key not in ("tenant_id", "subject_id") and not attr:
        raise ProblemError(
            400,
            ProblemCode.REQUEST_INVALID,
            f"key {key!r}: use tenant_id, subject_id or attributes.<name>",
            errors=[FieldProblem("body.key", "unknown context key", "request.invalid")],
        )

    def make(value: str) -> SecurityContext:
        if key == "tenant_id":
            return SecurityContext(value, base.subject_id, base.attributes)
        if key == "subject_id":
            return SecurityContext(base.tenant_id, value, base.attributes)
        merged = dict(base.attributes)
        merged[attr] = value
        return SecurityContext(base.tenant_id, base.subject_id, merged)

    table: dict[str | None, int] = {}
    assignments: list[int] = []
    revision = gw.revision
    decide = gw.decide
    for value in body.values:
        decision = decide(make(value))
        index = table.get(decision.plugin_id)
        if index is None:
            index = table[decision.plugin_id] = len(table)
        assignments.append(index)
        revision = decision.revision
    plugins = list(table)
    counts = {str(p): 0 for p in plugins}
    for i in assignments:
        counts[str(plugins[i])] += 1
    return {"revision": revision, "plugins": plugins, "assignments": assignments, "counts": counts}
