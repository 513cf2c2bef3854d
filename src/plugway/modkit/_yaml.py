"""Reading a YAML file the strict way: duplicate keys are refused (PyYAML keeps the last one
silently), errors name the file, the line and the column, and the top level must be a mapping.
Every file plugway reads as configuration goes through here, so they all obey one rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from plugway.modkit._errors import ConfigError, ConfigProblem

__all__ = ["kind_of", "read_yaml_mapping"]


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The mapping in the YAML file ``path`` (an empty file is an empty mapping).

    Raises ConfigError naming ``path`` when it cannot be read, is not YAML, repeats a key or
    holds something other than a mapping.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem("", f"cannot read config file: {exc.strerror or exc}")], source
        ) from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem("", _yaml_message(exc))], source) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            [ConfigProblem("", f"the top level must be a mapping, got {kind_of(raw)}")], source
        )
    return raw


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and context_mark is not None:
        problem += f" ({context} from line {context_mark.line + 1})"
    elif context:
        problem += f" ({context})"
    return f"YAML error{where}: {problem}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                "while reading the mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def kind_of(value: Any) -> str:
    """How a YAML value is named in error messages ("a mapping", "a list", ...)."""
    return {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)
