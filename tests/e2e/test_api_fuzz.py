"""Schemathesis against the real servers: every answer is declared in their OpenAPI.

A real ``plugway serve`` (a config with an admin token, a temporary data folder, every shipped
module) and a real ``plugway gts serve`` are fuzzed through their own ``/openapi.json`` by the
``st run`` command, with the admin token on every request. The checks: no 5xx
(``not_a_server_error``), and each answer's status code, media type and body are the ones the
operation declares (``status_code_conformance``, ``content_type_conformance``,
``response_schema_conformance``). Every phase runs (coverage: boundary and invalid values of each
parameter; fuzzing: generated valid and invalid requests; stateful: sequences), positive and
negative data, with a bounded number of examples per operation.

The run is reproducible: a fixed seed unless ``PLUGWAY_FUZZ_SEED`` says otherwise, and
``PLUGWAY_FUZZ_EXAMPLES`` (default 10) sets the examples per operation. A failure prints what
Schemathesis printed: each failing request as a ``curl`` command.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _server_process import ServerFactory

TOKEN = "fuzz-admin-token-0123456789abcdef"
SEED = int(os.environ.get("PLUGWAY_FUZZ_SEED", "20261201"))
EXAMPLES = int(os.environ.get("PLUGWAY_FUZZ_EXAMPLES", "10"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
RUN_TIMEOUT = 240.0
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fuzz(base_url: str, workdir: Path, *, headers: dict[str, str] | None = None) -> None:
    """``st run`` against ``base_url``/openapi.json; fails the test on any failure or error."""
    report_path = workdir / "schemathesis-report.json"
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        # one worker: Python 3.11's AST constructor keeps its recursion depth in shared state,
        # and Hypothesis parsing source in two threads at once fails spuriously (gh-106905)
        "--workers",
        os.environ.get("PLUGWAY_FUZZ_WORKERS", "1"),
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report_path),
        "--no-color",
    ]
    for name, value in (headers or {}).items():
        cmd += ["--header", f"{name}: {value}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLUGWAY", "SCHEMATHESIS"))}
    try:
        proc = subprocess.run(
            cmd,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        pytest.fail(f"schemathesis did not finish in {RUN_TIMEOUT:g} s:\n{out[-20_000:]}")
    output = (proc.stdout + proc.stderr)[-40_000:]
    assert report_path.exists(), f"schemathesis wrote no report (exit {proc.returncode}):\n{output}"
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    operations = report["operations"]
    cases = report["test_cases"]
    print(
        f"schemathesis {report['schemathesis_version']} seed {report['seed']}: "
        f"{operations['tested']}/{operations['total']} operations, "
        f"{cases['generated']} test cases, {cases['unique_failures']} failures, "
        f"{len(report['errors'])} errors in {report['running_time']:.1f} s"
    )
    assert report["failures"] == [] and report["errors"] == [], output
    assert proc.returncode == 0, output
    assert report["complete"], output
    # a run that tests nothing passes nothing: every operation was exercised
    assert operations["total"] > 0 and operations["tested"] == operations["total"], output
    assert cases["generated"] >= operations["total"], output


def test_plugway_serve_answers_only_what_its_openapi_declares(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    srv = server_factory(config={"server": {"admin_token": TOKEN}}).start()
    assert srv.url is not None
    with srv.client() as http:
        spec = http.get("/openapi.json").json()
    # the document fuzzed is the one under test: problem documents, no FastAPI 422
    post = spec["paths"]["/types-registry/v1/entities"]["post"]["responses"]
    assert "422" not in post and "application/problem+json" in post["401"]["content"]
    _fuzz(srv.url, tmp_path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert srv.running, srv.log()


@contextlib.contextmanager
def _gts_server(root: Path) -> Iterator[str]:
    """A ``plugway gts serve`` child on a free loopback port; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "gts-serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGWAY")}
    cmd = [sys.executable, "-m", "plugway", "gts", "serve", "--host", "127.0.0.1"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"plugway gts serve exited with {proc.returncode}:\n" + _read(log_path))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/openapi.json", timeout=2.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("plugway gts serve did not answer:\n" + _read(log_path))
            time.sleep(0.05)
        yield url
        assert proc.poll() is None, "plugway gts serve died:\n" + _read(log_path)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-20_000:]


def test_gts_serve_answers_only_what_its_openapi_declares(tmp_path: Path) -> None:
    with _gts_server(tmp_path) as url:
        _fuzz(url, tmp_path)
