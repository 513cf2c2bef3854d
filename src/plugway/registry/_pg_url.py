"""PostgreSQL connection URLs: parsed once, given safe defaults, shown without their password."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ._errors import RegistryStorageError

# Defaults a URL may override. Keepalives make a vanished server or replica show within about a
# minute rather than the Linux default of two hours (a half-open TCP path gives no error).
CONNECT_DEFAULTS: dict[str, str] = {
    "connect_timeout": "10",
    "application_name": "plugway",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}

_SCHEMES = ("postgresql://", "postgres://")
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (in the user part or a ``password=``
    parameter), for logs and error messages. Never raises."""
    if "://" not in url:  # a key=value connection string
        return _DSN_PASSWORD.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, hosts = netloc.rpartition("@")
            if ":" in user:
                user = user.split(":", 1)[0] + ":***"
            netloc = f"{user}@{hosts}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*-"
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://***"  # unparseable: show nothing that may be secret


def _scrub(text: str, url: str) -> str:
    """A driver message with any password of ``url`` taken out (libpq may quote parts of it)."""
    try:
        secret = conninfo_to_dict(url).get("password")
    except ProgrammingError:
        secret = urlsplit(url).password if url.startswith(_SCHEMES) else None
    if isinstance(secret, str) and secret:
        text = text.replace(secret, "***")
    return text


def connection_string(url: str) -> str:
    """The libpq connection string for ``url`` with :data:`CONNECT_DEFAULTS` filled in.

    Raises :class:`RegistryStorageError` naming the redacted URL when it is not a PostgreSQL
    URL or libpq cannot parse it.
    """
    shown = redact_url(url)
    if not isinstance(url, str) or not url.startswith(_SCHEMES):
        raise RegistryStorageError(
            f"registry URL {shown!r} is not a PostgreSQL URL: expected postgresql://user@host/db"
        )
    try:
        params = conninfo_to_dict(url)
    except ProgrammingError as exc:
        raise RegistryStorageError(
            f"registry URL {shown}: cannot parse it: {_scrub(str(exc), url)}"
        ) from None
    for key, value in CONNECT_DEFAULTS.items():
        params.setdefault(key, value)
    return make_conninfo("", **params)


def scrubbed(exc: BaseException, url: str) -> str:
    """``str(exc)`` without the password of ``url``, on one line."""
    return " ".join(_scrub(str(exc), url).split())
