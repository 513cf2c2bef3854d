"""The package faces: every name a package exports resolves, and a plugin host loads only what
it runs.

Each package's ``__init__.pyi`` lists what it exports and ``__init__.py`` imports each name on
first use, so a name listed there but gone from its submodule would only fail when someone used
it: here every one is used. The import checks run in a fresh interpreter, since this test
process has long imported everything.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

FACES = (
    "plugway.gts",
    "plugway.modkit",
    "plugway.modules.doc_search",
    "plugway.plugins",
    "plugway.registry",
    "plugway.server",
)


@pytest.mark.parametrize("name", FACES)
def test_every_exported_name_resolves(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__all__, name
    missing = [n for n in package.__all__ if getattr(package, n, None) is None]
    assert missing == []
    assert sorted(dir(package)) == sorted(package.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import plugway.plugins

    with pytest.raises(AttributeError, match="NoSuchThing"):
        plugway.plugins.NoSuchThing  # noqa: B018


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return set(loaded)


HEAVY = {
    "fastapi",
    "psycopg",
    "plugway.server._app",
    "plugway.plugins._module",
    "plugway.gts._schema",  # the instance validator (the registry validates, not the host)
    "plugway.gts._compat",
    "plugway.gts._subschema",
}


def test_a_plugin_and_its_host_load_neither_the_server_nor_the_database_driver() -> None:
    loaded = _loaded_after(
        "from plugway.modules.doc_search import Bm25Plugin, bm25_plugin\n"
        "from plugway.plugins import PluginContract, PluginDeclaration, SecurityContext\n"
        "import plugway.plugins._host, plugway.server._plugin_host, plugway.cli._host"
    )
    assert "plugway.plugins._host" in loaded  # the probe ran what it says
    assert HEAVY & loaded == set()


def test_the_server_still_loads_what_it_serves_with() -> None:
    loaded = _loaded_after("from plugway.server import run_server")
    assert {"fastapi", "plugway.server._app"} <= loaded


def test_every_plugins_error_is_in_one_module_under_one_base() -> None:
    import plugway.plugins
    import plugway.plugins.errors as errors
    import plugway.plugins.remote as remote

    exported = {n: getattr(errors, n) for n in errors.__all__}
    classes = {n: c for n, c in exported.items() if n != "RoutingProblem"}
    assert all(issubclass(c, errors.PluginError) for c in classes.values())
    # the errors a caller catches are on the face too, as the very same classes
    on_face = {n for n in plugway.plugins.__all__ if n.endswith("Error")}
    assert on_face == {"PluginError", "GatewayCallError", "NoPluginAvailableError"}
    assert all(getattr(plugway.plugins, n) is classes[n] for n in on_face)
    assert [n for n in remote.__all__ if getattr(remote, n, None) is None] == []


def test_the_errors_module_loads_nothing_heavy() -> None:
    loaded = _loaded_after("import plugway.plugins.errors")
    assert "plugway.plugins.errors" in loaded
    assert HEAVY & loaded == set()
    assert "pydantic" not in loaded
