"""The local SQLite store of pymesync: write queue, object cache, id map, credentials.

>>> from pymesync.store import Store, NewOperation
>>> store = Store.open()                       # or Store.open("/path/to/db.sqlite3")
>>> store.enqueue(NewOperation("http://host/v0|alice", "update", "time", uuid,
...                            {"duration": 600}, base_revision=3))

The store knows nothing about HTTP; it keeps the object dicts it is given. See
:class:`Store` for the API and :mod:`pymesync.store.records` for the values it returns.
:class:`StorePeek` is a read-only look at the same file without SQLAlchemy (for
``pymesync status``).

The records and errors are imported with the package; the other names on first use:
importing this package, or one of its SQLAlchemy-free modules (``records``,
``errors``, ``codec``, ``columns``, ``location``, ``queue``, ``state``, ``cache``,
``idmap``, ``peek``, ``timers``), does not import SQLAlchemy; ``Store`` and ``migrate`` do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The values and errors are plain Python (no SQLAlchemy): imported at once.
from .errors import (
    CorruptDatabaseError,
    DuplicateOperationError,
    OperationStateError,
    SchemaTooNewError,
    StoreError,
    StoreLocationError,
    StoreUnavailableError,
    UnknownOperationError,
)
from .records import (
    CacheObject,
    EnqueueOutcome,
    EnqueueResult,
    Entity,
    NewOperation,
    Operation,
    OpKind,
    OpState,
    PutResult,
    QueueSummary,
    new_op_id,
)

if TYPE_CHECKING:
    from .location import ENV_VAR, SCHEMA_HEAD, default_path, resolve_path
    from .migrator import migrate
    from .peek import StorePeek
    from .store import Store

__all__ = [
    "ENV_VAR",
    "SCHEMA_HEAD",
    "CacheObject",
    "CorruptDatabaseError",
    "DuplicateOperationError",
    "EnqueueOutcome",
    "EnqueueResult",
    "Entity",
    "NewOperation",
    "OpKind",
    "OpState",
    "Operation",
    "OperationStateError",
    "PutResult",
    "QueueSummary",
    "SchemaTooNewError",
    "Store",
    "StoreError",
    "StoreLocationError",
    "StorePeek",
    "StoreUnavailableError",
    "UnknownOperationError",
    "default_path",
    "migrate",
    "new_op_id",
    "resolve_path",
]

#: The names loaded on first use, and their modules.
_LAZY = {
    "ENV_VAR": "location",
    "SCHEMA_HEAD": "location",
    "default_path": "location",
    "resolve_path": "location",
    "migrate": "migrator",
    "StorePeek": "peek",
    "Store": "store",
}


def __getattr__(name: str) -> Any:
    """Load the names of :data:`_LAZY` on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Public names."""
    return __all__
