"""Wire shapes for login and the current user."""

from __future__ import annotations

from typing import Annotated

import msgspec


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class LoginResponse(msgspec.Struct):
    token: str
    token_type: str
    expires_in: int  # seconds
    user: CurrentUser


class CurrentUser(msgspec.Struct, frozen=True):
    """Who is asking: carried on every authenticated request as ``request.user``."""

    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    # Building ids this user may see; None means the whole estate.
    building_ids: tuple[int, ...] | None

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def may_see_building(self, building_id: int | None) -> bool:
        if self.building_ids is None:
            return True
        return building_id is not None and building_id in self.building_ids
