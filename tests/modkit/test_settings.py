"""Settings: defaults, the YAML file, env overrides, and errors that carry their paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugway.modkit import ConfigError, ModkitError, PlugwaySettings, load_settings, parse_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plugway.yaml"
    path.write_text(text)
    return path


def paths(exc: ConfigError) -> list[str]:
    return [p.path for p in exc.problems]


def test_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, env={})
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8087
    assert settings.server.admin_token is None
    assert settings.data_dir == tmp_path / ".plugway"
    assert settings.registry.backend == "sqlite"
    assert settings.registry_path == tmp_path / ".plugway" / "registry.sqlite3"
    assert settings.modules == {}
    assert settings.module("anything").enabled is True
    assert settings.module("anything").config == {}
    assert settings.plugins == {}


def test_data_dir_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(None, env={"PLUGWAY_DATA_DIR": str(tmp_path / "d")})
    assert settings.data_dir == tmp_path / "d"
    assert settings.registry_path == tmp_path / "d" / "registry.sqlite3"


def test_relative_data_dir_is_made_absolute_against_the_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(write(tmp_path, "data_dir: state\n"), env={})
    assert settings.data_dir == tmp_path / "state"


def test_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
server: {{host: 0.0.0.0, port: 9000, admin_token: s3cret}}
data_dir: {tmp_path / "data"}
registry: {{backend: sqlite, path: reg/types.db}}
lifecycle: {{phase_timeout: 5, grace_period: 2.5}}
modules:
  doc_search:
    config: {{max_results: 20}}
  admin: {{enabled: false}}
  bare:
plugins:
  gateways:
    doc_search: {{rules: [{{target: bm25}}]}}
""",
    )
    settings = load_settings(path, env={})
    assert settings.server.port == 9000
    assert settings.server.admin_token == "s3cret"
    assert settings.registry_path == tmp_path / "data" / "reg" / "types.db"
    assert settings.lifecycle.grace_period == 2.5
    assert settings.modules["doc_search"].config == {"max_results": 20}
    assert settings.modules["admin"].enabled is False
    assert settings.modules["bare"].enabled is True
    assert settings.plugins == {"gateways": {"doc_search": {"rules": [{"target": "bm25"}]}}}


def test_memory_registry_has_no_path() -> None:
    settings = parse_settings({"registry": {"backend": "memory"}}, env={})
    assert settings.registry_path is None


def test_unknown_keys_are_refused_with_their_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
server: {host: localhost, prot: 9000}
colour: blue
modules:
  doc_search: {enabled: true, cfg: {}}
