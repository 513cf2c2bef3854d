"""A contract's own errors cross the wire: a real host process raises them, the caller gets them.

The host serves ``remote_passthrough_support:hosted_accounts``; a Gateway routes to it (or, to
compare, to the same plugin in process) with an in-process fallback. A passthrough error reaches
the caller as its own class, counted neither as an error nor by the breaker; anything else, and
a passthrough error that cannot be built again, is the plugin's failure.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from remote_passthrough_support import (
    ACCOUNTS_CONTRACT,
    ACCOUNTS_TYPE_ID,
    AccountError,
    AccountFrozenError,
    AccountNotFoundError,
    AccountsImpl,
    AccountsPlugin,
    hosted_accounts,
    local_accounts,
)
from remote_support import HostProcess

from plugway.plugins import (
    BreakerSettings,
    Gateway,
    GatewayCallError,
    PluginContract,
    PluginSetup,
    SecurityContext,
)
from plugway.plugins.errors import ContractDefinitionError
from plugway.plugins.remote import RemoteHost, RemotePlugin

CTX = SecurityContext("tenant-a", "user-1")
HOSTED_ID = hosted_accounts.plugin_id
LOCAL_ID = local_accounts.plugin_id
PATH = "/v1/accounts/x.tests.hosted_accounts.plugin.v1"
THRESHOLD = 2


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    root = tmp_path_factory.mktemp("accounts-host")
    proc = HostProcess(["remote_passthrough_support:hosted_accounts"], root).start()
    yield proc
    proc.close()


class Rig:
    """A gateway whose default is ``primary`` (hosted or in process), the local plugin after."""

    def __init__(self, host: HostProcess, primary: str, *, passthrough: bool = True) -> None:
        assert host.url is not None
        self.remote_host = RemoteHost(host.url, secret=host.secret)
        # the gateway takes the contract's passthrough types; without them, the same contract
        contract = ACCOUNTS_CONTRACT
        if not passthrough:
            contract = PluginContract(AccountsPlugin, type_id=ACCOUNTS_TYPE_ID, name="accounts")
        self.gw = Gateway(
            "accounts",
            contract,
            routing={"default": {"plugin": HOSTED_ID}, "fallback": [{"plugin": LOCAL_ID}]},
            breaker=BreakerSettings(failure_threshold=THRESHOLD, cooldown=3600),
        )
        impl: object = AccountsImpl(100)
        if primary == "hosted":
            impl = RemotePlugin(ACCOUNTS_CONTRACT, self.remote_host, PATH, plugin_id=HOSTED_ID)
        self.gw.add_plugin(hosted_accounts.spec(), impl)
        setup = PluginSetup("local", "accounts", LOCAL_ID, {}, None, logging.getLogger("test"))
        self.gw.add_plugin(local_accounts.spec(), local_accounts.factory(setup))

    def errors(self) -> int:
        return sum(s.errors for s in self.gw.metrics.all_series() if s.plugin == HOSTED_ID)

    def breaker_failures(self) -> int:
        return self.gw.breaker(HOSTED_ID).failures

    async def close(self) -> None:
        self.gw.close()
        await self.remote_host.aclose()


@pytest.fixture(params=["hosted", "in_process"])
async def rig(host: HostProcess, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    r = Rig(host, request.param)
    yield r
    await r.close()


async def test_the_contract_error_reaches_the_caller_as_itself_and_is_no_failure(rig: Rig) -> None:
    assert await rig.gw.call("balance", CTX, "a-1") == 100
    for _ in range(THRESHOLD + 1):  # more than enough to open the breaker if they counted
        with pytest.raises(AccountNotFoundError) as info:
            await rig.gw.call("balance", CTX, "missing")
        assert type(info.value) is AccountNotFoundError
        assert str(info.value) == "account 'missing' not found"
        assert info.value.account_id == "missing"
    with pytest.raises(AccountFrozenError) as frozen:
        await rig.gw.call("balance", CTX, "frozen")
    assert str(frozen.value) == "account frozen by compliance"
    assert rig.errors() == 0
    assert rig.breaker_failures() == 0 and rig.gw.breaker(HOSTED_ID).state == "closed"
    out = await rig.gw.call_with_outcome("balance", CTX, "a-1")
    assert out.plugin == HOSTED_ID and out.result == 100  # no fallback was ever needed


async def test_an_ordinary_exception_is_still_the_plugins_failure(rig: Rig) -> None:
    out = await rig.gw.call_with_outcome("balance", CTX, "boom")
    assert out.plugin == LOCAL_ID and out.result == -1
    assert "boom" in (out.attempts[0].error or "")
    assert rig.errors() == 1 and rig.breaker_failures() == 1


async def test_a_class_unknown_to_the_caller_arrives_as_its_known_base(host: HostProcess) -> None:
    rig = Rig(host, "hosted")
    try:
        with pytest.raises(AccountError) as info:
            await rig.gw.call("balance", CTX, "private")
        assert type(info.value) is AccountError and str(info.value) == "on hold"
        assert any("out-of-process plugin" in note for note in info.value.__notes__)
        assert rig.errors() == 0 and rig.breaker_failures() == 0
    finally:
        await rig.close()


async def test_a_contract_error_that_cannot_be_built_again_is_a_failure(host: HostProcess) -> None:
    rig = Rig(host, "hosted")
    try:
        out = await rig.gw.call_with_outcome("balance", CTX, "unbuildable")
        assert out.plugin == LOCAL_ID and out.result == -1
        assert "422 contract_error: unbuildable: needs two arguments" in (
            out.attempts[0].error or ""
        )
        assert rig.errors() == 1 and rig.breaker_failures() == 1
    finally:
        await rig.close()


@pytest.mark.parametrize("primary", ["hosted", "in_process"])
async def test_a_gateway_without_passthrough_counts_it_as_a_failure_either_way(
    host: HostProcess, primary: str
) -> None:
    rig = Rig(host, primary, passthrough=False)
    try:
        out = await rig.gw.call_with_outcome("balance", CTX, "missing")
        assert out.plugin == LOCAL_ID and out.result == -1
        assert rig.errors() == 1 and rig.breaker_failures() == 1
        rig.gw.remove_plugin(LOCAL_ID)
        with pytest.raises(GatewayCallError):
            await rig.gw.call("balance", CTX, "missing")
    finally:
        await rig.close()


async def test_the_wire_answer_is_a_contract_error_naming_the_exception(host: HostProcess) -> None:
    assert host.url is not None
    async with httpx.AsyncClient(
        base_url=host.url, headers={"Authorization": f"Bearer {host.secret}"}
    ) as http:
        body = {"context": {}, "args": {"account_id": "missing"}}
        answer = await http.post(f"{PATH}/balance", json=body)
        assert answer.status_code == 422
        assert answer.json() == {
            "error": {
                "type": "contract_error",
                "message": "account 'missing' not found",
                "errors": [],
                "exception": {
                    "name": "AccountNotFoundError",
                    "bases": ["AccountError"],
                    "attributes": {"account_id": "missing"},
                },
            }
        }
        boom = await http.post(
            f"{PATH}/balance", json={"context": {}, "args": {"account_id": "boom"}}
        )
        assert boom.status_code == 500 and boom.json()["error"]["type"] == "plugin_error"
        spec = (await http.get("/openapi.json")).json()
        assert "422" in spec["paths"][f"{PATH}/balance"]["post"]["responses"]


def test_a_contract_lists_only_exception_types_as_passthrough() -> None:
    with pytest.raises(ContractDefinitionError, match="passthrough"):
        PluginContract(
            ACCOUNTS_CONTRACT.protocol,
            type_id=ACCOUNTS_CONTRACT.type_id,
            passthrough=(KeyboardInterrupt,),  # type: ignore[arg-type]
        )
