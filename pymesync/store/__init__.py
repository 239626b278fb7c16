"""The local SQLite store of pymesync: write queue, object cache, id map, credentials.

>>> from pymesync.store import Store, NewOperation
>>> store = Store.open()                       # or Store.open("/path/to/db.sqlite3")
>>> store.enqueue(NewOperation("http://host/v0|alice", "update", "time", uuid,
...                            {"duration": 600}, base_revision=3))

The store knows nothing about HTTP; it keeps the object dicts it is given. See
:class:`Store` for the API and :mod:`pymesync.store.records` for the values it returns.
"""

from __future__ import annotations

from .engine import ENV_VAR, SCHEMA_HEAD, default_path, resolve_path
from .errors import (
    CorruptDatabaseError,
    DuplicateOperationError,
    OperationStateError,
    SchemaTooNewError,
    StoreError,
    StoreLocationError,
    UnknownOperationError,
)
from .migrator import migrate
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
    "UnknownOperationError",
    "default_path",
    "migrate",
    "new_op_id",
    "resolve_path",
]