""",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert sorted(paths(info.value)) == ["colour", "modules.doc_search.cfg", "server.prot"]
    assert all(p.message == "unknown key" for p in info.value.problems)
    assert str(path) in str(info.value)
    assert "server.prot: unknown key" in str(info.value)


def test_bad_values_are_reported_with_path_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(
            {
                "server": {"port": 70000},
                "registry": {"backend": "postgres"},
                "lifecycle": {"grace_period": -1},
                "modules": {"x": {"enabled": "maybe"}},
            },
            env={},
        )
    problems = {p.path: p.message for p in info.value.problems}
    assert set(problems) == {
        "server.port",
        "registry.backend",
        "lifecycle.grace_period",
        "modules.x.enabled",
    }
    assert "70000" in problems["server.port"]
    assert "'postgres'" in problems["registry.backend"]


def test_invalid_module_section_name() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"modules": {"Doc-Search": {}}}, env={})
    assert paths(info.value) == ["modules"]
    assert "Doc-Search" in str(info.value)


def test_section_of_the_wrong_type() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"modules": [1, 2]}, env={})
    assert paths(info.value) == ["modules"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  host: [unclosed\n  port: 1\n")
    with pytest.raises(ConfigError, match=r"YAML error at line \d+, column \d+") as info:
        load_settings(path, env={})
    assert info.value.source == str(path)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 1\n  port: 2\n")
    with pytest.raises(ConfigError, match="YAML error at line 3, column 3: duplicate key 'port'"):
        load_settings(path, env={})


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping, got a list"):
        load_settings(write(tmp_path, "- a\n- b\n"), env={})


def test_empty_file_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "# nothing\n"), env={})
    assert settings.server.port == 8087


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load_settings(tmp_path / "absent.yaml", env={})
    assert isinstance(info.value, ModkitError)


def test_env_overrides_server_and_module_config(tmp_path: Path) -> None:
    path = write(tmp_path, "server: {port: 9000}\nmodules: {doc_search: {config: {a: 1}}}\n")
    settings = load_settings(
        path,
        env={
            "PLUGWAY__SERVER__PORT": "9100",
            "PLUGWAY__MODULES__DOC_SEARCH__CONFIG__MAX_RESULTS": "25",
            "PLUGWAY__MODULES__DOC_SEARCH__CONFIG__INDEX__LANGUAGE": "en",
            "PLUGWAY__MODULES__TENANT_RESOLVER__ENABLED": "false",
            "UNRELATED": "x",
            "PLUGWAY_OTHER": "y",
        },
    )
    assert settings.server.port == 9100
    assert settings.modules["doc_search"].config == {
        "a": 1,
        "max_results": 25,
        "index": {"language": "en"},
    }
    assert settings.modules["tenant_resolver"].enabled is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("25", 25),
        ("2.5", 2.5),
        ("true", True),
        ("off", False),
        ("null", None),
        ("hello", "hello"),
        ("'0042'", "0042"),
        ("[::1]", "[::1]"),
        ("a: b", "a: b"),
        ("2024-01-01", "2024-01-01"),
        ("# hash", "# hash"),
    ],
)
def test_env_values_are_yaml_scalars(text: str, value: object) -> None:
    settings = parse_settings({}, env={"PLUGWAY__PLUGINS__PROBE": text})
    assert settings.plugins["probe"] == value
    assert type(settings.plugins["probe"]) is type(value)


def test_env_host_keeps_ipv6_literal() -> None:
    settings = parse_settings({}, env={"PLUGWAY__SERVER__HOST": "::1"})
    assert settings.server.host == "::1"


def test_env_unknown_key_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({}, env={"PLUGWAY__SERVER__PROT": "1"})
    (problem,) = info.value.problems
    assert problem.path == "server.prot"
    assert problem.message == "unknown key (set by PLUGWAY__SERVER__PROT)"


def test_env_bad_value_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"server\.port: .*\(set by PLUGWAY__SERVER__PORT\)"):
        parse_settings({}, env={"PLUGWAY__SERVER__PORT": "eighty"})


def test_env_cannot_set_a_key_inside_a_scalar() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({"server": {"port": 1}}, env={"PLUGWAY__SERVER__PORT__X": "1"})
    (problem,) = info.value.problems
    assert problem.path == "server.port"
    assert "PLUGWAY__SERVER__PORT__X cannot set a key inside it" in problem.message


def test_env_empty_segment_is_refused() -> None:
    with pytest.raises(ConfigError, match="PLUGWAY__SERVER____PORT: empty key segment"):
        parse_settings({}, env={"PLUGWAY__SERVER____PORT": "1"})


def test_env_override_beats_plugway_data_dir(tmp_path: Path) -> None:
    settings = parse_settings(
        {},
        env={"PLUGWAY_DATA_DIR": str(tmp_path / "a"), "PLUGWAY__DATA_DIR": str(tmp_path / "b")},
    )
    assert settings.data_dir == tmp_path / "b"


def test_parse_does_not_mutate_its_input() -> None:
    data = {"modules": {"x": {"config": {"a": 1}}}}
    parse_settings(data, env={"PLUGWAY__MODULES__X__CONFIG__B": "2"})
    assert data == {"modules": {"x": {"config": {"a": 1}}}}


def test_settings_are_frozen() -> None:
    settings = PlugwaySettings()
    with pytest.raises(ValueError, match="frozen"):
        settings.server.port = 1  # type: ignore[misc]


def test_load_settings_remembers_the_file_it_read(tmp_path: Path) -> None:
    config = tmp_path / "plugway.yaml"
    config.write_text("server:\n  port: 9001\n", encoding="utf-8")
    settings = load_settings(config, env={})
    assert settings.config_path == config.absolute()
    assert load_settings(None, env={}).config_path is None


def test_config_path_cannot_be_set_by_the_file(tmp_path: Path) -> None:
    config = tmp_path / "plugway.yaml"
    config.write_text("config_path: /etc/elsewhere.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="config_path"):
        load_settings(config, env={})
