"""Real PostgreSQL for the tests: one database per test run, a fresh schema per test.

The server is ``$PLUGWAY_TEST_POSTGRES_URL`` (default ``postgresql://root@127.0.0.1:5432/postgres``,
the server of the project's machines and of CI). The run creates a database with a random name
there and drops it at the end. When the server cannot be reached the PostgreSQL tests fail under
CI (``CI`` set) and are skipped elsewhere, with a message saying how to get a server.

Fixtures (made available to every test by ``tests/conftest.py``):

- ``postgres_database`` (session): a :class:`PostgresDatabase` — the run's own database;
- ``postgres_url`` (function): a URL whose ``search_path`` is a new, empty schema of that
  database, dropped after the test — what a backend under test should open.

:class:`ThrowawayCluster` starts a private server in a temporary folder (initdb and pg_ctl as
the unprivileged ``postgres`` account when the tests run as root) for tests that must stop and
restart the database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from plugway.registry import redact_url

URL_ENV = "PLUGWAY_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://root@127.0.0.1:5432/postgres"
PG_BIN_ENV = "PLUGWAY_TEST_PG_BIN"  # folder of initdb/pg_ctl for ThrowawayCluster

HOW_TO_GET = (
    "install and start a PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, then "
    "allow your user, e.g. trust authentication on 127.0.0.1), or set "
    f"{URL_ENV}=postgresql://user:password@host:port/database to a server where that user may "
    "create databases"
)


def in_ci() -> bool:
    """CI runs with ``CI=true``: there a test that cannot run must fail, never skip."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Fail (under CI) or skip (elsewhere) the calling test because PostgreSQL is missing."""
    message = f"PostgreSQL is needed for this test and {reason}. To run it, {HOW_TO_GET}."
    if in_ci():
        pytest.fail(message + f" (CI={os.environ.get('CI')!r}: not skipped)", pytrace=False)
    pytest.skip(message)


def with_path(url: str, *, database: str | None = None, schema: str | None = None) -> str:
    """``url`` pointing at another ``database`` and/or with ``search_path`` set to ``schema``."""
    parts = urlsplit(url)
    path = f"/{database}" if database is not None else parts.path
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "options"]
    if schema is not None:
        query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), parts.fragment))


@dataclass(frozen=True)
class PostgresDatabase:
    """A database of this test run: ``url`` connects to it; schemas come and go inside it."""

    admin_url: str  # the server's maintenance database, to create and drop databases
    name: str
    url: str

    def new_schema(self) -> tuple[str, str]:
        """A new empty schema: its name and a URL whose ``search_path`` is that schema."""
        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return name, with_path(self.url, schema=name)

    def drop_schema(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@contextlib.contextmanager
def create_database(server_url: str) -> Iterator[PostgresDatabase]:
    """A database with a random name on the server of ``server_url``, dropped on exit (open
    connections are ended: a test that leaked one cannot keep it alive)."""
    name = f"plugway_test_{secrets.token_hex(6)}"
    ident = sql.Identifier(name)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(ident))
    try:
        yield PostgresDatabase(server_url, name, with_path(server_url, database=name))
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def server_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[PostgresDatabase]:
    url = server_url()
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        detail = " ".join(str(exc).split())
        unavailable(f"the server at {redact_url(url)} cannot be reached ({detail})")
    try:
        with create_database(url) as db:
            yield db
    except psycopg.errors.InsufficientPrivilege as exc:
        unavailable(f"the user of {redact_url(url)} may not create databases ({exc})")


@pytest.fixture
def postgres_url(postgres_database: PostgresDatabase) -> Iterator[str]:
    name, url = postgres_database.new_schema()
    yield url
    postgres_database.drop_schema(name)


# --------------------------------------------------------------------------- a private server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    configured = os.environ.get(PG_BIN_ENV)
    if configured:
        return Path(configured)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "pg_ctl").exists():
            return candidate
    unavailable(f"no pg_ctl was found (PATH, /usr/lib/postgresql/*/bin or {PG_BIN_ENV})")
    raise AssertionError("unreachable")


class ThrowawayCluster:
    """A PostgreSQL server of its own in a temporary folder, on a free loopback port.

    initdb and pg_ctl refuse root, so under root they run as the ``postgres`` account through
    ``runuser`` (the folder is made outside pytest's private 0700 tmp_path and chowned to it).
    ``url`` connects as ``root`` with trust authentication; ``stop()``/``start()`` simulate an
    outage. Use as a context manager; the folder is removed on exit.
    """

    def __init__(self, account: str = "postgres") -> None:
        self.bin = _pg_bin()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="plugway-pg-"))
        self.data = self.root / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", account, "--"]
            shutil.chown(self.root, account)
            self.root.chmod(0o755)
        self.url = f"postgresql://root@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "--no-sync", "-U", "root",
            "-A", "trust", "-E", "UTF8", "--locale", "C",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
            "-w", "-o", options, "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def __enter__(self) -> ThrowawayCluster:
        try:
            self.init()
            self.start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
