"""``plugway serve``: the runtime and uvicorn in one event loop, with an orderly stop.

Start-up: bind the port first (a busy port fails before the database is touched), start the
modules, then serve HTTP. On SIGINT/SIGTERM: stop accepting and finish in-flight requests, then
stop the modules in reverse order, which closes the registry's database. uvicorn's own signal
capture is switched off: it would re-raise the signal after HTTP shutdown and kill the process
before the modules are stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import yaml

from plugway.modkit import (
    DATA_DIR_ENV,
    ENV_PREFIX,
    ConfigError,
    ConfigProblem,
    ModkitError,
    PlugwaySettings,
    Runtime,
    load_settings,
    parse_settings,
)
from plugway.plugins._supervisor import ServerAddress
from plugway.server._app import create_app
from plugway.server._auth import host_credentials
from plugway.server._datadir import make_private, private_umask
from plugway.server._datalock import DataFolderInUseError, DataLock
from plugway.server._hosts import allowed_hosts
from plugway.server._logsafe import install_log_escaping
from plugway.server._problems import ServerError
from plugway.server._protocol import PlugwayConfig, PlugwayH11Protocol

__all__ = [
    "ADMIN_TOKEN_FILE",
    "DATA_DIR_ENV",
    "ServeError",
    "load_or_create_token",
    "resolve_settings",
    "run_server",
    "serve",
]

_log = logging.getLogger("plugway.server")

ADMIN_TOKEN_FILE = "admin-token"
# Seconds uvicorn waits for in-flight requests after a stop signal before cancelling them.
_HTTP_GRACE_SECONDS = 10


class ServeError(ServerError):
    """The server cannot start: the port is taken, the data folder or token file is unusable.

    ``exit_code`` is what ``plugway serve`` exits with: 2 when the operator must change
    something first (the data folder is in use), 1 otherwise.
    """

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class _Prepared:
    settings: PlugwaySettings
    embedded: bool
    token_file: Path | None
    token_created: bool = False
    """True on the start that generated the token: the only time the log shows it."""
    lock: DataLock | None = None


def _ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(path)
    except OSError as exc:
        raise ServeError(f"data folder {path}: cannot create it or make it private: {exc}") from exc
    return path.resolve()


def _lock(data_dir: Path) -> DataLock:
    try:
        return DataLock.acquire(data_dir)
    except DataFolderInUseError as exc:
        raise ServeError(str(exc), exit_code=2) from exc
    except OSError as exc:
        raise ServeError(f"data folder {data_dir}: cannot lock it: {exc}") from exc


def load_or_create_token(data_dir: Path) -> str:
    """The admin token kept in ``<data_dir>/admin-token``; created (mode 0600) on first use so
    that restarts keep the same token."""
    return _load_or_create_token(data_dir)[0]


def _load_or_create_token(data_dir: Path) -> tuple[str, bool]:
    """The token and whether this call generated it."""
    path = data_dir / ADMIN_TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise ServeError(f"admin token file {path}: cannot read it: {exc}") from exc
    if token:
        return token, False
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise ServeError(f"admin token file {path}: cannot write it: {exc}") from exc
    return token, True


def resolve_settings(
    config_path: Path | None,
    env: Mapping[str, str],
    *,
    host: str | None = None,
    port: int | None = None,
    lock: bool = False,
) -> _Prepared:
    """Validated settings for ``serve``: the config file, or the embedded default without one.

    The embedded default keeps everything under ``$PLUGWAY_DATA_DIR`` (default ``./.plugway``):
    the SQLite registry and a generated admin token. The data folder is created private (0700).
    With ``lock`` the folder's lock is taken before the token is read or made, and handed over
    in the result (release it when done). Raises ``ModkitError`` (a ``ConfigError`` naming each
    bad field path) or :class:`ServeError` (exit code 2 when another process holds the lock).
    """
    settings = load_settings(config_path, env)
    embedded = config_path is None
    data_dir = _ensure_dir(Path(settings.data_dir))
    held = _lock(data_dir) if lock else None
    try:
        updates: dict[str, object] = {"data_dir": data_dir}
        server_updates: dict[str, object] = {}
        token_file: Path | None = None
        created = False
        if embedded and not settings.server.admin_token:
            server_updates["admin_token"], created = _load_or_create_token(data_dir)
            token_file = data_dir / ADMIN_TOKEN_FILE
        if host is not None:
            server_updates["host"] = host
        if port is not None:
            server_updates["port"] = port
        if server_updates:
            updates["server"] = settings.server.model_copy(update=server_updates)
    except BaseException:
        if held is not None:
            held.release()
        raise
    return _Prepared(settings.model_copy(update=updates), embedded, token_file, created, held)


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc}") from exc
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its signal capture; :func:`serve` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def serve(prepared: _Prepared, runtime: Runtime) -> int:
    """Run until a stop signal; return the process exit code (0 after an orderly stop)."""
    settings = prepared.settings
    sock = _bind(settings.server.host, settings.server.port)
    url = _url(sock)
    runtime.hub.register(ServerAddress, ServerAddress(url))  # for supervised plugin hosts
    host_credentials(runtime.hub)  # before the modules start: their hosts' tokens come from it
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    server: _Server | None = None

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            _log.warning("received %s again: forcing HTTP shutdown", name)
            if server is not None:
                server.force_exit = True
            return
        _log.info("received %s: stopping", name)
        stop.set()
        if server is not None:
            server.should_exit = True

    installed: list[int] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, int(sig))
            installed.append(int(sig))

    data_dir = Path(settings.data_dir)
    _log.info("data folder: %s", data_dir)
    if prepared.embedded:
        _log.info("no config file: embedded default (SQLite registry, all shipped modules)")
    _log_access(prepared, url)
    hosts = allowed_hosts(settings.server.allowed_hosts, settings.server.host)
    if "*" in hosts:
        _log.warning("server.allowed_hosts is '*': requests for any Host name are served")
    elif settings.server.allowed_hosts is None and settings.server.host not in hosts:
        _log.warning(
            "listening on %s, but only requests for %s are served: set server.allowed_hosts to"
            " the names clients use",
            settings.server.host,
            ", ".join(hosts),
        )

    exit_code = 0
    try:
        if await _start(runtime, stop):
            app = create_app(runtime, allowed_hosts=hosts)
            limits = settings.server
            config = PlugwayConfig(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=_HTTP_GRACE_SECONDS,
                http=PlugwayH11Protocol,
                h11_max_incomplete_event_size=limits.max_header_bytes,
                limit_concurrency=limits.max_connections,
                timeout_keep_alive=limits.keep_alive_timeout,
                header_timeout=limits.header_timeout,
            )
            server = _Server(config)
            _log.info("serving on %s (OpenAPI docs at %s/docs)", url, url)
            await server.serve(sockets=[sock])
            _log.info("HTTP server stopped")
        elif runtime.state == "failed" and not stop.is_set():
            exit_code = 1
    finally:
        sock.close()
        _log.info("stopping modules")
        try:
            outcomes = await runtime.stop()
        except ModkitError as exc:
            _log.error("stop failed: %s", exc)
            exit_code = 1
        else:
            unclean = [o.module for o in outcomes if not o.ok]
            if unclean:
                _log.error("modules that did not stop cleanly: %s", ", ".join(unclean))
                exit_code = 1
        for signum in installed:
            loop.remove_signal_handler(signum)
    _log.info("plugway stopped (exit code %d)", exit_code)
    return exit_code


def _log_access(prepared: _Prepared, url: str) -> None:
    """Who may change state, said at every start; the token itself only when it is created."""
    server = prepared.settings.server
    if prepared.token_file is not None and prepared.token_created:
        _log.info(
            "admin token created (kept in %s, shown only this once): %s",
            prepared.token_file,
            server.admin_token,
        )
    elif prepared.token_file is not None:
        _log.info("admin token: in %s (read it from there)", prepared.token_file)
    if server.admin_token:
        if server.allow_unauthenticated_writes:
            _log.info("server.allow_unauthenticated_writes is ignored: an admin token is set")
        return
    if server.allow_unauthenticated_writes:
        _log.warning(
            "NO ADMIN TOKEN and server.allow_unauthenticated_writes is true: anyone who can"
            " reach %s can change state (register entities, change routing)",
            url,
        )
    else:
        _log.warning(
            "no admin token configured (server.admin_token): every route that changes state"
            " answers 403 until one is set (or server.allow_unauthenticated_writes: true)"
        )


async def _start(runtime: Runtime, stop: asyncio.Event) -> bool:
    """Start the modules; a stop signal meanwhile cancels start-up (the runtime then stops
    the modules it had initialised). True if everything runs and no stop was asked for."""
    starting = asyncio.create_task(runtime.start(), name="plugway-start")
    stopping = asyncio.create_task(stop.wait(), name="plugway-stop-wait")
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not starting.done():
        _log.info("stop requested during start-up: cancelling it")
        starting.cancel()
        await asyncio.wait({starting})
    if starting.cancelled():
        return False
    exc = starting.exception()
    if exc is None:
        return not stop.is_set()
    if isinstance(exc, ConfigError):
        raise exc  # found at start (an unreachable registry.url): exit code 2, as at load
    if isinstance(exc, ModkitError):
        _log.error("start-up failed: %s", exc)
        return False
    raise exc


def _log_level(env: Mapping[str, str]) -> int:
    name = env.get("PLUGWAY_LOG_LEVEL", "INFO").strip().upper()
    level = logging.getLevelNamesMapping().get(name)
    if level is None:
        raise ServeError(
            f"PLUGWAY_LOG_LEVEL={name!r} is not a log level (DEBUG, INFO, WARNING, ERROR)"
        )
    return level


def _configure_logging(level: int) -> None:
    """A stderr handler unless one is set up; on every root handler, control characters in log
    arguments are escaped (user text cannot forge log lines)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    install_log_escaping(root.handlers)
    root.setLevel(level)


