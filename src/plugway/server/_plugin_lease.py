"""A plugin host's lease in the Types Registry: register its instances, then heartbeat.

The registry keeps one content per id, so the instance documents (with their ``endpoint`` and
``contract_version``) are the same at every beat and a heartbeat is the same POST again:
``200`` while the registry holds them, ``201`` when it had dropped one (a gateway that let it
expire, an operator's ``plugins remove``) -- which is how a host rejoins. Each result is read
per item: a refusal (another MAJOR, a properties error, a conflict because the registry holds
the id with another endpoint) is logged with the registry's reason, once per change of reason.

The documents say how often the host beats (``endpoint.heartbeat_s``) and how long a gateway
should wait before dropping it (``endpoint.ttl_s``, three beats): two lost beats are tolerated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

__all__ = ["REGISTRY_ENTITIES", "RegistryLease"]

_log = logging.getLogger("plugway.plugins.host")

REGISTRY_ENTITIES = "/types-registry/v1/entities"


class RegistryLease:
    """Registers ``docs`` at ``registry_url`` now and every ``heartbeat_s`` seconds after.

    ``token`` is sent as ``Authorization: Bearer`` (the server's admin token, ``PLUGWAY_TOKEN``).
    ``state`` maps each id to its last outcome (``"registered"``,
    ``"refused: ..."`` or ``"unreachable: ..."``) for the host's health answer and tests.
    """

    def __init__(
        self,
        registry_url: str,
        token: str | None,
        docs: Sequence[Mapping[str, Any]],
        *,
        heartbeat_s: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        if heartbeat_s <= 0:
            raise ValueError("heartbeat_s must be > 0")
        self.url = registry_url.rstrip("/") + REGISTRY_ENTITIES
        self.docs = [dict(d) for d in docs]
        self.heartbeat_s = heartbeat_s
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)
        self._task: asyncio.Task[None] | None = None
        self.state: dict[str, str] = {str(d["id"]): "pending" for d in self.docs}
        self.beats = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="plugin-lease")

    async def _run(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(self.heartbeat_s)

    async def beat(self) -> None:
        """One registration round; never raises (outcomes go to ``state`` and the log)."""
        self.beats += 1
        try:
            response = await self._client.post(self.url, json=self.docs)
        except httpx.HTTPError as exc:
            self._set_all(f"unreachable: {type(exc).__name__}: {exc}")
            return
        if response.status_code not in (200, 201, 207):
            self._set_all(f"refused: {response.status_code} {_problem_text(response)}")
            return
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            self._set_all(f"refused: {response.status_code} answer without results")
            return
        for doc, result in zip(self.docs, results, strict=False):
            if result.get("ok"):
                outcome = "registered"
                if result.get("created") and self.beats > 1:
                    _log.info("registry: %s registered again (it had been dropped)", doc["id"])
            else:
                outcome = f"refused: {result.get('code')}: {result.get('error')}"
            self._set(str(doc["id"]), outcome)

    def _set_all(self, outcome: str) -> None:
        for plugin_id in self.state:
            self._set(plugin_id, outcome)

    def _set(self, plugin_id: str, outcome: str) -> None:
        before = self.state.get(plugin_id)
        self.state[plugin_id] = outcome
        if outcome == before:
            return
        if outcome == "registered":
            _log.info("registry: %s registered at %s", plugin_id, self.url)
        else:
            _log.error("registry: %s not registered: %s", plugin_id, outcome)

    async def stop(self) -> None:
        """Stop beating. The instances stay registered: gateways drop them after ``ttl_s``."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()


def _problem_text(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(doc, dict):
        return str(doc.get("detail") or doc.get("title") or doc)[:200]
    return str(doc)[:200]
