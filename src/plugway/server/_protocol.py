"""uvicorn's h11 protocol, with problem documents for what it refuses below the application.

uvicorn answers a request h11 cannot parse (a malformed request line, a header block beyond
``h11_max_incomplete_event_size``) with a plain-text ``400 Invalid HTTP request received.``;
clients of plugway get an RFC 9457 problem document for every error, and ``431`` when it is the
size of the headers. The protocol class is handed to ``uvicorn.Config(http=...)``.
"""

from __future__ import annotations

import http
import json
from collections.abc import Sequence

from uvicorn.protocols.http.h11_impl import H11Protocol

from plugway.server._problems import PROBLEM_CONTENT_TYPE, ProblemCode, ProblemError

__all__ = ["PlugwayH11Protocol", "raw_problem"]

# h11's own default for the largest incomplete event (the header block being received).
_H11_DEFAULT_MAX_EVENT = 16 * 1024


def raw_problem(
    status: int, code: str, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> bytes:
    """A complete ``HTTP/1.1`` response carrying a problem document, ending the connection.

    For answers given before (or instead of) an ASGI request cycle, where there is no app to
    render them.
    """
    body = json.dumps(ProblemError(status, code, detail).to_dict(), separators=(",", ":"))
    data = body.encode("ascii")
    lines = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        f"content-type: {PROBLEM_CONTENT_TYPE}",
        f"content-length: {len(data)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + data


class PlugwayH11Protocol(H11Protocol):
    """One HTTP/1.1 connection: uvicorn's, with problem documents for unparseable requests."""

    @property
    def _max_header_bytes(self) -> int:
        size = self.config.h11_max_incomplete_event_size
        return _H11_DEFAULT_MAX_EVENT if size is None else size

    def send_400_response(self, msg: str) -> None:
        """h11 refused the bytes received (uvicorn has logged it): say why, then close."""
        if len(self.conn.trailing_data[0]) > self._max_header_bytes:
            data = raw_problem(
                431,
                ProblemCode.REQUEST_HEADERS_TOO_LARGE,
                f"the request line and headers exceed {self._max_header_bytes} bytes",
            )
        else:
            data = raw_problem(
                400,
                ProblemCode.REQUEST_MALFORMED,
                "the request is not valid HTTP/1.1 (request line or header fields malformed)",
            )
        self.transport.write(data)
        self.transport.close()
