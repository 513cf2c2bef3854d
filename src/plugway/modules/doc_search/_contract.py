"""The doc_search plugin contract: what a ranking plugin implements.

Version 1.1 added ``suggest``; plugins written for 1.0 keep working and are served the
contract's default for it (title prefix match), which is what version negotiation is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from plugway.modules.doc_search._corpus import default_corpus
from plugway.modules.doc_search._ranking import Hit
from plugway.plugins import PluginContract, SecurityContext

__all__ = [
    "DOC_SEARCH_CONTRACT",
    "DOC_SEARCH_TYPE_ID",
    "DocSearchDefaults",
    "DocSearchPlugin",
    "DocSearchPluginV1_0",
    "DocSearchProperties",
    "SearchResult",
]

DOC_SEARCH_TYPE_ID = "gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v1.1~"


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Ranked hits and the plugin that ranked them (so a caller sees who served, even after a
    fallback)."""

    plugin_id: str
    algorithm: str
    hits: tuple[Hit, ...]


class DocSearchPluginV1_0(Protocol):
    """Ranks the shipped corpus for a query (the contract as of version 1.0).

    A plugin written for 1.0 types its factory with this Protocol, so that mypy checks it
    against the version it states; the gateway serves it the 1.1 methods from the defaults.
    """

    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        """The best ``limit`` documents for ``query``, best first."""
        ...


class DocSearchPlugin(DocSearchPluginV1_0, Protocol):
    """Ranks the shipped corpus for a query."""

    async def suggest(self, ctx: SecurityContext, prefix: str, limit: int) -> list[str]:
        """Document titles completing ``prefix`` (added in contract 1.1)."""
        ...


class DocSearchDefaults:
    """Contract defaults for plugins written against an older minor."""

    async def suggest(self, ctx: SecurityContext, prefix: str, limit: int) -> list[str]:
        wanted = prefix.strip().lower()
        titles = [d.title for d in default_corpus() if d.title.lower().startswith(wanted)]
        return sorted(titles)[:limit]


class DocSearchProperties(BaseModel):
    """What a ranking plugin advertises in the registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: str = Field(min_length=1, description="ranking function, e.g. bm25")
    description: str = ""


DOC_SEARCH_CONTRACT: PluginContract[DocSearchPlugin] = PluginContract(
    DocSearchPlugin,
    type_id=DOC_SEARCH_TYPE_ID,
    properties=DocSearchProperties,
    defaults=DocSearchDefaults,
    added_in={"suggest": 1},
    name="doc_search",
)
