"""The desk stream's log: one row per ticket or device change, in the change's transaction.

Any server process can serve the stream by reading this table, and a desk that
reconnects with Last-Event-ID gets every row after it. On PostgreSQL, concurrent
writers would commit ids out of order (a reader could pass id 11 before 10 is
visible); a transaction-scoped advisory lock serialises the few writers of this
table so ids become visible in order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.tickets.models import DeskEvent

_DESK_EVENTS_LOCK = 7_331_001  # an arbitrary constant naming this table's writer lock


async def serialise_writers(session: AsyncSession) -> None:
    """Take the desk events lock for the rest of this transaction (PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DESK_EVENTS_LOCK})


async def record(
    session: AsyncSession, *, topic: str, entity_id: int, action: str, building_id: int | None, at: datetime
) -> None:
    await serialise_writers(session)
    await session.execute(
        insert(DeskEvent).values(
            topic=topic, entity_id=entity_id, action=action, building_id=building_id, at=at
        )
    )
