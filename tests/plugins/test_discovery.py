"""Plugin discovery through the ``plugway.plugins`` entry point group."""

from __future__ import annotations

import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from plugway.modkit import ClientHub
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT
from plugway.modules.tenant_resolver import TENANT_RESOLVER_CONTRACT
from plugway.plugins import PLUGINS_GROUP, PluginContract, PluginDeclaration
from plugway.plugins._discovery import (
    PluginCatalog,
    PluginDiscoveryFailure,
    discover_plugins,
    same_contract_family,
)

_GOOD = """
from plugway.modules.doc_search import DOC_SEARCH_CONTRACT, SearchResult
from plugway.plugins import PluginDeclaration


class Ranker:
    async def search(self, ctx, query, limit):
        return SearchResult("x", "test", ())

    async def suggest(self, ctx, prefix, limit):
        return []


def _make(setup):
    return Ranker()


plugin = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="test.disc.ranker.plugin.v1",
    vendor="test",
    properties={"algorithm": "test"},
    factory=_make,
)
same_id = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="test.disc.ranker.plugin.v1",
    vendor="other",
    properties={"algorithm": "test"},
    factory=_make,
)


def lazy():
    return PluginDeclaration(
        contract=DOC_SEARCH_CONTRACT,
        segment="test.disc.lazy.plugin.v1",
        vendor="test",
        properties={"algorithm": "test"},
        factory=_make,
    )


not_a_plugin = 42
bad_segment = PluginDeclaration(
    contract=DOC_SEARCH_CONTRACT,
    segment="Not A Segment",
    vendor="test",
    factory=_make,
)
"""


