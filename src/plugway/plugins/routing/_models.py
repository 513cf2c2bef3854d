"""The routing document: ordered rules (match; target, sticky split or rollout), checked whole."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._problems import validation_problems
from ..errors import RoutingConfigError, RoutingProblem

__all__ = [
    "BASIS_POINTS",
    "MAX_RULES",
    "MAX_VARIANTS_PER_DOCUMENT",
    "Match",
    "Rollout",
    "RoutingConfig",
    "RoutingRule",
    "Split",
    "Target",
    "Variant",
    "parse_routing",
]

BASIS_POINTS = 10_000  # a rollout moves in steps of 0.01 %
MAX_RULES = 1_000  # compile cost and metrics series are bounded per document
MAX_VARIANTS_PER_DOCUMENT = 10_000
MAX_CHAIN = 16  # targets in one fallback chain

_KEY_RE = re.compile(r"^(tenant_id|subject_id|attributes\.[A-Za-z0-9_.:\-]+)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=1024)

    @field_validator("*", mode="after")
    @classmethod
    def _unicode_only(cls, value: Any) -> Any:
        # routing hashes, stores and answers text as UTF-8: a lone surrogate ("\ud800") has none
        bad = _not_unicode(value)
        if bad is not None:
            raise ValueError(f"not valid Unicode text: {bad!r}")
        return value


def _not_unicode(value: Any) -> str | None:
    """The first text in ``value`` (a string, or strings in lists and mappings) without UTF-8."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return value
        return None
    if isinstance(value, Mapping):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list | tuple):
        for item in value:
            bad = _not_unicode(item)
            if bad is not None:
                return bad
    return None


def _one_of(values: list[str] | str) -> list[str]:
    return [values] if isinstance(values, str) else values


class Target(_Model):
    """Where a call goes: a plugin id, or a vendor (its lowest priority plugin, ties by id)."""

    plugin: str | None = None
    vendor: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.plugin is None) == (self.vendor is None):
            raise ValueError("give exactly one of 'plugin' or 'vendor'")
        for name in ("plugin", "vendor"):
            if getattr(self, name) == "":
                raise ValueError(f"'{name}' must not be empty")
        return self

    @property
    def label(self) -> str:
        """``plugin:<id>`` or ``vendor:<name>``: the target's identity (also for hashing)."""
        return f"plugin:{self.plugin}" if self.plugin is not None else f"vendor:{self.vendor}"


class Variant(Target):
    """One arm of a weighted split."""

    weight: int = Field(ge=0, le=1_000_000)


