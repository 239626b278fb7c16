"""The object cache: server objects and provisional local ones, with searchable tags.

Functions here work inside a transaction the caller (:class:`~pymesync.store.Store`)
opened on a DB-API connection; they never commit. Every statement is plain SQL with
``?`` parameters, so that SQLite's statement cache serves the repeated ones.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from . import idmap
from .codec import dump_json, format_utc, load_json, parse_utc
from .columns import CACHE_COLUMNS, CACHE_RECORD_COLUMNS, insert_head, quoted, row_template
from .dbapi import on_postgres
from .records import ENTITIES, CacheObject, Entity, PutResult
from .values import insert_rows, select_in

__all__ = [
    "ANALYZE_AFTER",
    "CacheEntry",
    "TimesFilter",
    "analyze",
    "cache_row",
    "check_entity",
    "extract_key",
    "find_by_slug",
    "get_object",
    "get_objects",
    "has_objects",
    "list_objects",
    "mark_deleted",
    "put_entries",
    "put_objects",
    "query_times",
    "remove_object",
    "revision_of",
    "row_values",
    "tag_rows",
    "tags_for",
    "times_query",
    "write_rows",
]

#: Keys per statement in bulk lookups (well under SQLite's oldest 999-variable limit).
_CHUNK = 500
_T = TypeVar("_T")
_ENTITIES: dict[str, Entity] = {entity: entity for entity in ENTITIES}

#: The columns a :class:`CacheObject` is built from, in :func:`_records` order.
_COLUMNS = ", ".join(CACHE_RECORD_COLUMNS)
# A cache row: the key (account, entity, key), then the values.
_KEY_COLUMNS, _VALUE_COLUMNS = CACHE_COLUMNS[:3], CACHE_COLUMNS[3:]
_UPSERT_HEAD = insert_head("cache", CACHE_COLUMNS)
_UPSERT_ROW = row_template(CACHE_COLUMNS)
_UPSERT_TAIL = f" ON CONFLICT ({', '.join(_KEY_COLUMNS)}) DO UPDATE SET " + ", ".join(
    f"{name} = excluded.{name}" for name in map(quoted, _VALUE_COLUMNS)
)
_UPSERT = f"{_UPSERT_HEAD} VALUES {_UPSERT_ROW}{_UPSERT_TAIL}"
# A tag row is (account, entity, tag_kind, value, key): the table's primary key, in
# that order (see CacheTagRow).
_DELETE_TAG = (
    "DELETE FROM cache_tags"
    " WHERE account = ? AND entity = ? AND tag_kind = ? AND value = ? AND key = ?"
)
_INSERT_TAG_HEAD = "INSERT INTO cache_tags (account, entity, tag_kind, value, key)"
_INSERT_TAG_ROW = "(?, ?, ?, ?, ?)"
_INSERT_TAG_TAIL = " ON CONFLICT DO NOTHING"
_INSERT_TAG = f"{_INSERT_TAG_HEAD} VALUES {_INSERT_TAG_ROW}{_INSERT_TAG_TAIL}"
_GET = f"SELECT {_COLUMNS} FROM cache WHERE account = ? AND entity = ? AND key = ?"


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
    known = _ENTITIES.get(entity)
    if known is None:
        raise ValueError(f"unknown entity {entity!r} (expected one of {', '.join(ENTITIES)})")
    return known


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    """``?, ?, ?`` with ``count`` placeholders."""
    return ", ".join("?" * count)


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
        project, activities = payload.get("project"), payload.get("activities")
        if type(project) is list and type(activities) is list and len(activities) < 2:
            # The usual shape (a GET's or a provisional time's): no call per value. Two
            # pairs of different kinds are never duplicates.
            pairs = [("project", slug) for slug in project if isinstance(slug, str)]
            pairs += [("activity", slug) for slug in activities if isinstance(slug, str)]
            return pairs if len(project) < 2 else list(dict.fromkeys(pairs))
        pairs += [("project", slug) for slug in _strings(project)]
        pairs += [("activity", slug) for slug in _strings(activities)]
    elif entity == "project":
        pairs += [("slug", slug) for slug in _strings(payload.get("slugs"))]
    elif entity == "activity":
        pairs += [("slug", slug) for slug in _strings(payload.get("slug"))]
    return list(dict.fromkeys(pairs))


def _records(account: str, entity: Entity, rows: Iterable[Sequence[Any]]) -> list[CacheObject]:
    """Records for rows of :data:`_COLUMNS` (the JSON payload decoded: each its own copy)."""
    records: list[CacheObject] = []
    append = records.append
    last_text, last_when = "", None
    for key, payload, revision, deleted, fetched_at, local in rows:
        if fetched_at != last_text or last_when is None:
            last_text, last_when = fetched_at, parse_utc(fetched_at)
        append(
            CacheObject(
                account,
                entity,
                key,
                load_json(payload),
                revision,
                bool(deleted),
                last_when,
                bool(local),
            )
        )
    return records


CacheRowValues = tuple[str, str, str, str, int | None, bool, str, bool, str | None, str | None]


def cache_row(account: str, entity: str, entry: CacheEntry, now_text: str) -> CacheRowValues:
    """The parameters of :data:`_UPSERT` for one entry (``now_text``: its fetched_at)."""
    return row_values(
        account,
        entity,
        entry.key,
        entry.payload,
        entry.revision,
        entry.deleted,
        entry.local,
        now_text,
    )


def row_values(
    account: str,
    entity: str,
    key: str,
    payload: dict[str, Any],
    revision: int | None,
    deleted: bool,
    local: bool,
    now_text: str,
) -> CacheRowValues:
    """:func:`cache_row` without a :class:`CacheEntry` to build first."""
    user = worked = None
    if entity == "time":
        found = payload.get("user")
        user = found if isinstance(found, str) else None
        found = payload.get("date_worked")
        worked = found if isinstance(found, str) else None
    return (
        account,
        entity,
        key,
        dump_json(payload),
        revision,
        deleted,
        now_text,
        local,
        user,
        worked,
    )


TagRow = tuple[str, str, str, str, str]


def tag_rows(account: str, entity: str, key: str, payload: dict[str, Any]) -> list[TagRow]:
    """The cache_tags rows of one object (derived from its payload by :func:`tags_for`:
    the old rows of an object are found the same way, from its old payload)."""
    return [(account, entity, kind, value, key) for kind, value in tags_for(entity, payload)]


def tag_changes(
    old: list[TagRow], new: list[TagRow], stale: list[TagRow], fresh: list[TagRow]
) -> None:
    """Add to ``stale`` the rows of ``old`` that ``new`` drops, to ``fresh`` the rows of
    ``new`` that ``old`` lacks (an object put again unchanged writes no tag at all)."""
    if old == new:
        return
    stale += [row for row in old if row not in new]
    fresh += [row for row in new if row not in old]


def write_rows(
    db: sqlite3.Connection,
    rows: Sequence[Sequence[Any]],
    stale: list[TagRow],
    fresh: list[TagRow],
) -> None:
    """Delete the ``stale`` tag rows, write the cache rows (:func:`cache_row`, distinct
    keys), then the ``fresh`` tag rows. Tags go in primary-key order, which keeps the
    b-tree writes together. Rows are inserted many to a statement
    (:func:`~pymesync.store.values.insert_rows`)."""
    if len(stale) == 1:
        db.execute(_DELETE_TAG, stale[0])
    elif stale:
        stale.sort()
        db.executemany(_DELETE_TAG, stale)
    insert_rows(db, _UPSERT_HEAD, _UPSERT_ROW, rows, tail=_UPSERT_TAIL)
    if len(fresh) > 1:
        fresh.sort()
    insert_rows(db, _INSERT_TAG_HEAD, _INSERT_TAG_ROW, fresh, tail=_INSERT_TAG_TAIL)


def _old_payloads(
    db: sqlite3.Connection, account: str, entity: str, keys: Sequence[str]
) -> dict[str, str]:
    """The cached payload (JSON text) of those of ``keys`` that are cached."""
    sql = "SELECT key, payload FROM cache WHERE account = ? AND entity = ? AND key"
    return dict(select_in(db, sql, (account, entity), keys))


def put_entries(
    db: sqlite3.Connection,
    account: str,
    entity: str,
    entries: Sequence[CacheEntry],
    now_text: str,
    *,
    old: dict[str, str] | None = None,
) -> None:
    """Insert or replace cache rows (distinct keys) and rewrite their tags (no protection
    checks). ``now_text`` is the fetched_at (:func:`~pymesync.store.codec.format_utc`).

    ``old`` maps the keys already cached to their cached payload (JSON text), whose
    tags are replaced; None: look them up.
    """
    if old is None:
        old = _old_payloads(db, account, entity, [entry.key for entry in entries])
    rows = []
    stale: list[TagRow] = []
    fresh: list[TagRow] = []
    for entry in entries:
        rows.append(cache_row(account, entity, entry, now_text))
        new_tags = tag_rows(account, entity, entry.key, entry.payload)
        text = old.get(entry.key)
        if text is None:
            fresh += new_tags
        else:
            tag_changes(
                tag_rows(account, entity, entry.key, load_json(text)), new_tags, stale, fresh
            )
    write_rows(db, rows, stale, fresh)


def _has_queued_ops(db: sqlite3.Connection, account: str, entity: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM operations WHERE account = ? AND entity = ? LIMIT 1", (account, entity)
        ).fetchone()
        is not None
    )


def _targeted(db: sqlite3.Connection, account: str, entity: str, names: Sequence[str]) -> set[str]:
    """Those of ``names`` under which a queued operation refers to an object: as its
    target, or as the server id of a local id that is a target."""
    found: set[str] = set()
    for chunk in _chunks(names, 400):
        marks = _marks(len(chunk))
        sql = (
            "SELECT target FROM operations WHERE account = ? AND entity = ?"
            f" AND target IN ({marks})"
            " UNION SELECT m.server_id FROM id_map AS m WHERE m.account = ? AND m.entity = ?"
            f" AND m.server_id IN ({marks}) AND EXISTS (SELECT 1 FROM operations AS o"
            " WHERE o.account = m.account AND o.entity = m.entity AND o.target = m.local_id)"
        )
        found.update(row[0] for row in db.execute(sql, (account, entity, *chunk) * 2))
    return found


#: A :func:`put_objects` that writes at least this many objects, and at least a quarter
#: of the times the statistics were made from, refreshes them (:func:`analyze`).
ANALYZE_AFTER = 500


def _statistics_stale(db: sqlite3.Connection, written: int) -> bool:
    """Whether the cache's statistics need :func:`analyze` after ``written`` objects
    were put: there are none yet, or ``written`` is a quarter of the rows they counted
    or more (small writes leave the proportions as they were)."""
    if written < ANALYZE_AFTER:
        return False
    if on_postgres(db):  # (-1: never analysed; autovacuum's counts too)
        rows = db.execute("SELECT reltuples FROM pg_class WHERE oid = 'cache'::regclass")
        return written * 4 >= float(rows.fetchone()[0])
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None:
        return True
    row = db.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'cache' LIMIT 1").fetchone()
    return row is None or written * 4 >= int(str(row[0]).split()[0])


def analyze(db: sqlite3.Connection) -> None:
    """Refresh the statistics the planner chooses the cache's indexes by
    (``ANALYZE`` of ``cache`` and ``cache_tags``), inside the caller's transaction.

    :func:`query_times` leaves the choice of its leading index to the planner; these
    statistics tell it how many times one user, one project, one activity or one day
    holds on average. Only the cache's tables: the queue's statements are planned well
    without statistics. A full ANALYZE (116 ms for 50,000 cached times): with
    ``PRAGMA analysis_limit`` the first entries of the tags' index are all of one slug,
    and the statistics it leaves made the planner scan every time for one project.
    """
    db.execute("ANALYZE cache")
    db.execute("ANALYZE cache_tags")


#: Objects read from the iterable of :func:`put_objects` at a time (looked up in
#: :data:`_CHUNK`-key statements, written together in key order).
_PUT_CHUNK = 5000


def put_objects(
    db: sqlite3.Connection,
    account: str,
    entity: str,
    objs: Iterable[dict[str, Any]],
    now: datetime,
    *,
    local: bool,
    force: bool,
) -> PutResult:
    """Store server-shaped objects (see :meth:`Store.put_objects`).

    Streams: reads :data:`_PUT_CHUNK` objects at a time, looks the chunk up (cached
    revisions; the queued operations referring to them, only when the account has
    queued operations on this entity) and writes it. Nothing here reads the whole queue,
    the whole cache, or the whole iterable.
    """
    now_text = format_utc(now)
    protect = not force and _has_queued_ops(db, account, entity)
    skipped: list[str] = []
    written = 0
    iterator = iter(objs)
    while True:
        incoming: dict[str, dict[str, Any]] = {}
        for obj in itertools.islice(iterator, _PUT_CHUNK):
            incoming[extract_key(entity, obj)] = obj
        if not incoming:
            if _statistics_stale(db, written):
                analyze(db)
            return PutResult(written=written, skipped=tuple(skipped))
        written += _put_chunk(
            db,
            account,
            entity,
            incoming,
            now_text,
            local=local,
            force=force,
            protect=protect,
            skipped=skipped,
        )


def _put_chunk(
    db: sqlite3.Connection,
    account: str,
    entity: str,
    incoming: dict[str, dict[str, Any]],
    now_text: str,
    *,
    local: bool,
    force: bool,
    protect: bool,
    skipped: list[str],
) -> int:
    """:func:`put_objects` for distinct keys; appends the skipped ones to ``skipped``
    (in the order given) and returns how many were written."""
    keys = list(incoming)
    existing: dict[str, tuple[int | None, bool]] = {}
    old: dict[str, str] = {}
    sql = "SELECT key, revision, local, payload FROM cache WHERE account = ? AND entity = ? AND key"
    for key, revision, is_local, payload in select_in(db, sql, (account, entity), keys):
        existing[key] = (revision, bool(is_local))
        old[key] = payload
    skip: set[str] = set()
    if protect:

        def slugs(payload: dict[str, Any]) -> set[str]:
            return {v for kind, v in tags_for(entity, payload) if kind == "slug"}

        slugged = entity in ("project", "activity")
        names_of = {
            key: {key}
            | slugs(incoming[key])
            | (slugs(load_json(old[key])) if slugged and key in old else set())
            for key in keys
        }
        wanted = sorted({name for names in names_of.values() for name in names})
        targeted = _targeted(db, account, entity, wanted)
        if targeted:
            skip = {key for key in keys if names_of[key] & targeted}
    if not force:
        for key, (revision, is_local) in existing.items():
            if is_local or revision is None or key in skip:
                continue
            new_revision = revision_of(incoming[key])
            if new_revision is not None and new_revision < revision:
                skip.add(key)
    if skip:
        skipped += [key for key in keys if key in skip]
    entries = [
        CacheEntry(
            key=key,
            payload=incoming[key],
            revision=revision_of(incoming[key]),
            deleted=incoming[key].get("deleted_at") is not None,
            local=local,
        )
        for key in sorted(keys)  # key order: each index page is visited once per chunk
        if key not in skip
    ]
    put_entries(db, account, entity, entries, now_text, old=old)
    return len(entries)


def get_object(db: sqlite3.Connection, account: str, entity: str, key: str) -> CacheObject | None:
    """The cached object under ``key`` (a local id resolves to its server id)."""
    known = check_entity(entity)
    resolved = idmap.resolve_id(db, account, entity, key)
    row = db.execute(_GET, (account, entity, resolved)).fetchone()
    if row is None and resolved != key:
        row = db.execute(_GET, (account, entity, key)).fetchone()
    return None if row is None else _records(account, known, (row,))[0]


def get_objects(
    db: sqlite3.Connection, account: str, entity: str, keys: Iterable[str]
) -> dict[str, CacheObject]:
    """The cached objects (deleted or not) under those of ``keys`` that are cached."""
    known = check_entity(entity)
    sql = f"SELECT {_COLUMNS} FROM cache WHERE account = ? AND entity = ? AND key"
    rows = select_in(db, sql, (account, entity), sorted(set(keys)))
    return {record.key: record for record in _records(account, known, rows)}


def has_objects(
    db: sqlite3.Connection, account: str, entity: str, *, include_deleted: bool
) -> bool:
    """Whether anything of ``entity`` is cached for the account."""
    sql = (
        "SELECT 1 FROM cache WHERE account = ? AND entity = ?"
        f"{'' if include_deleted else ' AND deleted = 0'} LIMIT 1"
    )
    return db.execute(sql, (account, entity)).fetchone() is not None


def find_by_slug(
    db: sqlite3.Connection, account: str, entity: str, slug: str, *, include_deleted: bool
) -> CacheObject | None:
    """The cached project or activity that has ``slug`` (not deleted, unless asked)."""
    known = check_entity(entity)
    # Prefer live, provisional (newest intent), then server objects.
    sql = (
        f"SELECT {_COLUMNS} FROM cache WHERE account = ? AND entity = ? AND key IN"
        " (SELECT key FROM cache_tags WHERE account = ? AND entity = ? AND tag_kind = 'slug'"
        " AND value = ?)"
        f"{'' if include_deleted else ' AND deleted = 0'}"
        " ORDER BY deleted, local DESC, key LIMIT 1"
    )
    row = db.execute(sql, (account, entity, account, entity, slug)).fetchone()
    return None if row is None else _records(account, known, (row,))[0]


def _day(value: date | str) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class TimesFilter:
    """The filters of :func:`query_times`, normalised (dates as ``YYYY-MM-DD``)."""

    users: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    include_deleted: bool = False

    @classmethod
    def of(
        cls,
        *,
        users: Sequence[str] = (),
        projects: Sequence[str] = (),
        activities: Sequence[str] = (),
        start: date | str | None = None,
        end: date | str | None = None,
        include_deleted: bool = False,
    ) -> TimesFilter:
        """Normalise the arguments of :meth:`Store.query_times`."""
        return cls(
            tuple(users),
            tuple(projects),
            tuple(activities),
            None if start is None else _day(start),
            None if end is None else _day(end),
            include_deleted,
        )


#: One row per time of a join with several matching tags (grouped by the cache's primary
#: key, on which its other columns depend: SQL, not only SQLite, allows them then).
_ONCE = " GROUP BY cache.account, cache.entity, cache.key"
#: The columns of :data:`_COLUMNS`, of the ``cache`` table of a join.
_CACHE_COLUMNS = ", ".join(f"cache.{quoted(name)}" for name in CACHE_RECORD_COLUMNS)


def times_query(account: str, f: TimesFilter) -> tuple[str, list[Any]]:
    """The SELECT (and its parameters) behind :func:`query_times`.

    Every filter can be served by an index, and SQLite's planner chooses which one leads
    from the statistics ``ANALYZE`` keeps (:func:`analyze`): users by
    ``ix_cache_account_entity_user_date_worked`` (with the dates as its range), dates
    by ``ix_cache_account_entity_date_worked``, projects and activities by the tags'
    primary key. A tag filter is a join with the tags (not an ``IN`` subquery, whose
    size the planner cannot estimate and which it builds whole when another filter
    leads), so that the planner weighs it like the others; the filters that do not
    lead are checked on the rows found (a tag by one step of the tags' primary key).
    A time that has two of the wanted slugs of one kind is returned once.
    """
    joins: list[str] = []
    params: list[Any] = []
    for kind, wanted in (("project", f.projects), ("activity", f.activities)):
        if wanted:
            joins.append(
                f" JOIN cache_tags AS {kind} ON {kind}.account = cache.account"
                f" AND {kind}.entity = 'time' AND {kind}.tag_kind = '{kind}'"
                f" AND {kind}.value IN ({_marks(len(wanted))}) AND {kind}.key = cache.key"
            )
            params += wanted
    where = ["cache.account = ?", "cache.entity = 'time'"]
    params.append(account)
    if not f.include_deleted:
        where.append("cache.deleted = 0")
    if f.users:
        where.append(f'cache."user" IN ({_marks(len(f.users))})')
        params += f.users
    if f.start is not None:
        where.append("cache.date_worked >= ?")
        params.append(f.start)
    if f.end is not None:
        where.append("cache.date_worked <= ?")
        params.append(f.end)
    several = len(f.projects) > 1 or len(f.activities) > 1  # (a time may match twice)
    sql = (
        f"SELECT {_CACHE_COLUMNS} FROM cache{''.join(joins)} WHERE {' AND '.join(where)}"
        f"{_ONCE if several else ''} ORDER BY cache.date_worked, cache.key"
    )
    return sql, params


def query_times(db: sqlite3.Connection, account: str, f: TimesFilter) -> list[CacheObject]:
    """Cached times matching every filter of ``f`` (see :meth:`Store.query_times`)."""
    sql, params = times_query(account, f)
    return _records(account, "time", db.execute(sql, params))


def list_objects(
    db: sqlite3.Connection, account: str, entity: str, *, include_deleted: bool
) -> list[CacheObject]:
    """Every cached object of one entity, ordered by key."""
    known = check_entity(entity)
    sql = (
        f"SELECT {_COLUMNS} FROM cache WHERE account = ? AND entity = ?"
        f"{'' if include_deleted else ' AND deleted = 0'} ORDER BY key"
    )
    return _records(account, known, db.execute(sql, (account, entity)))


# (key and values of a cache row, by its account, entity and old key)
_REKEY = (
    f"UPDATE cache SET {', '.join(f'{quoted(name)} = ?' for name in CACHE_COLUMNS[2:])}"
    " WHERE account = ? AND entity = ? AND key = ?"
)
_REKEY_TAG = (
    "UPDATE cache_tags SET key = ?"
    " WHERE account = ? AND entity = ? AND tag_kind = ? AND value = ? AND key = ?"
)


def replace_local(
    db: sqlite3.Connection,
    account: str,
    entity: str,
    local_key: str,
    entry: CacheEntry,
    now_text: str,
) -> None:
    """The server object ``entry`` takes the place of the provisional object cached
    under ``local_key`` (which the server created as ``entry.key``).

    Exactly :func:`remove_object` (``only_local``) then :func:`put_entries`; when the
    server key is not cached yet, done by moving the provisional row and its tags to the
    new key in place (a few statements fewer per acked create).
    """
    rows = db.execute(
        "SELECT key, payload, local FROM cache WHERE account = ? AND entity = ? AND key IN (?, ?)",
        (account, entity, local_key, entry.key),
    ).fetchall()
    found = next((row for row in rows if row[0] == local_key), None)
    old = {row[0]: row[1] for row in rows if row[0] == entry.key}
    provisional = found is not None and bool(found[2])
    if found is None or not provisional or old:
        if provisional:
            remove_object(db, account, entity, local_key, only_local=True)
        put_entries(db, account, entity, (entry,), now_text, old=old)
        return
    values = cache_row(account, entity, entry, now_text)
    db.execute(_REKEY, (entry.key, *values[3:], account, entity, local_key))
    before = tags_for(entity, load_json(found[1]))
    after = tags_for(entity, entry.payload)
    moved = [(entry.key, account, entity, k, v, local_key) for k, v in before if (k, v) in after]
    if moved:
        db.executemany(_REKEY_TAG, moved)
    stale = [(account, entity, k, v, local_key) for k, v in before if (k, v) not in after]
    fresh = [(account, entity, k, v, entry.key) for k, v in after if (k, v) not in before]
    write_rows(db, (), stale, fresh)


def remove_object(
    db: sqlite3.Connection, account: str, entity: str, key: str, *, only_local: bool = False
) -> bool:
    """Delete one cache row and its tags; True if there was one."""
    row = db.execute(
        "SELECT payload, local FROM cache WHERE account = ? AND entity = ? AND key = ?",
        (account, entity, key),
    ).fetchone()
    if row is None or (only_local and not row[1]):
        return False
    tags = tag_rows(account, entity, key, load_json(row[0]))
    if tags:
        db.executemany(_DELETE_TAG, tags)
    db.execute(
        "DELETE FROM cache WHERE account = ? AND entity = ? AND key = ?", (account, entity, key)
    )
    return True


def mark_deleted(
    db: sqlite3.Connection, account: str, entity: str, key: str, now: datetime
) -> None:
    """Flag a cached object deleted after the server confirmed its deletion."""
    row = db.execute(
        "SELECT payload, revision FROM cache WHERE account = ? AND entity = ? AND key = ?",
        (account, entity, key),
    ).fetchone()
    if row is None:
        return
    payload = load_json(row[0])
    if payload.get("deleted_at") is None:
        payload["deleted_at"] = now.date().isoformat()
    put_entries(
        db,
        account,
        entity,
        [CacheEntry(key=key, payload=payload, revision=row[1], deleted=True, local=False)],
        format_utc(now),
        old={key: row[0]},
    )


def keys_starting(
    db: sqlite3.Connection, account: str, entity: str, prefix: str, limit: int
) -> list[str]:
    """Up to ``limit`` keys of cached objects (not deleted) that start with ``prefix``:
    a range scan of the primary key, not a read of every object."""
    check_entity(entity)
    sql = (
        "SELECT key FROM cache WHERE account = ? AND entity = ? AND key >= ? AND key < ?"
        " AND deleted = 0 ORDER BY key LIMIT ?"
    )
    rows = db.execute(sql, (account, entity, prefix, prefix + "\U0010ffff", limit))
    return [str(row[0]) for row in rows]