def _module_config_problems(
    config_path: Path | None, env: Mapping[str, str], known: tuple[ConfigProblem, ...]
) -> list[ConfigProblem]:
    """The modules' own config problems, checked with the core settings left at defaults.

    Module configs are validated by the modules' models, which need valid settings to run;
    without this second look, a file with a bad ``server.port`` and a bad module key would
    report the module key only on the next run. Best effort: anything unreadable was reported.
    """
    modules: object = {}
    if config_path is not None:
        try:
            raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return []
        modules = raw.get("modules") if isinstance(raw, dict) else None
    module_env = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX + "MODULES__")}
    try:
        settings = parse_settings(
            {"modules": modules or {}, "registry": {"backend": "memory"}}, env=module_env
        )
        Runtime(settings)
    except ConfigError as exc:
        seen = {p.path for p in known}
        return [p for p in exc.problems if p.path.startswith("modules.") and p.path not in seen]
    except ModkitError:
        return []
    return []


def run_server(
    config_path: Path | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Blocking entry point of ``plugway serve``; returns the exit code.

    Raises ``ModkitError`` (invalid config) and :class:`ServeError` before anything starts, so
    the command line can print them and exit non-zero.
    """
    environ = os.environ if env is None else env
    level = _log_level(environ)
    # Everything this process creates from here on (data folder, SQLite files and their
    # -wal/-shm, token, lock, whatever a module opens) is private to the user.
    with private_umask():
        try:
            prepared = resolve_settings(config_path, environ, host=host, port=port, lock=True)
        except ConfigError as exc:
            more = _module_config_problems(config_path, environ, exc.problems)
            raise ConfigError([*exc.problems, *more], exc.source) from None
        assert prepared.lock is not None
        try:
            # Constructing the runtime validates every module's config before anything opens.
            runtime = Runtime(prepared.settings)
            _configure_logging(level)
            return asyncio.run(serve(prepared, runtime))
        finally:
            prepared.lock.release()
