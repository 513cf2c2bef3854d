"""Log lines cannot be forged: control characters in log arguments are escaped.

User text reaches the log as arguments (a routing change's ``?comment=``, ids, header values);
one with a newline would start a line of its own that reads like the server's
(``...\\n2026-01-01 12:00:00 INFO plugway.server: admin token ...``), and an ESC could rewrite a
terminal. :class:`EscapeControlChars` rewrites each argument's text before formatting: ``\\n``
becomes the two characters ``\\`` ``n``, other C0/C1 controls and U+2028/U+2029 become ``\\xNN``
or ``\\uNNNN``. The message template (code, not input) and tracebacks are left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

__all__ = ["EscapeControlChars", "escape_controls", "install_log_escaping"]


def _escape_for(code: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    if code in named:
        return named[code]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_TABLE = {c: _escape_for(c) for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]}


def escape_controls(text: str) -> str:
    """``text`` with every control character spelled as an escape (printable text unchanged)."""
    return text if text.isprintable() else text.translate(_TABLE)


class _Escaped:
    """An argument whose ``%s`` and ``%r`` renderings are escaped; numbers are left alone so
    that ``%d`` and ``%.2f`` still work."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def __str__(self) -> str:
        return escape_controls(str(self._value))

    def __repr__(self) -> str:
        return escape_controls(repr(self._value))


def _wrap(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, _Escaped)):
        return value
    return _Escaped(value)


class EscapeControlChars(logging.Filter):
    """A handler filter that escapes control characters in every record's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not args:
            return True
        if isinstance(args, Mapping):
            record.args = {key: _wrap(value) for key, value in args.items()}
        else:
            record.args = tuple(_wrap(value) for value in args)
        return True


def install_log_escaping(handlers: list[logging.Handler]) -> None:
    """Add the filter to each handler that does not have it yet (idempotent)."""
    for handler in handlers:
        if not any(isinstance(f, EscapeControlChars) for f in handler.filters):
            handler.addFilter(EscapeControlChars())
