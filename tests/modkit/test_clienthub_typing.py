"""ClientHub signatures under mypy --strict: lookups return the interface type, and a wrong
use is a type error. mypy runs as a subprocess on two small files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

PRELUDE = """
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol, assert_type

from plugway.modkit import ClientHub

SCOPE = "gts.x.core.modkit.plugin.v1~acme.tenants.resolver.static.v1"


class TenantResolverPlugin(Protocol):
    def resolve(self, tenant: str) -> str: ...


class Store(ABC):
    @abstractmethod
    def load(self) -> bytes: ...


class Static:
    def resolve(self, tenant: str) -> str:
        return tenant


hub = ClientHub()
"""

GOOD = """
hub.register(TenantResolverPlugin, Static())
hub.register_scoped(TenantResolverPlugin, SCOPE, Static())
assert_type(hub.get(TenantResolverPlugin), TenantResolverPlugin)
assert_type(hub.get(Store), Store)
assert_type(hub.try_get(Store), Store | None)
assert_type(hub.get_scoped(TenantResolverPlugin, SCOPE), TenantResolverPlugin)
assert_type(hub.try_get_scoped(TenantResolverPlugin, SCOPE), TenantResolverPlugin | None)
assert_type(hub.remove_scoped(TenantResolverPlugin, SCOPE), TenantResolverPlugin | None)
assert_type(hub.scopes(TenantResolverPlugin), tuple[str, ...])
name: str = hub.get(TenantResolverPlugin).resolve("t")
data: bytes = hub.get(Store).load()
"""

BAD = """
wrong: int = hub.get(TenantResolverPlugin)
maybe: Store = hub.try_get(Store)
reveal_type(hub.get_scoped(TenantResolverPlugin, SCOPE))
hub.get(TenantResolverPlugin).missing()
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hub_typing")
    (root / "good_use.py").write_text(PRELUDE + textwrap.dedent(GOOD))
    (root / "bad_use.py").write_text(PRELUDE + textwrap.dedent(BAD))
    outputs = {}
    for name in ("good_use.py", "bad_use.py"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--strict",
                "--no-error-summary",
                "--show-error-codes",
                "--cache-dir",
                str(root / ".cache"),
                name,
            ],
            cwd=root,
            env={**os.environ, "MYPYPATH": str(SRC)},
            capture_output=True,
            text=True,
            check=False,
        )
        outputs[name] = proc.stdout + proc.stderr
    return outputs


def test_correct_use_type_checks_with_protocols_and_abcs(mypy_output: dict[str, str]) -> None:
    assert mypy_output["good_use.py"].strip() == ""


def test_lookup_result_has_the_interface_type(mypy_output: dict[str, str]) -> None:
    out = mypy_output["bad_use.py"]
    assert 'Revealed type is "bad_use.TenantResolverPlugin"' in out


def test_wrong_assignments_and_calls_are_type_errors(mypy_output: dict[str, str]) -> None:
    out = mypy_output["bad_use.py"]
    lines = [line for line in out.splitlines() if ": error:" in line]
    assert any(
        'type "TenantResolverPlugin", variable has type "int"' in line and "[assignment]" in line
        for line in lines
    ), out
    assert any('type "Store | None", variable has type "Store"' in line for line in lines), out
    assert any('"TenantResolverPlugin" has no attribute "missing"' in line for line in lines), out
    assert len(lines) == 3, out
