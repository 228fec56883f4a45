"""SQLite writers in one process queue in arrival order and never fail with "database is locked"."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from server.db import create_engine, create_sessionmaker, write_session


async def test_writers_take_turns_in_arrival_order_and_all_commit(sqlite_demo_url: str) -> None:
    engine = create_engine(sqlite_demo_url, poolclass=NullPool)
    sessions = create_sessionmaker(engine)
    async with write_session(sessions) as session:
        await session.execute(text("CREATE TABLE turns (n INTEGER, inside INTEGER)"))
    inside = 0
    entered = asyncio.Event()

    async def writer(n: int) -> None:
        nonlocal inside
        async with write_session(sessions) as session:
            inside += 1
            entered.set()
            # Each reads, yields to the others, then writes what it read: a second writer
            # inside at the same time would either see inside == 2 or fail on the upgrade.
            await session.execute(text("SELECT count(*) FROM turns"))
            await asyncio.sleep(0.01)
            await session.execute(text("INSERT INTO turns VALUES (:n, :inside)"), {"n": n, "inside": inside})
            inside -= 1

    try:
        first = asyncio.create_task(writer(0))
        await entered.wait()  # the first holds the turn; the rest queue behind it in order
        await asyncio.gather(first, *(writer(n) for n in range(1, 8)))
        async with sessions() as session:
            rows = (await session.execute(text("SELECT n, inside FROM turns ORDER BY rowid"))).all()
        assert [tuple(r) for r in rows] == [(n, 1) for n in range(8)]
    finally:
        await engine.dispose()