@pytest.fixture
def pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two importable modules on sys.path: one with declarations, one that fails to import."""
    (tmp_path / "disc_good.py").write_text(_GOOD, encoding="utf-8")
    (tmp_path / "disc_broken.py").write_text(
        "raise RuntimeError('cannot import this one')\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=PLUGINS_GROUP)


def test_a_good_declaration_is_found(pkg: Path) -> None:
    report = discover_plugins(found=[_ep("good", "disc_good:plugin")])
    assert report.failures == ()
    (found,) = report.plugins
    assert found.name == "good"
    assert found.plugin_id == DOC_SEARCH_CONTRACT.type_id + "test.disc.ranker.plugin.v1"
    assert report.for_contract(DOC_SEARCH_CONTRACT) == (found,)
    assert report.for_contract(TENANT_RESOLVER_CONTRACT) == ()


def test_a_callable_entry_point_is_called_for_its_declaration(pkg: Path) -> None:
    report = discover_plugins(found=[_ep("lazy", "disc_good:lazy")])
    assert [p.plugin_id.rsplit("~", 1)[1] for p in report.plugins] == ["test.disc.lazy.plugin.v1"]


def test_bad_entry_points_are_reported_by_name_and_stage_and_the_rest_load(pkg: Path) -> None:
    report = discover_plugins(
        found=[
            _ep("broken", "disc_broken:plugin"),
            _ep("missing", "disc_no_such_module:plugin"),
            _ep("number", "disc_good:not_a_plugin"),
            _ep("badseg", "disc_good:bad_segment"),
            _ep("good", "disc_good:plugin"),
        ]
    )
    assert [p.name for p in report.plugins] == ["good"]
    stages = {f.name: f.stage for f in report.failures}
    assert stages == {
        "broken": "import",
        "missing": "import",
        "number": "declaration",
        "badseg": "declaration",
    }
    broken = next(f for f in report.failures if f.name == "broken")
    assert "cannot import this one" in broken.error
    assert "'broken'" in str(broken) and "import failed" in str(broken)
    number = next(f for f in report.failures if f.name == "number")
    assert "PluginDeclaration" in number.error


def test_a_name_claimed_by_two_targets_is_refused_for_both(pkg: Path) -> None:
    report = discover_plugins(found=[_ep("dup", "disc_good:plugin"), _ep("dup", "disc_good:lazy")])
    assert report.plugins == ()
    assert len(report.failures) == 2
    assert all("claimed twice" in f.error for f in report.failures)


def test_the_same_entry_point_seen_twice_counts_once(pkg: Path) -> None:
    report = discover_plugins(found=[_ep("good", "disc_good:plugin")] * 2)
    assert len(report.plugins) == 1 and report.failures == ()


def test_two_entry_points_declaring_one_plugin_id_keep_the_first(pkg: Path) -> None:
    report = discover_plugins(
        found=[_ep("a_first", "disc_good:plugin"), _ep("b_second", "disc_good:same_id")]
    )
    assert [p.name for p in report.plugins] == ["a_first"]
    (failure,) = report.failures
    assert failure.name == "b_second" and "a_first" in failure.error


def test_an_installed_distribution_is_found_without_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real mechanism: a dist-info folder on sys.path with an entry_points.txt."""
    (tmp_path / "disc_good.py").write_text(_GOOD, encoding="utf-8")
    info = tmp_path / "disc_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: disc-dist\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [plugway.plugins]
            disc_installed = disc_good:plugin
            """
        ),
        encoding="utf-8",
    )
    before = {p.name for p in discover_plugins().plugins}
    assert "disc_installed" not in before
    monkeypatch.syspath_prepend(str(tmp_path))
    report = discover_plugins()
    found = {p.name: p for p in report.plugins}
    assert found["disc_installed"].distribution == "disc-dist 1.0"
    # The plugins shipped with plugway come through the same group.
    assert {"bm25_ranker", "tfidf_ranker", "static_tenants", "single_tenant"} <= set(found)


def test_the_catalog_is_shared_through_the_hub_and_collects_later_failures() -> None:
    hub = ClientHub()
    catalog = PluginCatalog.shared(hub)
    assert PluginCatalog.shared(hub) is catalog
    failure = PluginDiscoveryFailure(
        "x", "m:x", None, "contract", "bad", plugin_id="p", gateway="g"
    )
    catalog.report_failure(failure)
    catalog.report_failure(failure)
    assert catalog.failures.count(failure) == 1
    catalog.clear_failures(gateway="g", plugin_id="p")
    assert failure not in catalog.failures
    assert failure.to_dict()["stage"] == "contract"


def test_contract_families_compare_type_and_major() -> None:
    older: PluginContract[object] = PluginContract(
        DOC_SEARCH_CONTRACT.protocol,
        type_id="gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v1.0~",
    )
    other_major: PluginContract[object] = PluginContract(
        DOC_SEARCH_CONTRACT.protocol,
        type_id="gts.x.core.modkit.plugin.v1~x.plugway.doc_search.plugin.v2.0~",
    )
    assert same_contract_family(older, DOC_SEARCH_CONTRACT)
    assert not same_contract_family(other_major, DOC_SEARCH_CONTRACT)
    assert not same_contract_family(TENANT_RESOLVER_CONTRACT, DOC_SEARCH_CONTRACT)


def test_a_declaration_spec_takes_overrides() -> None:
    decl: PluginDeclaration = PluginDeclaration(
        contract=DOC_SEARCH_CONTRACT,
        segment="test.disc.spec.plugin.v1",
        vendor="v",
        priority=5,
        factory=lambda setup: object(),
        contract_version="1.0",
    )
    spec = decl.spec(vendor="w", priority=7)
    assert (spec.vendor, spec.priority, str(spec.contract_version)) == ("w", 7, "1.0")
    assert decl.spec().vendor == "v"


def test_a_rescan_sees_new_and_gone_entry_points_and_forgets_the_gone_ones_failures(
    pkg: Path,
) -> None:
    found = [_ep("good", "disc_good:plugin"), _ep("broken", "disc_broken:plugin")]
    catalog = PluginCatalog.scan(lambda: list(found))
    assert [p.name for p in catalog.plugins] == ["good"]
    later = PluginDiscoveryFailure(
        "good", "disc_good:plugin", None, "contract", "bad", plugin_id="p", gateway="g"
    )
    catalog.report_failure(later)
    assert {f.name for f in catalog.failures} == {"broken", "good"}
    found[:] = [_ep("lazy", "disc_good:lazy")]  # good and broken uninstalled, lazy installed
    scan = catalog.rescan()
    assert [p.name for p in scan.new] == ["lazy"] and [p.name for p in scan.gone] == ["good"]
    assert [p.name for p in catalog.plugins] == ["lazy"]
    assert catalog.failures == ()
    found.append(_ep("good", "disc_good:plugin"))  # installed again: new again
    assert [p.name for p in catalog.rescan().new] == ["good"]


def test_a_rescan_keeps_a_plugin_whose_package_now_fails_to_import(pkg: Path) -> None:
    found = [_ep("good", "disc_good:plugin")]
    catalog = PluginCatalog.scan(lambda: list(found))
    found[:] = [_ep("good", "disc_broken:plugin")]  # upgraded to a broken release
    scan = catalog.rescan()
    assert scan.gone == () and [p.name for p in catalog.plugins] == ["good"]
    assert [f.stage for f in catalog.failures] == ["import"]
