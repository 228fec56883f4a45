"""PUT/GET /api/attachments/{uuid}: photos uploaded by the phone before the records that use them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, put
from litestar.datastructures import State
from litestar.params import FromPath

from server.attachments import service
from server.attachments.service import MAX_BYTES
from server.deps import DbSession, User
from server.errors import InvalidInput
from server.tickets.schemas_write import ClientId


class AttachmentController(Controller):
    path = "/api/attachments"
    tags = ["attachments"]

    @put("/{attachment_id:str}", status_code=201, request_max_body_size=MAX_BYTES + 1,
         summary="Upload a JPEG or PNG under a client-made UUID (idempotent)")
    async def upload(self, attachment_id: FromPath[str], db: DbSession, user: User, state: State,
                     request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        _check_id(attachment_id)
        body = await request.body()
        stored, created = await service.store(db, user, attachment_id.lower(),
                                              request.headers.get("content-type", ""), body, state.clock())
        return Response({"id": stored.id, "sha256": stored.sha256, "size": stored.size,
                         "content_type": stored.content_type}, status_code=201 if created else 200)

    @get("/{attachment_id:str}", summary="The photo's bytes (staff only)")
    async def download(self, attachment_id: FromPath[str], db: DbSession, user: User) -> Response[bytes]:
        # Every role here is staff: residents have no accounts. Photos are not building-scoped
        # data beyond their (unguessable, client-made) UUID.
        _check_id(attachment_id)
        found = await service.fetch(db, attachment_id.lower())
        return Response(found.data, media_type=found.content_type,
                        headers={"Cache-Control": "private, max-age=86400", "ETag": f'"{found.sha256}"'})


def _check_id(value: str) -> None:
    import msgspec

    try:
        msgspec.convert(value, ClientId)
    except msgspec.ValidationError:
        raise InvalidInput.at("attachment_id", "The attachment id must be a UUID.", "not a UUID",
                              "path") from None


ATTACHMENT_ROUTES: list[Any] = [AttachmentController]
