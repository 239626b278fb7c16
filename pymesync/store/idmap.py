"""Local ids of objects created offline, and the server ids they became.

Functions here work inside a transaction the caller opened; they never commit.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .schema import IdMapRow, id_map_table

__all__ = ["local_id_for", "local_ids_for", "map_id", "resolve_id"]


def map_id(session: Session, account: str, entity: str, local_id: str, server_id: str) -> None:
    """Record that ``local_id`` is now ``server_id`` on the server (last write wins)."""
    if local_id == server_id:
        return
    session.flush()
    session.execute(
        delete(IdMapRow)
        .where(
            IdMapRow.account == account,
            IdMapRow.entity == entity,
            IdMapRow.server_id == server_id,
            IdMapRow.local_id != local_id,
        )
        .execution_options(synchronize_session=False)
    )
    stmt = sqlite_insert(id_map_table).values(
        account=account, entity=entity, local_id=local_id, server_id=server_id
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account", "entity", "local_id"],
            set_={"server_id": stmt.excluded.server_id},
        )
    )


def resolve_id(session: Session, account: str, entity: str, ident: str) -> str:
    """The server id ``ident`` maps to, or ``ident`` itself when it is not a mapped local id."""
    server_id = session.scalar(
        select(IdMapRow.server_id).where(
            IdMapRow.account == account,
            IdMapRow.entity == entity,
            IdMapRow.local_id == ident,
        )
    )
    return ident if server_id is None else server_id


def local_id_for(session: Session, account: str, entity: str, server_id: str) -> str | None:
    """The local id that became ``server_id``, if any."""
    return session.scalar(
        select(IdMapRow.local_id).where(
            IdMapRow.account == account,
            IdMapRow.entity == entity,
            IdMapRow.server_id == server_id,
        )
    )


def local_ids_for(session: Session, account: str, entity: str, server_id: str) -> list[str]:
    """Every local id that maps to ``server_id`` (normally zero or one)."""
    return list(
        session.scalars(
            select(IdMapRow.local_id).where(
                IdMapRow.account == account,
                IdMapRow.entity == entity,
                IdMapRow.server_id == server_id,
            )
        )
    )
