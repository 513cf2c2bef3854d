"""Discovery through entry points of a real installed-distribution layout on sys.path."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugway.modkit import MODULES_GROUP, discover_modules, module_spec, scan_modules

GROUP = "plugway.modules.tests"

PACKAGE = """
from __future__ import annotations

from plugway.modkit import Module, ModuleConfig, module


class GreeterConfig(ModuleConfig):
    greeting: str = "hello"


@module(name="greeter", deps=(), config=GreeterConfig)
class Greeter(Module):
    pass


@module(name="declared_otherwise")
class Misnamed(Module):
    pass


class NotAModule:
    pass
"""

ENTRY_POINTS = f"""
[{GROUP}]
greeter = pmk_sample.mods:Greeter
misnamed = pmk_sample.mods:Misnamed
plain = pmk_sample.mods:NotAModule
broken = pmk_sample.broken:Anything
missing_attr = pmk_sample.mods:Nope

[{MODULES_GROUP}]
greeter = pmk_sample.mods:Greeter
"""


def install_dist(root: Path, name: str, version: str, entry_points: str) -> None:
    info = root / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    pkg = tmp_path / "pmk_sample"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mods.py").write_text(PACKAGE)
    (pkg / "broken.py").write_text("raise RuntimeError('database driver missing')\n")
    install_dist(tmp_path, "pmk_sample", "1.2.3", ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for mod in [m for m in sys.modules if m == "pmk_sample" or m.startswith("pmk_sample.")]:
        del sys.modules[mod]


def test_good_module_is_found_and_broken_ones_are_reported(site: Path) -> None:
    result = scan_modules(GROUP)
    assert list(result.modules) == ["greeter"]
    assert module_spec(result.modules["greeter"]).config.__name__ == "GreeterConfig"
    failures = {f.entry_point: f for f in result.failures}
    assert sorted(failures) == ["broken", "misnamed", "missing_attr", "plain"]
    assert "import failed: RuntimeError: database driver missing" in failures["broken"].error
    assert failures["broken"].distribution == "pmk_sample 1.2.3"
    assert failures["broken"].value == "pmk_sample.broken:Anything"
    assert "import failed: AttributeError" in failures["missing_attr"].error
    assert "not declared with @module" in failures["plain"].error
    assert "declared as 'declared_otherwise', not 'misnamed'" in failures["misnamed"].error
    assert str(failures["broken"]).startswith(
        "module entry point 'broken' = pmk_sample.broken:Anything (from pmk_sample 1.2.3)"
    )


def test_failures_are_logged(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    discover_modules(GROUP)
    assert any("'broken'" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


def test_default_group_finds_the_installed_distribution(site: Path) -> None:
    found = discover_modules()
    assert found["greeter"].__module__ == "pmk_sample.mods"


def test_two_distributions_claiming_one_name_are_both_left_out(site: Path) -> None:
    install_dist(site, "pmk_other", "0.1", f"[{GROUP}]\ngreeter = pmk_sample.mods:Misnamed\n")
    importlib.invalidate_caches()
    result = scan_modules(GROUP)
    assert "greeter" not in result.modules
    claims = [f for f in result.failures if f.entry_point == "greeter"]
    assert len(claims) == 2
    assert all("claimed more than once" in f.error for f in claims)


def test_empty_group() -> None:
    result = scan_modules("plugway.modules.nothing-here")
    assert dict(result.modules) == {}
    assert result.failures == ()
