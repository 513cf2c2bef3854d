"""`plugway gts ...`: human output, --json output and exit codes, on real files and folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plugway.cli import main

DRAFT7 = "http://json-schema.org/draft-07/schema#"
BASE = "gts.x.cli.events.event.v1~"
V10 = BASE + "x.cli.orders.placed.v1.0~"
V11 = BASE + "x.cli.orders.placed.v1.1~"
GOOD = V10 + "x.cli._.good.v1"
BAD = V10 + "x.cli._.bad.v1"


def _placed(type_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "$id": f"gts://{type_id}",
        "$schema": DRAFT7,
        "type": "object",
        "allOf": [
            {"$ref": f"gts://{BASE}"},
            {
                "properties": {
                    "payload": {
                        "type": "object",
                        "required": ["total"],
                        "properties": {"total": {"type": "number"}, **extra},
                    }
                }
            },
        ],
    }


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A folder with JSON and YAML documents, one of them an invalid instance."""
    (tmp_path / "types").mkdir()
    (tmp_path / "types" / "base.json").write_text(
        json.dumps({"$id": f"gts://{BASE}", "$schema": DRAFT7, "type": "object"})
    )
    (tmp_path / "types" / "placed.json").write_text(
        json.dumps([_placed(V10, {}), _placed(V11, {"channel": {"default": "web"}})])
    )
    (tmp_path / "good.yaml").write_text(
        f"id: {GOOD}\nstatus: active\npayload:\n  total: 3\n  items: [{{sku: a1}}]\n"
    )
    (tmp_path / "notes.txt").write_text("not a document")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["gts", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate-id", V10, "gts.x.cli.*")
    assert code == 0 and f"{V10}: valid" in out and "valid pattern" in out
    code, out, _ = run(capsys, "validate-id", "--json", V10, "gts.x.Cli.a.b.v1~")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and [r["valid"] for r in data["results"]] == [True, False]
    assert "Invalid GTS identifier" in data["results"][1]["error"]


def test_parse_id_and_uuid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "parse-id", "--json", GOOD)
    data = json.loads(out)["results"][0]
    assert code == 0 and data["is_type"] is False
    assert [s["type"] for s in data["segments"]] == ["event", "placed", "good"]
    code, out, _ = run(capsys, "parse-id", V10)
    assert code == 0 and "version=v1.0 (type)" in out
    code, out, _ = run(capsys, "uuid", "gts.x.test5.events.type.v1~")
    assert code == 0 and "de567dcc-10ef-597d-8f82-3c999ed9b979" in out
    code, _, _ = run(capsys, "uuid", "nope")
    assert code == 1


def test_match(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "match", BASE + "*", GOOD)
    assert code == 0 and "match" in out
    code, out, _ = run(capsys, "match", "--json", "gts.x.cli.events.event.v2~*", GOOD)
    assert code == 1
    assert json.loads(out)["results"] == [{"candidate": GOOD, "match": False, "error": ""}]
    # An invalid candidate is reported as such, not as a mere "no match".
    code, out, _ = run(capsys, "match", BASE + "*", BASE + "x.a*")
    assert code == 1 and "INVALID: Invalid GTS pattern" in out
    code, out, _ = run(capsys, "match", BASE + "*", "gts.x.cli.events.event.v1")
    assert code == 1 and "INVALID: Invalid GTS identifier" in out and "single-segment" in out
    code, _, err = run(capsys, "match", "gts.vendor*", GOOD)
    assert code == 1 and "Invalid GTS pattern" in err


def test_extract_reads_files_and_folders(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "extract", "--json", str(world))
    data = json.loads(out)
    assert code == 0
    assert {d["id"] for d in data} == {BASE, V10, V11, GOOD}
    assert next(d for d in data if d["id"] == GOOD)["type_id"] == V10


