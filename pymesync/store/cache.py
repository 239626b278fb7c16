"""The object cache: server objects and provisional local ones, with searchable tags.

Functions here work inside a transaction the caller (:class:`~pymesync.store.Store`)
opened; they never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from . import idmap
from .records import ENTITIES, CacheObject, Entity, PutResult
from .schema import (
    CacheRow,
    CacheTagRow,
    IdMapRow,
    OperationRow,
    cache_table,
    cache_tags_table,
)

__all__ = [
    "CacheEntry",
    "extract_key",
    "find_by_slug",
    "get_object",
    "list_objects",
    "mark_deleted",
    "put_entries",
    "put_objects",
    "query_times",
    "remove_object",
    "revision_of",
    "tags_for",
    "to_record",
]

_CHUNK = 500
_T = TypeVar("_T")


@dataclass(frozen=True)
class CacheEntry:
    """A row to write into the cache (internal form of :class:`CacheObject`)."""

    key: str
    payload: dict[str, Any]
    revision: int | None
    deleted: bool
    local: bool


def check_entity(entity: str) -> Entity:
    """``entity`` if it is one of the known entities, else ValueError."""
    for known in ENTITIES:
        if entity == known:
            return known
    raise ValueError(f"unknown entity {entity!r} (expected one of {', '.join(ENTITIES)})")


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, str)]
    return []


def extract_key(entity: str, obj: dict[str, Any]) -> str:
    """The cache key of a server object: ``username`` for users, ``uuid`` otherwise."""
    field = "username" if entity == "user" else "uuid"
    key = obj.get(field)
    if not isinstance(key, str) or not key:
        raise ValueError(f"{entity} object has no {field!r} to key it by: {obj!r}")
    return key


def revision_of(obj: dict[str, Any]) -> int | None:
    """The integer ``revision`` of a server object, if it has one."""
    revision = obj.get("revision")
    return revision if isinstance(revision, int) and not isinstance(revision, bool) else None


def tags_for(entity: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``(tag_kind, value)`` pairs indexed for an object.

    Times: ``project`` for each project slug (a list on GET, one string on POST) and
    ``activity`` for each activity slug. Projects: ``slug`` for each of ``slugs``.
    Activities: ``slug`` for its ``slug``. Users: none.
    """
    pairs: list[tuple[str, str]] = []
    if entity == "time":
        pairs += [("project", slug) for slug in _strings(payload.get("project"))]
        pairs += [("activity", slug) for slug in _strings(payload.get("activities"))]
    elif entity == "project":
        pairs += [("slug", slug) for slug in _strings(payload.get("slugs"))]
    elif entity == "activity":
        pairs += [("slug", slug) for slug in _strings(payload.get("slug"))]
    return list(dict.fromkeys(pairs))


def to_record(row: CacheRow) -> CacheObject:
    """The frozen record for a cache row."""
    return CacheObject(
        account=row.account,
        entity=check_entity(row.entity),
        key=row.key,
        payload=dict(row.payload),
        revision=row.revision,
        deleted=bool(row.deleted),
        fetched_at=row.fetched_at,
        local=bool(row.local),
    )


def put_entries(
    session: Session, account: str, entity: str, entries: Sequence[CacheEntry], now: datetime
) -> None:
    """Insert or replace cache rows and rewrite their tags (no protection checks)."""
    if not entries:
        return
    stmt = sqlite_insert(cache_table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account", "entity", "key"],
        set_={
            name: stmt.excluded[name]
            for name in (
                "payload",
                "revision",
                "deleted",
                "fetched_at",
                "local",
                "user",
                "date_worked",
            )
        },
    )
    rows = []
    tags = []
    for entry in entries:
        is_time = entity == "time"
        user = entry.payload.get("user") if is_time else None
        worked = entry.payload.get("date_worked") if is_time else None
        rows.append(
            {
                "account": account,
                "entity": entity,
                "key": entry.key,
                "payload": entry.payload,
                "revision": entry.revision,
                "deleted": entry.deleted,
                "fetched_at": now,
                "local": entry.local,
                "user": user if isinstance(user, str) else None,
                "date_worked": worked if isinstance(worked, str) else None,
            }
        )
        tags += [
            {"account": account, "entity": entity, "key": entry.key, "tag_kind": k, "value": v}
            for k, v in tags_for(entity, entry.payload)
        ]
    session.flush()
    session.execute(stmt, rows)
    keys = [entry.key for entry in entries]
    tag_table = cache_tags_table
    for chunk in _chunks(keys):
        session.execute(
            delete(tag_table).where(
                tag_table.c.account == account,
                tag_table.c.entity == entity,
                tag_table.c.key.in_(chunk),
            )
        )
    if tags:
        session.execute(sqlite_insert(tag_table).on_conflict_do_nothing(), tags)


