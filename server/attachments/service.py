"""Storing uploaded photos: idempotent by the client's UUID, checked by their sha256."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.attachments.models import Attachment
from server.auth.schemas import CurrentUser
from server.errors import Conflict, InvalidInput, NotFound

MAX_BYTES = 4 * 1024 * 1024  # the phone sends ≤ 1600 px JPEGs, typically 200–600 kB
# Magic numbers: the declared type must match what the bytes are.
SIGNATURES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}


async def store(session: AsyncSession, user: CurrentUser, attachment_id: str, content_type: str,
                data: bytes, now: datetime) -> tuple[Attachment, bool]:
    """Store the bytes under the client's id; (attachment, created). Same id + same bytes: not redone."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in SIGNATURES:
        raise InvalidInput.at("Content-Type", "Only JPEG and PNG photos are accepted.", "unsupported",
                              "header")
    if not data:
        raise InvalidInput.at("body", "The photo is empty.", "empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput.at("body", f"The photo is larger than {MAX_BYTES // 1024 // 1024} MB.",
                              "too large")
    if not data.startswith(SIGNATURES[kind]):
        raise InvalidInput.at("body", f"The bytes are not a {kind} image.", "not an image")
    digest = hashlib.sha256(data).hexdigest()
    earlier = await session.get(Attachment, attachment_id)
    if earlier is not None:
        return _same_or_conflict(earlier, digest), False
    try:
        async with session.begin_nested():
            await session.execute(insert(Attachment).values(
                id=attachment_id, sha256=digest, content_type=kind, size=len(data), data=data,
                uploaded_by_id=user.id, created_at=now))
    except IntegrityError:
        # Two retries raced: whoever won, the bytes must be the same ones.
        winner = await session.get(Attachment, attachment_id, populate_existing=True)
        if winner is None:
            raise
        return _same_or_conflict(winner, digest), False
    stored = await session.get(Attachment, attachment_id)
    assert stored is not None
    return stored, True


def _same_or_conflict(earlier: Attachment, digest: str) -> Attachment:
    if earlier.sha256 != digest:
        raise Conflict("A different photo was already uploaded with this id; nothing was changed.",
                       attachment_id=earlier.id)
    return earlier


async def fetch(session: AsyncSession, attachment_id: str) -> Attachment:
    found = await session.get(Attachment, attachment_id)
    if found is None:
        raise NotFound(f"No attachment {attachment_id}.")
    return found
