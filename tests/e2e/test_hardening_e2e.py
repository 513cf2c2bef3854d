"""Hardening of ``plugway serve`` as real processes over real HTTP and raw sockets: one
process per data folder, private data files, bad input answered 4xx, limits and timeouts,
registration off the event loop, safe defaults."""

from __future__ import annotations

import os
import stat

from _server_process import ServerFactory, run_plugway


def _mode(path: os.PathLike[str] | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- one process per data folder ----------------------------------------------------------------


def test_a_second_server_on_the_same_data_folder_is_refused(server_factory: ServerFactory) -> None:
    first = server_factory().start()
    assert first.proc is not None
    second = run_plugway("serve", "--host", "127.0.0.1", "--port", "0", cwd=first.root, timeout=60)
    assert second.returncode == 2, second.stderr
    assert str(first.data_dir.resolve()) in second.stderr
    assert f"pid {first.proc.pid}" in second.stderr
    # the first one is untouched, still serves and still holds the lock
    with first.client() as http:
        assert http.get("/healthz").status_code == 200
    assert (first.data_dir / ".lock").read_text().strip() == str(first.proc.pid)
    assert first.stop() == 0
    # once it is gone the folder is free again (an orderly stop, then a kill -9)
    first.start()
    first.kill()
    first.start()
    with first.client() as http:
        assert http.get("/healthz").status_code == 200


# -- private data files ---------------------------------------------------------------------------


def test_the_data_folder_and_every_file_in_it_are_private(server_factory: ServerFactory) -> None:
    srv = server_factory()
    # a folder and a token left world-readable by an older version are tightened too
    srv.data_dir.mkdir(mode=0o755)
    os.chmod(srv.data_dir, 0o755)
    token = srv.data_dir / "admin-token"
    token.write_text("an-old-token\n")
    os.chmod(token, 0o644)
    srv.start()
    with srv.client() as http:  # a write, so the registry files certainly exist
        resp = http.post("/types-registry/v1/entities", json=[])
        assert resp.status_code == 200, resp.text
    assert _mode(srv.data_dir) == 0o700
    names = sorted(p.name for p in srv.data_dir.iterdir())
    assert {"admin-token", ".lock", "registry.sqlite3", "plugins-routing.sqlite3"} <= set(names)
    assert any(n.endswith("-wal") for n in names), names
    wide = {p.name: oct(_mode(p)) for p in srv.data_dir.iterdir() if _mode(p) != 0o600}
    assert wide == {}
    assert srv.stop() == 0
