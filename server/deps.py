"""Request-scoped dependencies: one session = one unit of work (conventions.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.schemas import CurrentUser
from server.db import write_session
from server.tickets.publish import publish_committed

# Handler parameters named `db` and `user` receive these (Litestar named dependencies).
DbSession = NamedDependency[AsyncSession]
User = NamedDependency[CurrentUser]


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def provide_session(state: State, request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction: committed when the handler returns, rolled back on error.

    Writes take SQLite's write lock up front; reads never queue for it (server/db.py).
    """
    if request.method in READ_METHODS:
        async with state.sessionmaker() as session, session.begin():
            yield session
    else:
        async with write_session(state.sessionmaker) as session:
            yield session
        publish_committed(request)  # committed: the desk hears of it before the response goes out


def provide_user(request: Request[Any, Any, Any]) -> CurrentUser:
    user = request.user
    assert isinstance(user, CurrentUser)  # the JWT middleware guarantees it off the public paths
    return user


def client_label(request: Request[Any, Any, Any]) -> str:
    """Which client made a change, for the audit log: the X-Fieldops-Client header or 'api'."""
    raw = request.headers.get("x-fieldops-client", "api")
    return raw[:100] or "api"
