"""The data folder is private to the user who runs plugway: folder 0700, its files 0600.

It holds the admin token and every registered entity, so nobody else on the machine may read it.
``plugway serve`` sets a process umask of 0o077 before anything is created (that covers files
opened by any layer, SQLite's ``-wal``/``-shm`` included, with no per-file code), and
:func:`make_private` fixes a folder and files left wider by an older version.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "make_private", "private_umask"]

_log = logging.getLogger("plugway.server")

PRIVATE_UMASK = 0o077

# The files plugway itself makes in the data folder; others a user put there are left alone.
_OWN_SUFFIXES = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")
_OWN_NAMES = frozenset({"admin-token", ".lock"})


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Create every file and folder without group/other bits while the block runs.

    The umask is process-wide; the previous one comes back on exit, so a caller that runs
    ``serve`` in-process (tests) is left as it was.
    """
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def _is_own(name: str) -> bool:
    return name in _OWN_NAMES or name.endswith(_OWN_SUFFIXES)


def make_private(data_dir: Path) -> None:
    """``chmod 0700`` the folder and drop group/other bits from plugway's files in it.

    Raises ``OSError`` if the folder's mode cannot be changed (not the owner, read-only file
    system): serving with a readable token is not a choice plugway makes silently.
    """
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode != 0o700:
        data_dir.chmod(0o700)
        _log.info("data folder %s: mode %o -> 700", data_dir, mode)
    for entry in os.scandir(data_dir):
        if not _is_own(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
        if mode & 0o077:
            os.chmod(entry.path, mode & ~0o077)
            _log.info("data file %s: mode %o -> %o", entry.path, mode, mode & ~0o077)
