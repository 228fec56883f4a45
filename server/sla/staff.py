"""Who holds a role at a site: the people an escalation pushes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.models import StaffUser, staff_buildings
from server.estates.models import Building


class StaffDirectory:
    """Active staff and their buildings, read once per sweep (the staff table is small)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._staff: list[tuple[int, set[str], dict[int, int]]] | None = None

    async def _load(self) -> list[tuple[int, set[str], dict[int, int]]]:
        if self._staff is None:
            users = (await self._session.execute(
                select(StaffUser.id, StaffUser.roles).where(StaffUser.active.is_(True))
                .order_by(StaffUser.id))).all()
            scope: dict[int, dict[int, int]] = {}
            for user_id, building_id, site_id in await self._session.execute(
                    select(staff_buildings.c.user_id, staff_buildings.c.building_id, Building.site_id)
                    .join(Building, Building.id == staff_buildings.c.building_id)):
                scope.setdefault(user_id, {})[building_id] = site_id
            self._staff = [(uid, set(roles or []), scope.get(uid, {})) for uid, roles in users]
        return self._staff

    async def ids_for(self, roles: list[str], site_id: int, building_id: int | None) -> list[int]:
        """Staff holding any of ``roles`` who cover the ticket's building (or the whole estate).

        Someone with no buildings covers the estate (the supervisor, the manager); a
        building specialist only their buildings — the one of the ticket, or any of the
        site when the ticket has none.
        """
        wanted = set(roles)
        ids = []
        for user_id, held, buildings in await self._load():
            if not held & wanted:
                continue
            covers = (not buildings  # estate-wide
                      or (building_id in buildings if building_id is not None
                          else site_id in buildings.values()))
            if covers:
                ids.append(user_id)
        return ids
