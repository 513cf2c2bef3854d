"""One ``plugway serve`` per data folder: an exclusive ``flock`` on ``<data_dir>/.lock``.

Two processes writing the same SQLite files and token would each believe they own the state
(DESIGN.md: the embedded default is one process per data folder, enforced). The lock is taken
before anything in the folder is created or opened and is held for the life of the process; the
kernel drops it when the process dies, even on ``kill -9``, so a stale lock file never blocks a
restart. The file is never deleted: removing it while another process is opening it would let
two processes lock two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from plugway.server._problems import ServerError

__all__ = ["LOCK_FILE", "DataFolderInUseError", "DataLock"]

LOCK_FILE = ".lock"


class DataFolderInUseError(ServerError):
    """Another process holds the data folder's lock; names the folder and that process's pid."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid is not None else "a process whose pid is not recorded yet"
        super().__init__(
            f"data folder {data_dir} is in use by another plugway serve ({holder}); "
            "stop it first, or give this one its own data folder"
        )
        self.data_dir = data_dir
        self.pid = pid


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class DataLock:
    """The held lock of one data folder; :meth:`release` (or process exit) gives it up."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataLock:
        """Lock ``data_dir`` (which must exist) or raise :class:`DataFolderInUseError`.

        The lock file (mode 0600) holds the pid of the process that holds the lock, so the
        refusal can say who it is. ``OSError`` other than "already locked" propagates.
        """
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DataFolderInUseError(data_dir, pid) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.fchmod(fd, 0o600)  # a file left by an older version may be wider
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        return cls(data_dir, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close; the file stays (see the module docstring). Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the only descriptor releases the flock