def _protected_targets(session: Session, account: str, entity: str) -> set[str]:
    """Every name under which a queued operation refers to an object of ``entity``."""
    queued = select(OperationRow.target).where(
        OperationRow.account == account, OperationRow.entity == entity
    )
    targets = set(session.scalars(queued.distinct()))
    if targets:
        targets.update(
            session.scalars(
                select(IdMapRow.server_id).where(
                    IdMapRow.account == account,
                    IdMapRow.entity == entity,
                    IdMapRow.local_id.in_(queued),
                )
            )
        )
    return targets


def _slug_tags(
    session: Session, account: str, entity: str, keys: Sequence[str]
) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for chunk in _chunks(keys):
        for key, value in session.execute(
            select(CacheTagRow.key, CacheTagRow.value).where(
                CacheTagRow.account == account,
                CacheTagRow.entity == entity,
                CacheTagRow.key.in_(chunk),
                CacheTagRow.tag_kind == "slug",
            )
        ):
            found.setdefault(key, set()).add(value)
    return found


def put_objects(
    session: Session,
    account: str,
    entity: str,
    objs: Iterable[dict[str, Any]],
    now: datetime,
    *,
    local: bool,
    force: bool,
) -> PutResult:
    """Store server-shaped objects (see :meth:`Store.put_objects`)."""
    incoming: dict[str, dict[str, Any]] = {}
    for obj in objs:
        incoming[extract_key(entity, obj)] = obj
    if not incoming:
        return PutResult(written=0)
    skipped: list[str] = []
    keys = list(incoming)
    if not force:
        protected = _protected_targets(session, account, entity)
        existing: dict[str, tuple[int | None, bool]] = {}
        for chunk in _chunks(keys):
            for key, revision, is_local in session.execute(
                select(CacheRow.key, CacheRow.revision, CacheRow.local).where(
                    CacheRow.account == account,
                    CacheRow.entity == entity,
                    CacheRow.key.in_(chunk),
                )
            ):
                existing[key] = (revision, bool(is_local))
        old_slugs = _slug_tags(session, account, entity, keys) if protected else {}
        for key, obj in incoming.items():
            names = {key} | {v for kind, v in tags_for(entity, obj) if kind == "slug"}
            if protected and (names | old_slugs.get(key, set())) & protected:
                skipped.append(key)
                continue
            old = existing.get(key)
            new_revision = revision_of(obj)
            if (
                old is not None
                and not old[1]
                and old[0] is not None
                and new_revision is not None
                and new_revision < old[0]
            ):
                skipped.append(key)
    skipped_set = set(skipped)
    entries = [
        CacheEntry(
            key=key,
            payload=dict(obj),
            revision=revision_of(obj),
            deleted=obj.get("deleted_at") is not None,
            local=local,
        )
        for key, obj in incoming.items()
        if key not in skipped_set
    ]
    put_entries(session, account, entity, entries, now)
    return PutResult(written=len(entries), skipped=tuple(skipped))