class Match(_Model):
    """When a rule applies: every given condition must hold (values are alternatives)."""

    tenant: list[str] | None = None
    subject: list[str] | None = None
    attributes: dict[str, list[str]] | None = None

    @field_validator("tenant", "subject", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("attributes", mode="before")
    @classmethod
    def _listify_attrs(cls, value: Any) -> Any:
        # attribute names are case-insensitive, like the X-Attr-<name> headers they come from
        if isinstance(value, Mapping):
            return {
                k.lower() if isinstance(k, str) else k: [v] if isinstance(v, str) else v
                for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        for name in ("tenant", "subject"):
            if getattr(self, name) == []:
                raise ValueError(f"'{name}' must list at least one value (omit it to match all)")
        for key, values in (self.attributes or {}).items():
            if not values:
                raise ValueError(f"attribute {key!r} must list at least one value")
        return self


def _check_key(value: str) -> str:
    if not _KEY_RE.match(value):
        raise ValueError("key must be 'tenant_id', 'subject_id' or 'attributes.<name>'")
    if value.startswith("attributes."):
        return "attributes." + value.removeprefix("attributes.").lower()  # case-insensitive
    return value


class Split(_Model):
    """A weighted split, sticky on a context key (weighted rendezvous hashing)."""

    key: str
    variants: list[Variant] = Field(min_length=1, max_length=255)
    salt: str | None = None

    _key = field_validator("key")(classmethod(lambda cls, v: _check_key(v)))

    @model_validator(mode="after")
    def _sane(self) -> Split:
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("variant weights must not all be 0")
        counts = Counter(v.label for v in self.variants)
        dup = sorted(x for x, c in counts.items() if c > 1)
        if dup:
            raise ValueError(f"variants repeat a target: {dup}")
        return self


class Rollout(_Model):
    """A percentage of keys (steps of 0.01 %) sent to a target; the others go on to later rules."""

    key: str
    target: Target
    basis_points: int | None = Field(default=None, ge=0, le=BASIS_POINTS)
    percent: float | None = Field(default=None, ge=0, le=100)
    salt: str | None = None

    _key = field_validator("key")(classmethod(lambda cls, v: _check_key(v)))

    @field_validator("percent")
    @classmethod
    def _in_steps(cls, value: float | None) -> float | None:
        # a field validator, so that the refusal names the field: rules[i].rollout.percent
        if value is not None and not math.isclose(value * 100, round(value * 100), abs_tol=1e-6):
            raise ValueError("'percent' moves in steps of 0.01")
        return value

    @model_validator(mode="after")
    def _one_amount(self) -> Rollout:
        if (self.basis_points is None) == (self.percent is None):
            raise ValueError("give exactly one of 'basis_points' (0..10000) or 'percent'")
        return self

    @property
    def points(self) -> int:
        """The rollout size in basis points (1 = 0.01 %)."""
        if self.basis_points is not None:
            return self.basis_points
        return round((self.percent or 0.0) * 100)


class RoutingRule(_Model):
    """One ordered rule: optional match, exactly one of target / split / rollout, extras."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    match: Match | None = None
    target: Target | None = None
    split: Split | None = None
    rollout: Rollout | None = None
    fallback: list[Target] = Field(default_factory=list, max_length=MAX_CHAIN)
    shadow: Target | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RoutingRule:
        given = [n for n in ("target", "split", "rollout") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of 'target', 'split' or 'rollout' (got {given or 'none'})"
            )
        return self

    @property
    def kind(self) -> Literal["target", "split", "rollout"]:
        if self.split is not None:
            return "split"
        if self.rollout is not None:
            return "rollout"
        return "target"


class RoutingConfig(_Model):
    """A gateway's whole routing: default route, timeout, default fallback, ordered rules.

    The default route serves ``default`` when it is given and present, else the lowest priority
    plugin of ``vendor`` (any vendor when absent), ties by id. ``default`` is how a gateway keeps
    serving the plugin it served when another joins (see ``Gateway.record_plugin_change``).
    """

    vendor: str | None = Field(default=None, min_length=1)
    default: Target | None = None
    timeout: float | None = Field(default=None, gt=0, le=3600)
    fallback: list[Target] = Field(default_factory=list, max_length=MAX_CHAIN)
    rules: list[RoutingRule] = Field(default_factory=list, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _unique_names(self) -> RoutingConfig:
        counts = Counter(r.name for r in self.rules if r.name is not None)
        dup = sorted(n for n, c in counts.items() if c > 1)
        if dup:
            raise ValueError(f"rule names must be unique: {dup}")
        variants = sum(len(r.split.variants) for r in self.rules if r.split is not None)
        if variants > MAX_VARIANTS_PER_DOCUMENT:
            raise ValueError(
                f"{variants} split variants in all; at most {MAX_VARIANTS_PER_DOCUMENT} per routing"
            )
        return self

    def document(self) -> dict[str, Any]:
        """The routing as a JSON-able document (what revisions store and the admin API shows)."""
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def parse_routing(doc: RoutingConfig | Mapping[str, Any] | None) -> RoutingConfig:
    """Validate a routing document whole; RoutingConfigError lists every bad field by path."""
    if doc is None:
        return RoutingConfig()
    if isinstance(doc, RoutingConfig):
        return doc
    if not isinstance(doc, Mapping):
        raise RoutingConfigError([RoutingProblem("", "routing must be an object")])
    try:
        return RoutingConfig.model_validate(dict(doc))
    except ValidationError as exc:
        raise RoutingConfigError(validation_problems(exc)) from None
