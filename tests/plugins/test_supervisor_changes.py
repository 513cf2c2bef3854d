"""Hosts added to and removed from a running supervisor (a rescan), from another thread."""

from __future__ import annotations

import asyncio

import pytest

from plugway.plugins._settings import HostSettings
from plugway.plugins._supervisor import Supervisor


def _supervisor() -> Supervisor:
    # no server address yet: hosts are listed as starting and nothing is launched
    return Supervisor(
        [], on_ready=lambda url, secret, host: None, credentials=None, address=lambda: None
    )


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_host_added_from_another_thread_is_supervised_once_and_removed() -> None:
    sup = _supervisor()
    sup.start()
    host = HostSettings(name="ranker", entry_point=["ranker"])
    await asyncio.to_thread(sup.add, host, {"ranker": {"k": 1}})
    await asyncio.to_thread(sup.add, host)  # a second rescan's answer: still one host
    await _settle()
    assert [(s.name, s.state) for s in sup.status()] == [("ranker", "starting")]
    await asyncio.to_thread(sup.remove, "ranker")
    await _settle()
    assert sup.status() == []
    await sup.stop()


def test_a_supervisor_that_has_not_started_refuses_changes() -> None:
    with pytest.raises(RuntimeError, match="has not started"):
        _supervisor().add(HostSettings(name="x", entry_point=["x"]))
