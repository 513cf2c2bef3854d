"""The routing history of a gateway: who writes it, and how the config file's routing meets it.

A gateway's routing changes from three sides: the config file (at start-up and when edited),
the admin API, and plugins joining or leaving. All of them are revisions in one store. The config
file must win only when *it* changed: a restart with the file as it was keeps the latest revision
(an admin's change survives), a file edited while the server was down is applied. The store
remembers what the file said when last read, so this holds however long the history is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._gateway import Gateway
from ._pg_revisions import PostgresRevisionStore
from ._revisions import RevisionStore, RoutingRevision, SqliteRevisionStore
from .errors import RoutingConfigError, RoutingProblem
from .routing import Router, parse_routing

__all__ = [
    "ADMIN_WHO",
    "CONFIG_FILE_WHO",
    "CONFIG_WHO",
    "REGISTRY_WHO",
    "RoutingHistory",
    "open_revision_store",
]

_log = logging.getLogger("plugway.plugins.history")

CONFIG_WHO = "config"
"""The first revision of a gateway: the routing of the config file (or the module's default)."""
CONFIG_FILE_WHO = "config-file"
"""A later revision from the config file: edited while serving, or while the server was down."""
ADMIN_WHO = "admin-api"
"""A revision made through the admin API (or the CLI, which uses it)."""
REGISTRY_WHO = "registry"
"""A plugin joined or left: the same routing document under a new number."""

_FROM_CONFIG = (CONFIG_WHO, CONFIG_FILE_WHO)


def open_revision_store(path: Path, data_dir: Path, *, url: str | None = None) -> RevisionStore:
    """The PostgreSQL store of a fleet at ``url`` (the registry's database, when it is
    PostgreSQL: the database is then the source of truth), else the SQLite store at ``path``
    (relative paths are under ``data_dir``)."""
    if url is not None:
        return PostgresRevisionStore(url)
    return SqliteRevisionStore(path if path.is_absolute() else data_dir / path)


def _normal(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A routing document in canonical form, so that two spellings of one routing compare equal."""
    return parse_routing(doc).document()


class RoutingHistory:
    """The revisions of one gateway as its module reads and writes them."""

    def __init__(self, gateway: Gateway[Any], store: RevisionStore) -> None:
        self._gateway = gateway
        self._store = store

    @property
    def name(self) -> str:
        return self._gateway.name

    def reconcile(self, config_routing: Mapping[str, Any]) -> RoutingRevision | None:
        """At start-up: apply the config file's routing if it changed since it was last read.

        Returns the new revision, or None when the latest revision keeps serving. Raises
        RoutingConfigError (with paths) when the changed routing is invalid.
        """
        wanted = _normal(config_routing)
        if isinstance(self._store, PostgresRevisionStore):
            return self._apply_shared(wanted, what="config changed while stopped")
        seen = self._store.config_routing(self.name)
        if seen is None:
            # Nothing remembered yet (a history written before the store remembered): the
            # newest revision the config file wrote stands for what it said.
            last = self._store.latest(self.name, who=_FROM_CONFIG)
            seen = None if last is None else last.routing
        if seen is not None and _normal(seen) == wanted:
            self._store.remember_config_routing(self.name, wanted)
            return None
        return self.apply_config(wanted, what="config changed while stopped")

    def apply_config(self, doc: Mapping[str, Any], *, what: str) -> RoutingRevision | None:
        """Apply a routing the config file states now; None when it is already serving.

        The file's routing is remembered only once it has been applied (a refused one is tried
        again at the next start, where it fails the start with its paths).
        """
        if isinstance(self._store, PostgresRevisionStore):
            return self._apply_shared(_normal(doc), what=what)
        before = self._gateway.revision
        revision = self._gateway.apply_routing(doc, who=CONFIG_FILE_WHO, what=what)
        self._store.remember_config_routing(self.name, _normal(doc))
        return None if revision.number == before else revision

    def _apply_shared(self, wanted: Mapping[str, Any], *, what: str) -> RoutingRevision | None:
        """The config file's routing for a fleet: checked here against the plugins this replica
        has, then recorded and (only by the replica whose write changes the fleet's record)
        appended in one transaction; every replica then serves the store's latest revision."""
        assert isinstance(self._store, PostgresRevisionStore)
        gw = self._gateway
        try:
            Router.compile(parse_routing(wanted), gw.plugins, gateway=self.name, strict=True)
        except RoutingConfigError as exc:
            raise RoutingConfigError(exc.problems, gateway=self.name) from None
        revision = self._store.apply_config_routing(
            self.name, wanted, who=CONFIG_FILE_WHO, what=what, config_writers=_FROM_CONFIG
        )
        self.catch_up()
        return revision

    def catch_up(self) -> bool:
        """Serve the store's latest revision if it is newer than the one serving (written by
        another replica); True when the gateway swapped."""
        latest = self._store.latest(self.name)
        return latest is not None and self._gateway.follow(latest)

    def undo_target(self) -> int:
        """The revision a bare rollback restores: the routing before the last routing change.

        Revisions recorded because a plugin joined or left (``who: registry``) are not routing
        changes, so they are skipped; undoing twice undoes the undo.
        """
        changes = self._store.list(self.name, limit=2, exclude_who=(REGISTRY_WHO,))
        if len(changes) < 2:
            raise RoutingConfigError(
                [RoutingProblem("revision", "there is no earlier routing change to undo")],
                gateway=self.name,
            )
        return changes[1].number

    def rollback(self, number: int | None, *, who: str) -> tuple[int, RoutingRevision]:
        """Make revision ``number`` (default: :meth:`undo_target`) current again, as a new one.

        Returns the number restored and the revision now serving.
        """
        target = self.undo_target() if number is None else number
        revision = self._gateway.rollback(target, who=who)
        _log.info(
            "gateway %s: rolled back to revision %d (now revision %d) by %s",
            self.name,
            target,
            revision.number,
            who,
        )
        return target, revision
