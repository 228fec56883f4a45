"""Accounts and credentials: hashing, lookup, creation. No web framework here."""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import ESTATE_WIDE_ROLES, Role, StaffUser, staff_buildings
from server.auth.schemas import CurrentUser
from server.errors import InvalidInput
from server.estates.models import Building

_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("fieldops-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(session: AsyncSession, username: str, password: str) -> CurrentUser | None:
    """The user for these credentials, or None (same answer for unknown and wrong)."""
    user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return await load_current_user(session, user.id)


async def load_current_user(session: AsyncSession, user_id: int) -> CurrentUser | None:
    user = await session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    roles = tuple(user.roles)
    building_ids: tuple[int, ...] | None = None
    if not any(r in ESTATE_WIDE_ROLES for r in roles):
        rows = await session.scalars(
            select(staff_buildings.c.building_id).where(staff_buildings.c.user_id == user.id)
        )
        building_ids = tuple(sorted(rows))
    return CurrentUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=roles,
        building_ids=building_ids,
    )


async def create_or_update_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    display_name: str | None = None,
    building_slugs: Iterable[str] = (),
    phone: str | None = None,
) -> StaffUser:
    """Create the user, or reset password, roles and buildings of an existing one (idempotent)."""
    role_list = sorted(set(roles))
    unknown = [r for r in role_list if r not in Role.__members__.values()]
    if not role_list or unknown:
        raise InvalidInput(
            f"unknown role(s) {unknown or '(none)'}; choose from {', '.join(r.value for r in Role)}"
        )
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters")
    buildings = []
    for slug in building_slugs:
        building = await session.scalar(select(Building).where(Building.slug == slug))
        if building is None:
            raise InvalidInput(f"no building {slug!r}; load the estate first (fieldops demo)")
        buildings.append(building)
    user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        user = StaffUser(username=username, display_name=display_name or username,
                         password_hash="", roles=[])
        session.add(user)
    user.password_hash = hash_password(password)
    user.roles = role_list
    user.active = True
    if display_name:
        user.display_name = display_name
    if phone:
        user.phone = phone
    await session.flush()
    await session.execute(staff_buildings.delete().where(staff_buildings.c.user_id == user.id))
    if buildings:
        await session.execute(
            staff_buildings.insert(),
            [{"user_id": user.id, "building_id": b.id} for b in buildings],
        )
    return user
