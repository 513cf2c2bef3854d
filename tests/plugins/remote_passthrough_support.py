"""A contract with errors of its own, served by a plugin host (``test_remote_passthrough``).

``ACCOUNTS_CONTRACT`` declares ``passthrough=(AccountError,)``. The plugin's ``balance``
answers by account id: ``missing`` raises ``AccountNotFoundError`` (its constructor takes the
id, not the message, and keeps it as an attribute), ``frozen`` an ``AccountFrozenError``,
``private`` a subclass defined only inside the call (unknown to any other process),
``unbuildable`` an ``AccountError`` subclass whose constructor needs two arguments, and
``boom`` a ``ValueError`` (a plain failure); any other id has a balance. ``hosted_accounts``
is what a host serves; ``local_accounts`` is a fallback that never raises.
"""

from __future__ import annotations

from typing import Protocol

from plugway.plugins import PluginContract, PluginDeclaration, PluginSetup, SecurityContext

ACCOUNTS_TYPE_ID = "gts.x.core.modkit.plugin.v1~x.plugway.test_accounts.plugin.v1.0~"


class AccountError(Exception):
    """The contract's own answers."""


class AccountNotFoundError(AccountError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} not found")
        self.account_id = account_id


class AccountFrozenError(AccountError):
    pass


class UnbuildableAccountError(AccountError):
    def __init__(self, account_id: str, reason: str) -> None:
        super().__init__(f"{account_id}: {reason}")


class AccountsPlugin(Protocol):
    async def balance(self, ctx: SecurityContext, account_id: str) -> int: ...


ACCOUNTS_CONTRACT: PluginContract[AccountsPlugin] = PluginContract(
    AccountsPlugin, type_id=ACCOUNTS_TYPE_ID, name="accounts", passthrough=(AccountError,)
)


class AccountsImpl:
    def __init__(self, balance: int) -> None:
        self._balance = balance

    async def balance(self, ctx: SecurityContext, account_id: str) -> int:
        if account_id == "missing":
            raise AccountNotFoundError(account_id)
        if account_id == "frozen":
            raise AccountFrozenError("account frozen by compliance")
        if account_id == "private":

            class PrivateHoldError(AccountError):
                pass

            raise PrivateHoldError("on hold")
        if account_id == "unbuildable":
            raise UnbuildableAccountError(account_id, "needs two arguments")
        if account_id == "boom":
            raise ValueError("boom")
        return self._balance


def _hosted(setup: PluginSetup) -> AccountsPlugin:
    return AccountsImpl(100)


class SteadyAccounts:
    """The fallback: -1 for every account, never raises."""

    async def balance(self, ctx: SecurityContext, account_id: str) -> int:
        return -1


def _local(setup: PluginSetup) -> AccountsPlugin:
    return SteadyAccounts()


hosted_accounts = PluginDeclaration(
    contract=ACCOUNTS_CONTRACT,
    segment="x.tests.hosted_accounts.plugin.v1",
    vendor="tests",
    priority=10,
    factory=_hosted,
)

local_accounts = PluginDeclaration(
    contract=ACCOUNTS_CONTRACT,
    segment="x.tests.local_accounts.plugin.v1",
    vendor="tests",
    priority=20,
    factory=_local,
)
