"""doc_search plugins that misbehave, for hosts plugway supervises in the end-to-end tests.

* ``slow_bm25``: blocks its host's event loop for ``PLUGWAY_TEST_BLOCK_S`` (2 s) per search;
* ``aborting_bm25``: ``os.abort()`` on a search for ``abort``, BM25 otherwise;
* ``hog_bm25``: keeps 32 MiB more of memory on every search (never freed), as a third-party
  plugin might; it sets no limit of its own. The supervisor caps its host's address space
  (``memory_limit_mb``), so the growth ends in a ``MemoryError`` answered as a plugin error --
  or the host dies -- and never touches the server. It stops growing at 64 steps (2 GiB)
  whatever happens, so a missing cap fails the test instead of the machine.
"""

from __future__ import annotations

import os
import time

from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, Bm25Plugin, SearchResult
from plugway.plugins import PluginDeclaration, PluginSetup, SecurityContext

__all__ = ["aborting_bm25", "hog_bm25", "slow_bm25"]

_KEPT: list[bytearray] = []
_CHUNK = 32 * 1024 * 1024
_MAX_CHUNKS = 64


class _Slow(Bm25Plugin):
    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        time.sleep(float(os.environ.get("PLUGWAY_TEST_BLOCK_S", "2")))  # blocks the host
        return await super().search(ctx, query, limit)


class _Aborting(Bm25Plugin):
    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        if "abort" in query:
            os.abort()
        return await super().search(ctx, query, limit)


class _Hog(Bm25Plugin):
    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        if len(_KEPT) < _MAX_CHUNKS:
            chunk = bytearray(_CHUNK)
            chunk[::4096] = b"x" * len(chunk[::4096])  # touch every page: really resident
            _KEPT.append(chunk)
        return await super().search(ctx, query, limit)


def _slow(setup: PluginSetup) -> _Slow:
    return _Slow(setup.plugin_id)


def _aborting(setup: PluginSetup) -> _Aborting:
    return _Aborting(setup.plugin_id)


def _hog(setup: PluginSetup) -> _Hog:
    return _Hog(setup.plugin_id)


def _declare(name: str, factory: object) -> PluginDeclaration:
    return PluginDeclaration(
        contract=DOC_SEARCH_CONTRACT,
        segment=f"x.tests.{name}.plugin.v1",
        vendor="tests",
        priority=60,
        properties={"algorithm": "bm25", "description": f"BM25 that misbehaves ({name})"},
        factory=factory,  # type: ignore[arg-type]
    )


slow_bm25 = _declare("slow_bm25", _slow)
aborting_bm25 = _declare("aborting_bm25", _aborting)
hog_bm25 = _declare("hog_bm25", _hog)
