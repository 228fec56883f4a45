"""`python -m tests.pwa.serve`: `fieldops serve` plus the patrol routes and checkpoints.

Until the lead wires PATROL_ROUTES/ATTACHMENT_ROUTES into create_app and the checkpoint
seed into `fieldops demo`, browser tests run the server through this (it does nothing
extra once they are wired).
"""

from __future__ import annotations

import asyncio

import uvicorn

from server.app import create_app
from server.db import create_engine, create_sessionmaker
from server.patrols.seed import seed_checkpoints
from server.settings import Settings
from tests.pwa.support import with_patrol_routes


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await seed_checkpoints(session)
    finally:
        await engine.dispose()


def main() -> None:
    settings = Settings.from_env()
    asyncio.run(_seed(settings.database_url))
    app = with_patrol_routes(create_app(settings))
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
