"""plugway.gts: the Global Type System library (layer 1: pure, no I/O)."""

from __future__ import annotations

from ._attr import AttrResult, GtsAttrSelector, parse_attr_path, resolve_attr, resolve_path
from ._errors import (
    GtsError,
    GtsIdError,
    GtsNotFoundError,
    GtsPatternError,
    GtsQueryError,
    GtsSchemaError,
    GtsValidationError,
)
from ._extract import GtsExtraction, extract_id, strip_gts_uri
from ._ids import (
    GTS_NAMESPACE,
    GTS_PREFIX,
    GTS_URI_PREFIX,
    MAX_ID_LENGTH,
    GtsId,
    GtsSegment,
    gts_uuid,
    is_valid_gts_id,
)
from ._pattern import GtsPattern, is_valid_gts_pattern
from ._query import GtsQuery, GtsQueryFilter

__all__ = [
    "GTS_NAMESPACE",
    "GTS_PREFIX",
    "GTS_URI_PREFIX",
    "MAX_ID_LENGTH",
    "AttrResult",
    "GtsAttrSelector",
    "GtsError",
    "GtsExtraction",
    "GtsId",
    "GtsIdError",
    "GtsNotFoundError",
    "GtsPattern",
    "GtsPatternError",
    "GtsQuery",
    "GtsQueryError",
    "GtsQueryFilter",
    "GtsSchemaError",
    "GtsSegment",
    "GtsValidationError",
    "extract_id",
    "gts_uuid",
    "is_valid_gts_id",
    "is_valid_gts_pattern",
    "parse_attr_path",
    "resolve_attr",
    "resolve_path",
    "strip_gts_uri",
]
