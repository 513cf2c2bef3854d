"""plugway.gts: the Global Type System library (layer 1: pure, no I/O)."""

from __future__ import annotations

from ._errors import (
    GtsError,
    GtsIdError,
    GtsNotFoundError,
    GtsPatternError,
    GtsQueryError,
    GtsSchemaError,
    GtsValidationError,
)
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

__all__ = [
    "GTS_NAMESPACE",
    "GTS_PREFIX",
    "GTS_URI_PREFIX",
    "MAX_ID_LENGTH",
    "GtsError",
    "GtsId",
    "GtsIdError",
    "GtsNotFoundError",
    "GtsPattern",
    "GtsPatternError",
    "GtsQueryError",
    "GtsSchemaError",
    "GtsSegment",
    "GtsValidationError",
    "gts_uuid",
    "is_valid_gts_id",
    "is_valid_gts_pattern",
]
