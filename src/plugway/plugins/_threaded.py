"""Run a plugin's calls on a thread and event loop of its own, so its blocking stalls only itself.

``run_in_thread(impl, method_names)`` returns a proxy that a gateway binds like the plugin: each
listed async method runs the plugin's coroutine on a per-plugin loop in a daemon thread
(``run_coroutine_threadsafe``) and awaits it from the caller's loop (``wrap_future``). The
server's loop keeps serving while the plugin sleeps or computes, and the caller's await can be
cancelled, so the gateway's timeout fires.

What it cannot do: stop Python code. A cancelled call is cancelled in the worker at its next
``await``; until then the worker keeps running the abandoned call, and the plugin's later calls
wait behind it on the same thread. Attributes other than the listed methods are the plugin's own.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .errors import PluginContractError, PluginError

__all__ = ["ThreadedPlugin", "run_in_thread"]


async def _invoke(fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: Any) -> Any:
    return await fn(*args, **kwargs)


class ThreadedPlugin:
    """The proxy of one plugin: its listed methods run on its worker loop; ``close()`` ends it.

    Its own names are ``close`` and ``closed`` (and ``_plugway_*``); every other attribute is
    the plugin's, so a contract method may not be called ``close`` or ``closed``.
    """

    def __init__(
        self, impl: object, method_names: Iterable[str], *, name: str | None = None
    ) -> None:
        self._plugway_impl = impl
        self._plugway_name = name or type(impl).__qualname__
        self._plugway_closed = False
        names = list(method_names)
        for method in names:
            fn = getattr(impl, method, None)
            if fn is None or not inspect.iscoroutinefunction(fn):
                raise PluginContractError(
                    self._plugway_name,
                    method,
                    "is not an async method of the plugin: it cannot run in a worker thread",
                )
            self.__dict__[method] = self._proxy(method, fn)
        self._plugway_loop = asyncio.new_event_loop()
        self._plugway_thread = threading.Thread(
            target=self._run, name=f"plugway-plugin:{self._plugway_name}", daemon=True
        )
        self._plugway_thread.start()

    def _proxy(self, method: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @functools.wraps(fn)  # the plugin's signature and annotations, for the contract check
        async def call(*args: Any, **kwargs: Any) -> Any:
            if self._plugway_closed:
                raise PluginError(
                    f"plugin {self._plugway_name!r}: method {method!r} called after close()"
                )
            future = asyncio.run_coroutine_threadsafe(_invoke(fn, args, kwargs), self._plugway_loop)
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._plugway_closed and (task is None or not task.cancelling()):
                    raise PluginError(
                        f"plugin {self._plugway_name!r}: method {method!r} was cancelled "
                        "because its worker thread was closed"
                    ) from None
                raise

        return call

    def _run(self) -> None:
        loop = self._plugway_loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker: calls in flight are cancelled at their next await, new ones refused.

        Waits up to ``timeout`` seconds for the thread (a call stuck in blocking code can
        outlive it; the thread is a daemon and does not keep the process alive).
        """
        if self._plugway_closed:
            return
        self._plugway_closed = True
        try:
            self._plugway_loop.call_soon_threadsafe(self._plugway_loop.stop)
        except RuntimeError:  # the loop is already closed
            return
        if threading.current_thread() is not self._plugway_thread:
            self._plugway_thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._plugway_closed

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_plugway_"):
            raise AttributeError(name)
        return getattr(self._plugway_impl, name)

    def __repr__(self) -> str:
        return f"<{self._plugway_impl!r} in worker thread {self._plugway_name!r}>"


def run_in_thread(
    impl: object, method_names: Iterable[str], *, name: str | None = None
) -> ThreadedPlugin:
    """A proxy of ``impl`` whose ``method_names`` run on a worker thread of their own.

    Pass a contract's ``methods`` to isolate every method of the contract; ``name`` (the plugin
    id, say) names the thread and appears in errors. Call ``close()`` when the plugin leaves.
    """
    return ThreadedPlugin(impl, method_names, name=name)
