"""What the out-of-process end-to-end tests host: a doc_search plugin under its own id.

``hosted_bm25`` is the shipped BM25 ranker declared under another instance segment, so that a
host can register it next to the in-process one in a real server's registry. ``HostProcess``
(from ``tests/plugins/remote_support.py``) runs a host or another language's plugin.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from remote_support import HostProcess

from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, Bm25Plugin
from plugway.plugins import PluginDeclaration, PluginSetup

__all__ = ["HostProcess", "hosted_bm25"]


def _build(setup: PluginSetup) -> Bm25Plugin:
    return Bm25Plugin(setup.plugin_id)


hosted_bm25 = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="x.tests.hosted_bm25.plugin.v1",
    vendor="tests",
    priority=50,
    properties={"algorithm": "bm25", "description": "BM25 in a plugin host"},
    factory=_build,
)
