"""``plugway serve`` argument handling and the refusals that happen before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugway.cli import main


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml: not found" in capsys.readouterr().err


def test_invalid_config_lists_every_field_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "server: {port: -1}\n"
        "registry: {backend: postgres}\n"
        "modules: {types_registry: {config: {max_page: 0}}}\n"
    )
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "server.port" in err
    assert "registry.backend" in err
    # the module's own config is checked in the same run, not only after the rest is fixed
    assert "modules.types_registry.config.max_page" in err
    assert not (tmp_path / "data" / "registry.sqlite3").exists()


def test_invalid_module_config_is_refused_before_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "modules: {types_registry: {config: {max_page: 0, unknown_knob: 1}}}\n"
    )
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "modules.types_registry.config.max_page" in err
    assert "modules.types_registry.config.unknown_knob" in err
    assert not (tmp_path / "data" / "registry.sqlite3").exists()


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_bad_port_argument(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--port", port])
    assert exc.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_bad_module_config_from_the_environment_names_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLUGWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PLUGWAY__MODULES__TYPES_REGISTRY__CONFIG__MAX_BATCH", "lots")
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "modules.types_registry.config.max_batch" in err
    assert "(set by PLUGWAY__MODULES__TYPES_REGISTRY__CONFIG__MAX_BATCH)" in err
    assert not (tmp_path / "data" / "registry.sqlite3").exists()
