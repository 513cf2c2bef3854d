"""The README's GTS examples run as written: the Python snippet and the CLI over examples/gts."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLUGWAY = [sys.executable, "-m", "plugway"]


def _gts_python_snippet() -> str:
    section = README[README.index("## GTS: the library") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the GTS section of README.md has no Python example"
    return match.group(1)


def test_the_gts_python_example_prints_what_its_comments_say() -> None:
    out = io.StringIO()
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(_gts_python_snippet(), "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    lines = out.getvalue().splitlines()
    assert lines[0] == "gts.x.shop.orders.order.v1.0~"
    assert lines[2] == "True"
    assert "invalid at status" in lines[3]


def test_the_example_set_validates_and_a_bad_id_fails_the_command() -> None:
    ok = subprocess.run(
        [*PLUGWAY, "gts", "validate", "examples/gts"], cwd=ROOT, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "4 valid, 0 invalid" in ok.stdout
    bad = subprocess.run(
        [*PLUGWAY, "gts", "validate-id", "gts.x.shop.*", "gts.x.shop.order.v1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "gts.x.shop.order.v1" in bad.stdout + bad.stderr


def test_every_gts_command_in_the_readme_runs() -> None:
    section = README[README.index("The command line works on files") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [
        line.split("#")[0].split()
        for line in block.group(1).splitlines()
        if line.startswith("plugway gts") and "serve" not in line
    ]
    assert len(commands) >= 10
    for argv in commands:
        args = [a.strip("'") for a in argv[1:]]
        run = subprocess.run([*PLUGWAY, *args], cwd=ROOT, capture_output=True, text=True)
        expected = 1 if "gts.x.shop.order.v1" in args else 0
        assert run.returncode == expected, (argv, run.stdout, run.stderr)
