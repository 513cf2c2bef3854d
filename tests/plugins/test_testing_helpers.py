"""plugway.plugins.testing: a plugin author's checks, against the example package's pattern."""

from __future__ import annotations

import pytest
from plugins_core_support import ECHO, Named

from plugway.plugins import PluginDeclaration, PluginSetup, SecurityContext
from plugway.plugins.errors import PluginContractError
from plugway.plugins.testing import build_plugin, context, gateway_for


def _named(setup: PluginSetup) -> Named:
    return Named(str(setup.config.get("name", setup.name)))


class WrongType:
    async def echo(self, ctx: SecurityContext, text: int) -> str:
        return str(text)


A = PluginDeclaration(contract=ECHO, segment="x.test.a.plugin.v1", vendor="x", factory=_named)
B = PluginDeclaration(
    contract=ECHO, segment="x.test.b.plugin.v1", vendor="y", priority=5, factory=_named
)
BAD = PluginDeclaration(
    contract=ECHO, segment="x.test.bad.plugin.v1", vendor="x", factory=lambda s: WrongType()
)


async def test_a_declared_plugin_is_built_checked_and_routed() -> None:
    inst = build_plugin(A, config={"name": "alpha"})
    assert inst.id == A.plugin_id and await inst.impl.echo(context(), "x") == "alpha:x"
    gw = gateway_for(A, B, routing={"vendor": "x"})
    assert await gw.client.echo(context("t1", "u1", region="eu"), "q") == "x.test.a.plugin.v1:q"
    assert gw.explain(context("t1")).plugin_id == A.plugin_id
    with pytest.raises(PluginContractError, match="text"):
        build_plugin(BAD)
    with pytest.raises(ValueError, match="at least one"):
        gateway_for()
