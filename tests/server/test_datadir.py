"""The data folder: its exclusive lock and its private permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from plugway.server import ServeError, resolve_settings
from plugway.server._datadir import make_private, private_umask
from plugway.server._datalock import DataFolderInUseError, DataLock


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_second_lock_is_refused_naming_the_folder_and_the_holder(tmp_path: Path) -> None:
    held = DataLock.acquire(tmp_path)
    try:
        with pytest.raises(DataFolderInUseError) as refused:
            DataLock.acquire(tmp_path)  # another open file: flock conflicts even in-process
        assert refused.value.pid == os.getpid()
        assert str(tmp_path) in str(refused.value)
        assert f"pid {os.getpid()}" in str(refused.value)
        assert _mode(tmp_path / ".lock") == 0o600
    finally:
        held.release()
    again = DataLock.acquire(tmp_path)  # released: free again
    again.release()
    again.release()  # idempotent
    assert not again.held


def test_resolve_settings_with_lock_holds_it_and_refuses_with_exit_code_2(tmp_path: Path) -> None:
    env = {"PLUGWAY_DATA_DIR": str(tmp_path / "d")}
    first = resolve_settings(None, env, lock=True)
    try:
        assert first.lock is not None and first.lock.held
        with pytest.raises(ServeError, match="is in use by another plugway serve") as refused:
            resolve_settings(None, env, lock=True)
        assert refused.value.exit_code == 2
    finally:
        assert first.lock is not None
        first.lock.release()
    assert resolve_settings(None, env).lock is None  # unlocked unless asked


def test_make_private_tightens_the_folder_and_plugways_own_files_only(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    for name in ("registry.sqlite3", "registry.sqlite3-wal", "admin-token", "notes.txt"):
        (tmp_path / name).write_text("x")
        (tmp_path / name).chmod(0o644)
    make_private(tmp_path)
    assert _mode(tmp_path) == 0o700
    assert _mode(tmp_path / "registry.sqlite3") == 0o600
    assert _mode(tmp_path / "registry.sqlite3-wal") == 0o600
    assert _mode(tmp_path / "admin-token") == 0o600
    assert _mode(tmp_path / "notes.txt") == 0o644  # not plugway's: left alone


def test_private_umask_creates_private_files_and_restores_the_umask(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        with private_umask():
            (tmp_path / "f").write_text("x")
            (tmp_path / "sub").mkdir()
        (tmp_path / "after").write_text("x")
        assert _mode(tmp_path / "f") == 0o600
        assert _mode(tmp_path / "sub") == 0o700
        assert _mode(tmp_path / "after") == 0o644
    finally:
        os.umask(before)
