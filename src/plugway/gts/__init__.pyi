from ._attr import AttrResult, GtsAttrSelector, parse_attr_path, resolve_attr, resolve_path
from ._cast import CastResult, cast_instance
from ._chain import check_no_final_ancestor
from ._compat import CompatibilityReport, check_compatibility
from ._derivation import validate_type_derivation
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
from ._io import DOCUMENT_SUFFIXES, GtsDocumentError, dump_document, load_documents
from ._pattern import GtsPattern, id_or_pattern_error, is_valid_gts_pattern
from ._query import GtsQuery, GtsQueryFilter
from ._refs import (
    SCHEMA_ONLY_KEYWORDS,
    SchemaResolver,
    check_instance_document,
    check_schema_document,
    collect_gts_refs,
)
from ._relations import (
    GtsReference,
    Relation,
    RelationshipGraph,
    ref_problems,
    resolve_relationships,
)
from ._schema import (
    InstanceValidator,
    InstanceValidatorCache,
    compile_instance_validator,
    validate_instance,
)
from ._store import EntityValidation, GtsEntity, GtsStore
from ._subschema import effective_schema, is_subschema
from ._traits import EffectiveTraits, check_entity_traits, effective_traits, validate_traits

__all__ = [
    "DOCUMENT_SUFFIXES",
    "GTS_NAMESPACE",
    "GTS_PREFIX",
    "GTS_URI_PREFIX",
    "MAX_ID_LENGTH",
    "SCHEMA_ONLY_KEYWORDS",
    "AttrResult",
    "CastResult",
    "CompatibilityReport",
    "EffectiveTraits",
    "EntityValidation",
    "GtsAttrSelector",
    "GtsDocumentError",
    "GtsEntity",
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
    "GtsReference",
    "GtsSchemaError",
    "GtsSegment",
    "GtsStore",
    "GtsValidationError",
    "InstanceValidator",
    "InstanceValidatorCache",
    "Relation",
    "RelationshipGraph",
    "SchemaResolver",
    "cast_instance",
    "check_compatibility",
    "check_entity_traits",
    "check_instance_document",
    "check_no_final_ancestor",
    "check_schema_document",
    "collect_gts_refs",
    "compile_instance_validator",
    "dump_document",
    "effective_schema",
    "effective_traits",
    "extract_id",
    "gts_uuid",
    "id_or_pattern_error",
    "is_subschema",
    "is_valid_gts_id",
    "is_valid_gts_pattern",
    "load_documents",
    "parse_attr_path",
    "ref_problems",
    "resolve_attr",
    "resolve_path",
    "resolve_relationships",
    "strip_gts_uri",
    "validate_instance",
    "validate_traits",
    "validate_type_derivation",
]