def test_validate_folder_reports_each_entity(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "validate", str(world))
    assert code == 0 and "4 valid, 0 invalid" in out
    (world / "bad.json").write_text(json.dumps({"id": BAD, "payload": {"total": "x"}}))
    code, out, _ = run(capsys, "validate", str(world))
    assert code == 1 and f"{BAD}: FAILED (instance)" in out and "1 invalid" in out
    code, out, _ = run(capsys, "validate", "--json", str(world / "bad.json"))
    assert code == 1 and json.loads(out)["invalid"] == 1
    # A file that does not parse is one failed result; the other files are still validated.
    (world / "broken.yml").write_text("a: [1, 2")
    code, out, _ = run(capsys, "validate", str(world))
    assert code == 1 and "broken.yml: FAILED (document)" in out and "2 invalid" in out
    assert f"{GOOD}: ok (instance)" in out
    code, _, err = run(capsys, "validate", str(world / "missing"))
    assert code == 1 and "no such file" in err


def test_folder_without_documents_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("not a document")
    code, _, err = run(capsys, "validate", str(tmp_path))
    assert code == 1 and "no .json/.yaml/.yml files" in err


def test_skipped_documents_are_named(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (world / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    code, out, err = run(capsys, "query", "gts.x.cli.*[status=active]", str(world))
    assert code == 0 and out.split() == [GOOD]
    assert "skipped" in err and "deep.json" in err and "nested too deeply" in err


def test_help_is_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["gts", "--help"])
    text = capsys.readouterr().out
    assert "--json" in text and ".yaml" in text
    assert "Why here" not in text and "I/O" not in text


def test_long_id_is_shortened_in_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    long_id = "gts." + "a" * 10_000
    code, out, _ = run(capsys, "validate-id", long_id)
    assert code == 1 and "10004 characters long" in out and len(out) < 500


def test_compat_and_cast(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compat", V10, V11, str(world))
    assert code == 0 and "full:     yes" in out
    code, out, _ = run(
        capsys, "compat", "--json", V10, BASE + "x.cli.orders.placed.v1.7~", str(world)
    )
    assert code == 1 and "not registered" in json.loads(out)["error"]
    code, out, _ = run(capsys, "cast", GOOD, V11, str(world))
    assert code == 0 and json.loads(out)["payload"]["channel"] == "web"
    code, out, _ = run(capsys, "cast", "--json", GOOD, V11, str(world))
    assert json.loads(out)["added_properties"] == ["payload.channel"]
    code, _, err = run(capsys, "cast", V10, V11, str(world))
    assert code == 1 and "must be an instance" in err


def test_query_attr_resolve(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "query", "gts.x.cli.*[status=active]", str(world))
    assert code == 0 and out.split() == [GOOD]
    code, _, err = run(capsys, "query", "gts.x.cli", str(world))
    assert code == 1 and "Invalid query" in err
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "query", "--limit", "0", "gts.x.cli.*", str(world))
    assert exit_info.value.code == 2 and "limit 0 must be at least 1" in capsys.readouterr().err
    code, out, _ = run(capsys, "attr", GOOD + "@payload.items[0].sku", str(world))
    assert code == 0 and out.strip() == '"a1"'
    code, _, err = run(capsys, "attr", GOOD + "@payload.none", str(world))
    assert code == 1 and f"{GOOD}@payload.none:" in err
    code, out, _ = run(capsys, "get", GOOD, str(world))
    assert code == 0 and json.loads(out)["payload"]["total"] == 3
    code, out, _ = run(capsys, "get", "--yaml", GOOD, str(world))
    assert code == 0 and "status: active" in out and "total: 3" in out
    code, _, err = run(capsys, "get", GOOD + "x", str(world))
    assert code == 1 and "not among" in err
    code, out, _ = run(capsys, "resolve", GOOD, str(world))
    assert code == 0 and f"-[type $]-> {V10}" in out
    (world / "orphan.json").write_text(json.dumps({"id": "gts.x.cli.ghost.t.v1~x.a._.b.v1"}))
    code, out, _ = run(capsys, "resolve", "--json", "gts.x.cli.ghost.t.v1~x.a._.b.v1", str(world))
    assert code == 1 and json.loads(out)["broken_references"] == ["gts.x.cli.ghost.t.v1~"]


def test_console_script_exit_code() -> None:
    exe = Path(sys.executable).with_name("plugway")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "plugway"]
    ok = subprocess.run([*cmd, "gts", "validate-id", V10], capture_output=True, text=True)
    assert ok.returncode == 0 and "valid" in ok.stdout
    bad = subprocess.run([*cmd, "gts", "validate-id", "gts.bad"], capture_output=True, text=True)
    assert bad.returncode == 1 and "INVALID" in bad.stdout
