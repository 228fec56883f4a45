"""Ids in requests: row ids are 32-bit (server/db.py MAX_ID); a larger one names nothing."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request

from server.db import MAX_ID
from server.errors import NotFound

DbId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID, description="A row id")]


def in_range(value: int) -> bool:
    return 1 <= value <= MAX_ID


async def check_path_ids(request: Request[Any, Any, Any]) -> None:
    """before_request: /api/tickets/99999999999 is a ticket that does not exist (404), not a
    number PostgreSQL cannot hold (a 500)."""
    for name, value in request.path_params.items():
        if name.endswith("_id") and isinstance(value, int) and not in_range(value):
            raise NotFound(f"No {name.removesuffix('_id')} {value}.")
