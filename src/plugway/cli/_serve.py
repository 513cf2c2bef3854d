"""``plugway serve``: run the server (the embedded default when no config file is given)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range 0..65535")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the plugway server",
        description=(
            "Run the plugway server. Without --config it runs the embedded default: a SQLite "
            "registry and an admin token in $PLUGWAY_DATA_DIR (default ./.plugway), all shipped "
            "modules enabled, on 127.0.0.1:8087."
        ),
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="YAML config file")
    parser.add_argument("--host", metavar="H", help="address to listen on (overrides config)")
    parser.add_argument(
        "--port", type=_port, metavar="P", help="port to listen on, 0 for any free one"
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    # the server is imported when it is run: every other command starts without it
    from plugway.modkit import ModkitError
    from plugway.server import ServeError, run_server

    config: Path | None = args.config
    if config is not None and not config.is_file():
        print(f"plugway serve: config file {config}: not found", file=sys.stderr)
        return 2
    try:
        return run_server(config, host=args.host, port=args.port)
    except ModkitError as exc:
        print(f"plugway serve: {exc}", file=sys.stderr)
        return 2
    except ServeError as exc:
        print(f"plugway serve: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