def get_object(session: Session, account: str, entity: str, key: str) -> CacheObject | None:
    """The cached object under ``key`` (a local id resolves to its server id)."""
    resolved = idmap.resolve_id(session, account, entity, key)
    row = session.get(CacheRow, (account, entity, resolved), populate_existing=True)
    if row is None and resolved != key:
        row = session.get(CacheRow, (account, entity, key), populate_existing=True)
    return None if row is None else to_record(row)


def find_by_slug(
    session: Session, account: str, entity: str, slug: str, *, include_deleted: bool
) -> CacheObject | None:
    """The cached project or activity that has ``slug`` (not deleted, unless asked)."""
    keys = select(CacheTagRow.key).where(
        CacheTagRow.account == account,
        CacheTagRow.entity == entity,
        CacheTagRow.tag_kind == "slug",
        CacheTagRow.value == slug,
    )
    stmt = select(CacheRow).where(
        CacheRow.account == account, CacheRow.entity == entity, CacheRow.key.in_(keys)
    )
    if not include_deleted:
        stmt = stmt.where(CacheRow.deleted.is_(False))
    # Prefer live, provisional (newest intent), then server objects.
    stmt = stmt.order_by(CacheRow.deleted, CacheRow.local.desc(), CacheRow.key).limit(1)
    row = session.scalars(stmt).first()
    return None if row is None else to_record(row)


def _day(value: date | str) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def query_times(
    session: Session,
    account: str,
    *,
    users: Sequence[str],
    projects: Sequence[str],
    activities: Sequence[str],
    start: date | str | None,
    end: date | str | None,
    include_deleted: bool,
) -> list[CacheObject]:
    """Cached times matching every given filter (see :meth:`Store.query_times`)."""
    stmt = select(CacheRow).where(CacheRow.account == account, CacheRow.entity == "time")
    if not include_deleted:
        stmt = stmt.where(CacheRow.deleted.is_(False))
    if users:
        stmt = stmt.where(CacheRow.user.in_(list(users)))
    if start is not None:
        stmt = stmt.where(CacheRow.date_worked >= _day(start))
    if end is not None:
        stmt = stmt.where(CacheRow.date_worked <= _day(end))
    for kind, values in (("project", projects), ("activity", activities)):
        if values:
            stmt = stmt.where(
                CacheRow.key.in_(
                    select(CacheTagRow.key).where(
                        CacheTagRow.account == account,
                        CacheTagRow.entity == "time",
                        CacheTagRow.tag_kind == kind,
                        CacheTagRow.value.in_(list(values)),
                    )
                )
            )
    stmt = stmt.order_by(CacheRow.date_worked, CacheRow.key)
    return [to_record(row) for row in session.scalars(stmt)]


def list_objects(
    session: Session, account: str, entity: str, *, include_deleted: bool
) -> list[CacheObject]:
    """Every cached object of one entity, ordered by key."""
    stmt = select(CacheRow).where(CacheRow.account == account, CacheRow.entity == entity)
    if not include_deleted:
        stmt = stmt.where(CacheRow.deleted.is_(False))
    return [to_record(row) for row in session.scalars(stmt.order_by(CacheRow.key))]


def remove_object(
    session: Session, account: str, entity: str, key: str, *, only_local: bool = False
) -> bool:
    """Delete one cache row (and its tags); True if there was one."""
    session.flush()
    stmt = delete(CacheRow).where(
        CacheRow.account == account, CacheRow.entity == entity, CacheRow.key == key
    )
    if only_local:
        stmt = stmt.where(CacheRow.local.is_(True))
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def mark_deleted(session: Session, account: str, entity: str, key: str, now: datetime) -> None:
    """Flag a cached object deleted after the server confirmed its deletion."""
    row = session.get(CacheRow, (account, entity, key), populate_existing=True)
    if row is None:
        return
    payload = dict(row.payload)
    if payload.get("deleted_at") is None:
        payload["deleted_at"] = now.date().isoformat()
    put_entries(
        session,
        account,
        entity,
        [CacheEntry(key=key, payload=payload, revision=row.revision, deleted=True, local=False)],
        now,
    )
