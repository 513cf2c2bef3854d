"""Entities the registry registers itself: the ModKit plugin base type."""

from __future__ import annotations

from typing import Any

PLUGIN_BASE_TYPE_ID = "gts.x.core.modkit.plugin.v1~"


def plugin_base_schema() -> dict[str, Any]:
    """The base type every plugin contract derives from (a fresh copy on each call).

    It is abstract: plugin instances are instances of a derived contract type
    ``gts.x.core.modkit.plugin.v1~<vendor>.<pkg>.<module>.plugin.vM.m~``, never of the base.
    """
    return {
        "$id": f"gts://{PLUGIN_BASE_TYPE_ID}",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "ModKit plugin",
        "description": (
            "Base type of every plugin instance: its GTS id, the vendor that ships it, "
            "its priority (lower wins) and contract-specific properties; an out-of-process "
            "plugin also has its endpoint and the contract version it implements."
        ),
        "type": "object",
        "x-gts-abstract": True,
        "required": ["id", "vendor", "priority", "properties"],
        "properties": {
            "id": {"type": "string", "x-gts-ref": "/$id"},
            "vendor": {"type": "string"},
            "priority": {"type": "integer"},
            "properties": {"type": "object"},
            "contract_version": {
                "description": "MAJOR.MINOR of the contract an out-of-process plugin implements",
                "type": "string",
                "pattern": r"^[0-9]+\.[0-9]+$",
            },
            "endpoint": {
                "description": (
                    "Where an out-of-process plugin is served (a plugin host): base URL, the "
                    "plugin's route prefix, wire protocol, heartbeat period and TTL in "
                    "seconds, and which supervised host registered it"
                ),
                "type": "object",
                "required": ["url", "path", "protocol"],
                "additionalProperties": False,
                "properties": {
                    "url": {"type": "string", "minLength": 1},
                    "path": {"type": "string", "pattern": "^/"},
                    "protocol": {"type": "string", "minLength": 1},
                    "heartbeat_s": {"type": "number", "exclusiveMinimum": 0},
                    "ttl_s": {"type": "number", "exclusiveMinimum": 0},
                    "host": {
                        "description": (
                            "the supervised host that registered it, <gateway>/<name> (set by "
                            "the server from the host's own token)"
                        ),
                        "type": "string",
                        "minLength": 1,
                    },
                },
            },
        },
    }
