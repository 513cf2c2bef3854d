from ._backend import EntityRow, RegistryBackend, ScanQuery, StoredRow
from ._builtin import PLUGIN_BASE_TYPE_ID, plugin_base_schema
from ._entity import (
    Entity,
    EntityPage,
    EntityQuery,
    RegistrationResult,
    RegistryEvent,
    SegmentScope,
)
from ._errors import (
    RegistryConflictError,
    RegistryError,
    RegistryInUseError,
    RegistryInvalidContentError,
    RegistryInvalidEntityError,
    RegistryNotFoundError,
    RegistryNotReadyError,
    RegistryProblem,
    RegistryQueryError,
    RegistryStorageError,
    RegistryValidationError,
)
from ._memory import MemoryBackend
from ._open import open_backend
from ._pg_url import redact_url
from ._postgres import PostgresBackend
from ._query import MAX_LIMIT
from ._registry import TypesRegistry
from ._sqlite import SqliteBackend

__all__ = [
    "MAX_LIMIT",
    "PLUGIN_BASE_TYPE_ID",
    "Entity",
    "EntityPage",
    "EntityQuery",
    "EntityRow",
    "MemoryBackend",
    "PostgresBackend",
    "RegistrationResult",
    "RegistryBackend",
    "RegistryConflictError",
    "RegistryError",
    "RegistryEvent",
    "RegistryInUseError",
    "RegistryInvalidContentError",
    "RegistryInvalidEntityError",
    "RegistryNotFoundError",
    "RegistryNotReadyError",
    "RegistryProblem",
    "RegistryQueryError",
    "RegistryStorageError",
    "RegistryValidationError",
    "ScanQuery",
    "SegmentScope",
    "SqliteBackend",
    "StoredRow",
    "TypesRegistry",
    "open_backend",
    "plugin_base_schema",
    "redact_url",
]
