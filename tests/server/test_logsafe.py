"""Log arguments cannot forge log lines."""

from __future__ import annotations

import io
import logging

from plugway.server._logsafe import EscapeControlChars, escape_controls, install_log_escaping


def test_escape_controls() -> None:
    assert escape_controls("plain text, ünïcode") == "plain text, ünïcode"
    assert escape_controls("a\nb\r\nc\td") == "a\\nb\\r\\nc\\td"
    assert escape_controls("\x1b[31mred\x00\x85\u2028") == "\\x1b[31mred\\x00\\x85\\u2028"


def _logger(stream: io.StringIO) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    install_log_escaping([handler])
    install_log_escaping([handler])  # idempotent
    assert sum(isinstance(f, EscapeControlChars) for f in handler.filters) == 1
    log = logging.getLogger(f"test.logsafe.{id(stream)}")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return log


def test_a_newline_in_an_argument_cannot_start_a_line() -> None:
    out = io.StringIO()
    log = _logger(out)
    forged = "nice\nINFO admin token: stolen"
    log.info("routing applied by %s (%s) at %d, %.1f%%", "admin-api", forged, 3, 12.5)
    log.info("as repr: %r", forged)
    log.info("mapping: %(what)s", {"what": forged})
    log.info("an exception: %s", ValueError("line one\nline two"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert (
        lines[0]
        == "INFO routing applied by admin-api (nice\\nINFO admin token: stolen) at 3, 12.5%"
    )
    assert lines[1] == "INFO as repr: 'nice\\nINFO admin token: stolen'"
    assert lines[2] == "INFO mapping: nice\\nINFO admin token: stolen"
    assert lines[3] == "INFO an exception: line one\\nline two"
