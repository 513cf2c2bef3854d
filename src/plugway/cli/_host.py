"""``plugway plugins host REF …``: serve plugins in a process of their own (a plugin host).

Each REF is a ``plugway.plugins`` entry point name or ``module:attribute`` naming a
``PluginDeclaration`` (or a callable returning one). The host listens on 127.0.0.1 (a free port
by default) or a Unix socket, prints ``PLUGWAY-PLUGIN-HOST listening <url> <protocol>`` on stdout
when it accepts calls, and logs to stderr. Calls need the secret: ``--secret-file`` or the
environment variable ``PLUGWAY_PLUGIN_SECRET`` (a supervisor generates one per launch);
``--no-secret`` is for a socket only its owner can reach. With ``--registry URL`` it registers
each plugin instance in that server's Types Registry (token: ``PLUGWAY_TOKEN``) and heartbeats.

Also runnable as ``python -m plugway.cli._host REF …``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from plugway.plugins._host import HostError, PluginHost, load_declaration
from plugway.plugins._spawn import LIFELINE_ENV
from plugway.server._plugin_host import parse_listen, run_host

__all__ = ["SECRET_ENV", "add_arguments", "main", "register"]

SECRET_ENV = "PLUGWAY_PLUGIN_SECRET"
TOKEN_ENV = "PLUGWAY_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "plugins",
        nargs="+",
        metavar="ENTRY_POINT_OR_MODULE:FACTORY",
        help="plugin declarations to serve",
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:0",
        help="HOST:PORT (port 0: a free one) or unix:/path (default %(default)s)",
    )
    parser.add_argument(
        "--secret-file", type=Path, help=f"file holding the secret (or ${SECRET_ENV})"
    )
    parser.add_argument(
        "--no-secret", action="store_true", help="serve without a secret (a private socket only)"
    )
    parser.add_argument("--registry", metavar="URL", help="plugway server to register with")
    parser.add_argument(
        "--heartbeat", type=float, default=5.0, help="seconds between heartbeats (TTL: 3 beats)"
    )
    parser.add_argument(
        "--plugin-config",
        type=Path,
        help="YAML/JSON file: {REF: {config block}} passed to each plugin's factory",
    )
    parser.add_argument("--data-dir", type=Path, help="folder the plugins may keep files in")
    parser.add_argument("--log-level", default="INFO", help="log level on stderr")
    parser.set_defaults(handler=_run)


def register(subparsers: Any) -> None:
    """Add ``host`` to the ``plugins`` sub-commands (``subparsers`` has ``add_parser``)."""
    parser = subparsers.add_parser(
        "host", help="serve plugins out of process (a plugin host), optionally registered"
    )
    add_arguments(parser)


class _Refused(Exception):
    pass


def _secret(args: argparse.Namespace) -> bytes | None:
    if args.no_secret:
        return None
    if args.secret_file is not None:
        try:
            text: str = args.secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _Refused(f"cannot read the secret file: {exc}") from exc
    else:
        text = os.environ.get(SECRET_ENV, "").strip()
    if not text:
        raise _Refused(
            f"no secret: give --secret-file or ${SECRET_ENV} (or --no-secret on a private socket)"
        )
    return text.encode()


def _configs(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from plugway.modkit import ConfigError
    from plugway.modkit._yaml import read_yaml_mapping  # YAML only when a file is given

    try:
        doc = read_yaml_mapping(path)
    except ConfigError as exc:
        raise _Refused(str(exc)) from None
    if not all(isinstance(v, dict) for v in doc.values()):
        raise _Refused(f"{path}: want a mapping of plugin reference to config mapping")
    return doc


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format=f"plugin-host[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    try:
        secret = _secret(args)
        listen = parse_listen(args.listen)
        host = PluginHost(
            [(ref, load_declaration(ref)) for ref in args.plugins],
            configs=_configs(args.plugin_config),
            data_dir=args.data_dir,
        )
    except (_Refused, HostError, ValueError) as exc:
        print(f"plugway plugins host: {exc}", file=sys.stderr)
        return 2
    if args.heartbeat <= 0:
        print("plugway plugins host: --heartbeat must be > 0", file=sys.stderr)
        return 2
    token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV)
    return asyncio.run(
        run_host(
            host,
            listen=listen,
            secret=secret,
            registry_url=args.registry,
            registry_token=token,
            heartbeat_s=args.heartbeat,
            lifeline=0 if os.environ.get(LIFELINE_ENV) == "stdin" else None,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plugway plugins host", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
