"""The ``plugway`` command line: one sub-command group per concern, each in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# Each entry names a module that defines ``register(subparsers)``; the chosen sub-command stores
# its handler in ``args.handler`` and the handler returns the process exit code.
_GROUPS = ("plugway.cli._serve", "plugway.cli._gts", "plugway.cli._plugins", "plugway.cli._fleet")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plugway",
        description="plugway: gateways with typed, routed, hot-swappable plugins over a GTS "
        "registry.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _GROUPS:
        try:
            group = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
