"""PUT/GET /api/attachments/{uuid}: idempotent upload, conflict on other bytes, type and size checks."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from server.attachments.service import MAX_BYTES
from tests.conftest import login
from tests.pwa.support import TINY_JPEG

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


async def test_upload_is_idempotent_and_conflicts_on_other_bytes(pclient: AsyncTestClient[Litestar]) -> None:
    headers = await login(pclient, "spec1")
    photo = str(uuid.uuid4())
    first = await pclient.put(
        f"/api/attachments/{photo}", content=TINY_JPEG, headers={**headers, "Content-Type": "image/jpeg"}
    )
    assert first.status_code == 201, first.text
    again = await pclient.put(
        f"/api/attachments/{photo}", content=TINY_JPEG, headers={**headers, "Content-Type": "image/jpeg"}
    )
    assert again.status_code == 200
    assert again.json()["sha256"] == first.json()["sha256"]
    other = await pclient.put(
        f"/api/attachments/{photo}",
        content=TINY_JPEG + b"x",
        headers={**headers, "Content-Type": "image/jpeg"},
    )
    assert other.status_code == 409
    assert other.json()["attachment_id"] == photo
    got = await pclient.get(f"/api/attachments/{photo}", headers=headers)
    assert got.status_code == 200
    assert got.content == TINY_JPEG
    assert got.headers["content-type"] == "image/jpeg"


async def test_only_jpeg_and_png_within_the_size_cap(pclient: AsyncTestClient[Litestar]) -> None:
    headers = await login(pclient, "spec1")

    async def put(body: bytes, content_type: str) -> int:
        response = await pclient.put(
            f"/api/attachments/{uuid.uuid4()}",
            content=body,
            headers={**headers, "Content-Type": content_type},
        )
        return response.status_code

    assert await put(PNG, "image/png") == 201
    assert await put(b"GIF89a....", "image/gif") == 422
    assert await put(b"not a jpeg", "image/jpeg") == 422  # the bytes must match the declared type
    assert await put(b"", "image/jpeg") == 422
    assert await put(TINY_JPEG + b"\0" * MAX_BYTES, "image/jpeg") in (413, 422)


async def test_attachments_need_a_login_and_a_uuid(pclient: AsyncTestClient[Litestar]) -> None:
    assert (await pclient.get(f"/api/attachments/{uuid.uuid4()}")).status_code == 401
    headers = await login(pclient, "spec1")
    assert (await pclient.get("/api/attachments/not-a-uuid", headers=headers)).status_code == 422
    assert (await pclient.get(f"/api/attachments/{uuid.uuid4()}", headers=headers)).status_code == 404
