"""Type safety at the static end: mypy --strict refuses a plugin that breaks its contract.

The shipped plugins' factories (and the example package's) are annotated with the contract's
Protocol, so that CI's mypy run proves they conform. This test shows the mechanism bites: the
same kind of annotation over deliberately broken plugins makes mypy fail on exactly those lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_MODULE = """
from __future__ import annotations

from collections.abc import Sequence

from plugway.modules.doc_search import (
    DocSearchPlugin,
    DocSearchPluginV1_0,
    SearchResult,
)
from plugway.modules.tenant_resolver import GetTenantsOptions, TenantInfo, TenantResolverPlugin
from plugway.plugins import SecurityContext


class Full:
    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        return SearchResult("x", "full", ())

    async def suggest(self, ctx: SecurityContext, prefix: str, limit: int) -> list[str]:
        return []


class Old:  # written for contract 1.0: no suggest
    async def search(self, ctx: SecurityContext, query: str, limit: int) -> SearchResult:
        return SearchResult("x", "old", ())


class SyncSearch(Full):
    def search(  # type: ignore[override]
        self, ctx: SecurityContext, query: str, limit: int
    ) -> SearchResult:
        return SearchResult("x", "sync", ())


class WrongParam:
    async def search(self, ctx: SecurityContext, query: str, limit: str) -> SearchResult:
        return SearchResult("x", "wrong", ())


class HalfResolver:
    async def get_tenants(
        self, ctx: SecurityContext, tenant_ids: Sequence[str], options: GetTenantsOptions
    ) -> list[TenantInfo]:
        return []


ok_full: DocSearchPlugin = Full()
ok_old: DocSearchPluginV1_0 = Old()
ok_full_as_old: DocSearchPluginV1_0 = Full()
bad_old_as_full: DocSearchPlugin = Old()  # BAD: lacks suggest
bad_sync: DocSearchPlugin = SyncSearch()  # BAD: sync where the contract is async
bad_param: DocSearchPluginV1_0 = WrongParam()  # BAD: incompatible parameter
bad_resolver: TenantResolverPlugin = HalfResolver()  # BAD: missing methods
"""


def test_mypy_refuses_exactly_the_plugins_that_break_their_contract(tmp_path: Path) -> None:
    module = tmp_path / "plugins_under_test.py"
    module.write_text(textwrap.dedent(_MODULE), encoding="utf-8")
    env = dict(os.environ, MYPYPATH=str(ROOT / "src"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(module),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = module.read_text(encoding="utf-8").splitlines()
    expected = {i for i, line in enumerate(lines, 1) if "  # BAD: " in line}
    errors = {
        int(m.group(1))
        for m in re.finditer(r"^plugins_under_test\.py:(\d+): error:", run.stdout, re.M)
    }
    assert len(expected) == 4
    assert run.returncode == 1, run.stdout + run.stderr
    assert errors == expected, run.stdout
