"""The demo estate 新外滩 (xinwaitan): two buildings, 18 floors × 4 units, their devices and staff.

Deterministic (seeded) so the demo, the simulator file and the tests agree. Loading
is idempotent: existing rows are kept and only what is missing is added.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth.service import create_or_update_user
from server.devices.models import Device
from server.estates.models import Building, Resident, ResidentRole, Site, Unit, UnitState

SITE_SLUG = "xinwaitan"
SITE_NAME = "新外滩"
TIMEZONE = "Asia/Shanghai"
FLOORS = 18
UNITS_PER_FLOOR = 4
BUILDINGS = (("b1", "1#楼", ("b1-el1", "b1-el2")), ("b2", "2#楼", ("b2-el1",)))
FIRST_MOVE_IN = date(2025, 9, 1)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
          "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "志强", "晓燕",
          "海燕", "子涵", "浩然", "雨桐", "欣怡", "宇轩", "梓萱", "俊杰", "思远", "嘉怡")


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    display_name: str
    buildings: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser("desk", "demo-desk", "desk", "客服中心 王芳"),
    DemoUser("spec1", "demo-spec1", "specialist", "1#楼专员 李明", ("b1",)),
    DemoUser("spec2", "demo-spec2", "specialist", "2#楼专员 陈静", ("b2",)),
    DemoUser("engineer", "demo-engineer", "engineer", "工程部 赵强"),
    DemoUser("supervisor", "demo-supervisor", "supervisor", "客服主管 刘洋"),
    DemoUser("manager", "demo-manager", "manager", "客服部经理 孙丽"),
    DemoUser("admin", "demo-admin", "admin", "系统管理员"),
)


@dataclass
class PlannedUnit:
    building: str
    slug: str
    floor: int
    number: str
    state: UnitState
    handed_over_on: date | None
    owner: str | None
    phone: str | None


@dataclass
class PlannedDevice:
    slug: str
    building: str
    kind: str
    role: str
    unit: str | None = None
    vendor: str | None = None
    name: str | None = None


@dataclass
class EstatePlan:
    units: list[PlannedUnit] = field(default_factory=list)
    devices: list[PlannedDevice] = field(default_factory=list)


def plan_estate(seed: int = 2026) -> EstatePlan:
    """What the demo estate holds, without touching a database."""
    rng = random.Random(seed)
    plan = EstatePlan()
    for building, _name, elevators in BUILDINGS:
        for floor in range(1, FLOORS + 1):
            for n in range(1, UNITS_PER_FLOOR + 1):
                slug = f"{building}-{floor:02d}{n:02d}"
                roll = rng.random()
                state = (UnitState.VACANT if roll < 0.25
                         else UnitState.RENOVATING if roll < 0.35 else UnitState.OCCUPIED)
                handed = FIRST_MOVE_IN + timedelta(days=rng.randrange(0, 420))
                owner = phone = None
                if state is not UnitState.VACANT:
                    owner = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
                    phone = f"1{rng.choice('3589')}{rng.randrange(0, 10**9):09d}"
                plan.units.append(PlannedUnit(
                    building=building, slug=slug, floor=floor, number=f"{n:02d}", state=state,
                    handed_over_on=handed if state is not UnitState.VACANT else None,
                    owner=owner, phone=phone))
                for quantity, vendor in (("water", "宁水"), ("electricity", "威胜"), ("gas", "金卡")):
                    plan.devices.append(PlannedDevice(
                        f"{slug}-{quantity[0]}", building, "meter", quantity, slug, vendor))
                if state is UnitState.OCCUPIED:
                    plan.devices.append(PlannedDevice(
                        f"{slug}-ic", building, "intercom", "indoor_unit", slug, "立林"))
        for el in elevators:
            plan.devices.append(PlannedDevice(el, building, "elevator", "passenger", None, "日立",
                                              f"{el[-1]}号梯"))
        plan.devices += [
            PlannedDevice(f"{building}-ic-door", building, "intercom", "door_station", None, "立林",
                          "单元门口机"),
            PlannedDevice(f"{building}-door-main", building, "access", "main_door", None, "esp-rfid",
                          "单元大门"),
            PlannedDevice(f"{building}-door-garage", building, "access", "garage_door", None,
                          "esp-rfid", "地库门"),
            PlannedDevice(f"{building}-smoke-mr", building, "sensor", "smoke", None, "Aqara",
                          "电梯机房烟感"),
            PlannedDevice(f"{building}-leak-pump", building, "sensor", "water_leak", None, "Aqara",
                          "水泵房水浸"),
        ]
    return plan


async def load_demo_estate(session: AsyncSession, seed: int = 2026) -> dict[str, int]:
    """Add whatever of the demo estate is missing; return how many rows of each were added."""
    plan = plan_estate(seed)
    added = {"sites": 0, "buildings": 0, "units": 0, "residents": 0, "devices": 0, "users": 0}
    site = await session.scalar(select(Site).where(Site.slug == SITE_SLUG))
    if site is None:
        site = Site(slug=SITE_SLUG, name=SITE_NAME, timezone=TIMEZONE, options={},
                    first_move_in_on=FIRST_MOVE_IN)
        session.add(site)
        await session.flush()
        added["sites"] += 1
    buildings: dict[str, Building] = {
        b.slug: b for b in await session.scalars(select(Building).where(Building.site_id == site.id))
    }
    for slug, name, _ in BUILDINGS:
        if slug not in buildings:
            buildings[slug] = Building(site_id=site.id, slug=slug, name=name, floors=FLOORS)
            session.add(buildings[slug])
            added["buildings"] += 1
    await session.flush()
    units: dict[str, Unit] = {
        u.slug: u for u in await session.scalars(
            select(Unit).where(Unit.building_id.in_([b.id for b in buildings.values()])))
    }
    new_units = []
    for pu in plan.units:
        if pu.slug in units:
            continue
        unit = Unit(building_id=buildings[pu.building].id, slug=pu.slug, floor=pu.floor,
                    number=pu.number, state=pu.state, handed_over_on=pu.handed_over_on,
                    area_m2=round(89 + 3.5 * int(pu.number), 1))
        units[pu.slug] = unit
        new_units.append((unit, pu))
    session.add_all([u for u, _ in new_units])
    await session.flush()
    for unit, pu in new_units:
        added["units"] += 1
        if pu.owner:
            session.add(Resident(unit_id=unit.id, name=pu.owner, phone=pu.phone,
                                 role=ResidentRole.OWNER, moved_in_on=pu.handed_over_on))
            added["residents"] += 1
    existing_devices = set(await session.scalars(select(Device.slug).where(Device.site_id == site.id)))
    for pd in plan.devices:
        if pd.slug in existing_devices:
            continue
        session.add(Device(site_id=site.id, building_id=buildings[pd.building].id,
                           unit_id=units[pd.unit].id if pd.unit else None, kind=pd.kind,
                           slug=pd.slug, role=pd.role, vendor=pd.vendor, name=pd.name))
        added["devices"] += 1
    await session.flush()
    from server.auth.models import StaffUser  # local: only the demo needs the existence check

    existing_users = set(await session.scalars(select(StaffUser.username)))
    for user in DEMO_USERS:
        if user.username in existing_users:
            continue  # never reset a password someone may have changed
        await create_or_update_user(session, username=user.username, password=user.password,
                                    roles=[user.role], display_name=user.display_name,
                                    building_slugs=user.buildings)
        added["users"] += 1
    return added


def simulator_toml(seed: int = 2026) -> str:
    """The demo estate in the bridge simulator's estate-file format (device_bridge/examples)."""
    plan = plan_estate(seed)
    lines = [
        "# The demo estate 新外滩, exported by `fieldops demo --export-simulator`.",
        "# Read by `fieldops bridge --simulate` to make realistic traffic; do not edit by hand.",
        "",
        "[site]",
        f'slug = "{SITE_SLUG}"',
        f'timezone = "{TIMEZONE}"',
    ]
    for u in plan.units:
        lines += ["", "[[units]]", f'slug = "{u.slug}"', f'building = "{u.building}"',
                  f"floor = {u.floor}", f'state = "{u.state.value}"']
    for d in plan.devices:
        quantity = d.role if d.kind == "meter" else ""
        lines += ["", "[[devices]]", f'slug = "{d.slug}"', f'building = "{d.building}"',
                  f'kind = "{d.kind}"', f'unit = "{d.unit or ""}"', f'quantity = "{quantity}"',
                  f'role = "{d.role}"']
    return "\n".join(lines) + "\n"
