"""Every alarm rule, driven by real MQTT messages through a real broker into the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.devices.models import Device, DeviceEvent
from server.estates.models import AccessCard, Resident, Unit
from server.ingest.models import DeadLetter
from server.tickets.models import Ticket, TicketAudit
from tests.ingest.conftest import Harness, eventually
from tests.support.publisher import event, reading, topic

pytestmark = pytest.mark.broker


async def _one_ticket(h: Harness, **filters: object) -> Ticket:
    async def probe() -> list[Ticket]:
        return await h.tickets(**filters)

    found = await eventually(probe, lambda ts: len(ts) >= 1)
    assert len(found) == 1, found
    return found[0]


async def _audit(h: Harness, ticket_id: int) -> list[str]:
    async with h.db() as session:
        rows = await session.scalars(select(TicketAudit.action).where(TicketAudit.ticket_id == ticket_id)
                                     .order_by(TicketAudit.id))
        return list(rows)


async def test_trapped_passenger_is_critical_due_in_15_minutes_and_never_auto_resolves(
    h: Harness,
) -> None:
    h.publisher.publish(topic("b1-el1"), event("elevator.trapped", alarm="raise", data={"floor": 12}))
    ticket = await _one_ticket(h, type="elevator.trapped")
    assert ticket.severity == "critical"
    assert ticket.kind == "alarm"
    assert ticket.status == "new"
    assert "12层" in ticket.title
    assert ticket.on_site_due_at - ticket.opened_at == timedelta(minutes=15)  # 15-minute promise
    assert ticket.ack_due_at - ticket.opened_at == timedelta(minutes=2)

    h.publisher.publish(topic("b1-el1"), event("elevator.trapped", alarm="clear"))
    await h.settled()
    [ticket] = await h.tickets(type="elevator.trapped")
    assert ticket.cleared_at is not None
    assert ticket.status == "new"  # a person confirms the rescue
    assert ticket.active_key is not None

    h.publisher.publish(topic("b1-el1"), event("elevator.trapped", alarm="raise"))
    await h.settled()
    [ticket] = await h.tickets(type="elevator.trapped")
    assert ticket.occurrences == 2
    assert await _audit(h, ticket.id) == ["opened", "cleared", "repeated"]


@pytest.mark.parametrize(
    ("device", "type_", "alarm", "severity"),
    [
        ("b1-smoke-mr", "sensor.smoke", "raise", "critical"),
        ("b1-leak-pump", "sensor.water_leak", "raise", "high"),
        ("b1-0101-w", "meter.leak", "raise", "high"),
        ("b1-door-main", "access.forced", None, "high"),
        ("b2-el1", "elevator.fault", "raise", "normal"),
        ("b1-ic-door", "intercom.fault", "raise", "normal"),
    ],
)
async def test_severity_by_type(
    h: Harness, device: str, type_: str, alarm: str | None, severity: str
) -> None:
    data = {"code": "E32"} if type_ == "elevator.fault" else {}
    h.publisher.publish(topic(device), event(type_, alarm=alarm, data=data))
    ticket = await _one_ticket(h, type=type_)
    assert ticket.severity == severity
    async with h.db() as session:
        assert (await session.scalar(select(Device.slug).where(Device.id == ticket.device_id))) == device


async def test_fault_clear_auto_resolves_and_flapping_reopens_the_same_ticket(h: Harness) -> None:
    el = topic("b2-el1")
    h.publisher.publish(el, event("elevator.fault", alarm="raise", data={"code": "E32"}))
    first = await _one_ticket(h, type="elevator.fault")
    h.publisher.publish(el, event("elevator.fault", alarm="clear", data={"code": "E32"}))
    await h.settled()
    [ticket] = await h.tickets(type="elevator.fault")
    assert ticket.status == "resolved"
    assert ticket.auto_resolved
    assert ticket.active_key is None

    h.clock.advance(120)  # within the 5-minute re-open window
    h.publisher.publish(el, event("elevator.fault", alarm="raise", data={"code": "E32"}))
    await h.settled()
    [ticket] = await h.tickets(type="elevator.fault")
    assert ticket.id == first.id
    assert ticket.status == "new"
    assert ticket.reopened == 1
    assert await _audit(h, ticket.id) == ["opened", "auto_resolved", "reopened"]

    h.publisher.publish(el, event("elevator.fault", alarm="clear", data={"code": "E32"}))
    await h.settled()
    h.clock.advance(6 * 60)  # past the window: a new raise is a new ticket
    h.publisher.publish(el, event("elevator.fault", alarm="raise", data={"code": "E41"}))
    await h.settled()
    tickets = await h.tickets(type="elevator.fault")
    assert [t.status for t in tickets] == ["resolved", "new"]


async def _call(h: Harness, call_id: str, phase: str, to: str = "desk") -> None:
    h.publisher.publish(topic("b1-ic-door"), event(
        "intercom.call", data={"call_id": call_id, "phase": phase, "from_unit": "b1-0203", "to": to}))


async def test_missed_intercom_call_opens_a_callback(h: Harness) -> None:
    await _call(h, "c-missed", "ringing")
    await _call(h, "c-answered", "ringing")
    await _call(h, "c-to-unit", "ringing", to="b1-1203")
    await h.settled()
    h.clock.advance(10)
    await _call(h, "c-answered", "answered")
    await h.settled()
    await h.sweep()
    assert await h.tickets(kind="callback") == []  # still within three rings

    h.clock.advance(6)  # 16 s after ringing
    await h.sweep()
    [callback] = await h.tickets(kind="callback")
    assert callback.context["call_id"] == "c-missed"
    assert callback.source == "intercom"
    assert "b1-0203" in callback.title
    await h.sweep()
    assert len(await h.tickets(kind="callback")) == 1  # swept once, opened once

    await _call(h, "c-hung-up", "ringing")
    await _call(h, "c-hung-up", "ended")  # hung up unanswered: no need to wait
    await h.settled()
    assert sorted(t.context["call_id"] for t in await h.tickets(kind="callback")) == ["c-hung-up",
                                                                                       "c-missed"]


async def _unit(h: Harness, state: str) -> Unit:
    async with h.db() as session:
        unit = await session.scalar(select(Unit).where(Unit.state == state).order_by(Unit.slug).limit(1))
        assert unit is not None
        return unit


async def test_consumption_in_a_vacant_unit_means_possible_occupation(h: Harness) -> None:
    vacant, occupied = await _unit(h, "vacant"), await _unit(h, "occupied")
    t0 = h.clock.now - timedelta(hours=20)
    for unit in (vacant, occupied):
        meter = topic(f"{unit.slug}-w", "reading")
        h.publisher.publish(meter, reading("water", 10.0, ts=t0, unit=unit.slug))
        h.publisher.publish(meter, reading("water", 10.02, ts=t0 + timedelta(hours=5), unit=unit.slug))
    await h.settled()
    assert await h.tickets(type="unit.possible_occupation") == []  # 0.02 m3 is below 0.05

    for unit in (vacant, occupied):
        h.publisher.publish(topic(f"{unit.slug}-w", "reading"),
                            reading("water", 10.3, ts=t0 + timedelta(hours=19), unit=unit.slug))
    ticket = await _one_ticket(h, type="unit.possible_occupation")
    await h.settled()
    assert ticket.unit_id == vacant.id
    assert ticket.context["quantity"] == "water"
    assert ticket.context["used"] == pytest.approx(0.3)
    assert len(await h.tickets(type="unit.possible_occupation")) == 1


async def test_card_handed_over_for_a_vacant_unit_feeds_the_occupancy_rule(h: Harness) -> None:
    vacant = await _unit(h, "vacant")
    async with h.db() as session, session.begin():
        site_id = await session.scalar(select(Device.site_id).limit(1))
        resident = Resident(unit_id=vacant.id, name="周杰", phone="13900000000")
        session.add(resident)
        await session.flush()
        session.add(AccessCard(site_id=site_id, card_number="0012345678", unit_id=vacant.id,
                               resident_id=resident.id, holder="周杰"))
    h.publisher.publish(topic("b1-door-main"), event("access.granted", data={"card": "0012345678",
                                                                              "door": "main"}))
    h.publisher.publish(topic("b1-door-main"), event("access.granted", data={"card": "9999"}))
    ticket = await _one_ticket(h, type="unit.possible_occupation")
    assert ticket.unit_id == vacant.id
    assert ticket.context["evidence"] == "card"
    async with h.db() as session:
        attributed = (await session.execute(select(DeviceEvent.unit_id, DeviceEvent.resident_id)
                                            .where(DeviceEvent.type == "access.granted")
                                            .order_by(DeviceEvent.id))).all()
    assert attributed[0] == (vacant.id, resident.id)
    assert attributed[1] == (None, None)


async def test_door_held_open_longer_than_the_threshold(h: Harness) -> None:
    door = topic("b2-door-garage")
    h.publisher.publish(door, event("access.held_open", alarm="raise"))
    await h.settled()
    h.clock.advance(60)
    await h.sweep()
    assert await h.tickets(type="access.held_open") == []  # debounced: not yet two minutes

    h.clock.advance(61)
    await h.sweep()
    [ticket] = await h.tickets(type="access.held_open")
    assert ticket.status == "new"
    await h.sweep()
    assert len(await h.tickets(type="access.held_open")) == 1

    h.publisher.publish(door, event("access.held_open", alarm="clear"))
    await h.settled()
    [ticket] = await h.tickets(type="access.held_open")
    assert ticket.status == "resolved"

    # Held open briefly: closed again before the threshold, no ticket.
    h.clock.advance(600)
    h.publisher.publish(door, event("access.held_open", alarm="raise"))
    await h.settled()
    h.clock.advance(30)
    h.publisher.publish(door, event("access.held_open", alarm="clear"))
    await h.settled()
    h.clock.advance(200)
    await h.sweep()
    assert len(await h.tickets(type="access.held_open")) == 1


async def test_five_denied_cards_in_a_minute_open_one_security_ticket(h: Harness) -> None:
    t0 = h.clock.now
    for i in range(4):
        h.publisher.publish(topic("b1-door-garage"), event(
            "access.denied", ts=t0 + timedelta(seconds=i), data={"card": f"bad{i}"}))
    for i in range(4):  # spread over five minutes at another door: no burst
        h.publisher.publish(topic("b2-door-main"), event(
            "access.denied", ts=t0 + timedelta(minutes=i + 1), data={"card": f"x{i}"}))
    await h.settled()
    assert await h.tickets(type="access.denied_burst") == []

    for i in range(4, 7):
        h.publisher.publish(topic("b1-door-garage"), event(
            "access.denied", ts=t0 + timedelta(seconds=i), data={"card": f"bad{i}"}))
    await h.settled()
    [ticket] = await h.tickets(type="access.denied_burst")
    assert ticket.severity == "high"
    assert ticket.occurrences == 3  # the fifth opened it, the sixth and seventh counted on it


async def test_device_offline_past_its_grace_opens_a_ticket_and_online_resolves_it(h: Harness) -> None:
    for device in ("b1-el2", "b1-0101-e"):
        h.publisher.publish(topic(device, "status"), {"state": "online"}, retain=True)
    await h.settled()
    for device in ("b1-el2", "b1-0101-e"):
        h.publisher.publish(topic(device, "status"), {"state": "offline"}, retain=True)
    await h.settled()
    async with h.db() as session:
        states = dict((await session.execute(select(Device.slug, Device.online)
                                             .where(Device.slug.in_(["b1-el2", "b1-0101-e"])))).all())
    assert states == {"b1-el2": False, "b1-0101-e": False}

    h.clock.advance(121)  # elevator grace is 2 minutes, meters 10
    await h.sweep()
    [ticket] = await h.tickets(kind="device_offline")
    async with h.db() as session:
        assert await session.scalar(select(Device.slug).where(Device.id == ticket.device_id)) == "b1-el2"
    await h.sweep()
    assert len(await h.tickets(kind="device_offline")) == 1

    h.clock.advance(600)
    await h.sweep()
    assert len(await h.tickets(kind="device_offline")) == 2

    h.publisher.publish(topic("b1-el2", "status"), {"state": "online"}, retain=True)
    await h.settled()
    ticket = next(t for t in await h.tickets(kind="device_offline") if t.id == ticket.id)
    assert ticket.status == "resolved"
    assert ticket.cleared_at is not None
    assert "auto_resolved" in await _audit(h, ticket.id)


async def test_the_servers_own_disconnect_marks_no_device_offline(h: Harness) -> None:
    h.publisher.publish(topic("b1-el1", "status"), {"state": "online"}, retain=True)
    await h.settled()
    assert h.ingest.transport is not None
    transport = h.ingest.transport
    h.publisher.close()
    h.broker.stop()

    async def disconnected() -> bool:
        return not transport.connected

    await eventually(disconnected)
    status, detail = h.ingest.readiness()  # what /ready reports while the broker is away
    assert status == "disconnected"
    assert detail["last_error"]
    h.clock.advance(3600)
    await h.sweep()
    h.broker.start()

    async def reconnected() -> bool:
        return transport.connected and transport.subscribed

    await eventually(reconnected)
    assert h.ingest.readiness()[0] == "ok"
    assert transport.reconnect_count >= 1
    async with h.db() as session:
        online = await session.scalar(select(Device.online).where(Device.slug == "b1-el1"))
    assert online is True
    assert await h.tickets(kind="device_offline") == []
    h.publisher = __import__("tests.support.publisher", fromlist=["Publisher"]).Publisher(h.broker.url)


async def test_changes_are_audited_and_published_in_process(h: Harness) -> None:
    async with h.ingest.bus.subscribe() as changes:
        h.publisher.publish(topic("b2-smoke-mr"), event("sensor.smoke", alarm="raise"))
        ticket = await _one_ticket(h, type="sensor.smoke")
        change = await changes.get()
    assert (change.ticket_id, change.action, change.severity) == (ticket.id, "opened", "critical")
    async with h.db() as session:
        entry = await session.scalar(select(TicketAudit).where(TicketAudit.ticket_id == ticket.id))
    assert entry is not None
    assert (entry.actor, entry.client, entry.action) == ("rules", "mqtt", "opened")


async def test_bad_messages_are_dead_lettered_with_a_reason_and_good_ones_flow(h: Harness) -> None:
    bad = [
        (topic("b1-el1"), b'{"id": '),  # malformed_json
        (topic("nobody-here", kind="elevator", building="b1"), event("elevator.trapped", alarm="raise")),
        (topic("b1-el1", kind="elevator", building="b2"), event("elevator.trapped", alarm="raise")),
        (topic("b1-el1"), event("elevator.levitating", alarm="raise")),
        (topic("b1-el1"), b"x" * (64 * 1024 + 1)),
        ("fieldops/v1/xinwaitan/b1/toaster/t1/event", event("toaster.burnt")),
    ]
    for t, payload in bad:
        h.publisher.publish(t, payload)
    h.publisher.publish(topic("b1-el2"), event("elevator.fault", alarm="raise", data={"code": "E1"}))
    await h.settled()
    async with h.db() as session:
        reasons = sorted((await session.scalars(select(DeadLetter.reason))).all())
        big = await session.scalar(select(DeadLetter).where(DeadLetter.reason == "oversize"))
    assert reasons == sorted(["malformed_json", "unknown_device", "topic_mismatch", "unknown_type",
                              "oversize", "unknown_kind"])
    assert big is not None
    assert len(big.payload) == 4096
    assert big.payload_size == 64 * 1024 + 1
    assert len(await h.tickets(type="elevator.fault")) == 1
    metrics = h.ingest.metrics.dead_letters
    assert metrics.labels("unknown_device")._value.get() == 1


async def test_redelivered_events_are_acknowledged_and_ignored(h: Harness) -> None:
    trapped = event("elevator.trapped", alarm="raise", id="fixed-1")
    for _ in range(3):
        h.publisher.publish(topic("b1-el1"), trapped)
    h.publisher.publish(topic("b1-0101-w", "reading"), reading("water", 1.0, id="r-fixed"))
    h.publisher.publish(topic("b1-0101-w", "reading"), reading("water", 1.0, id="r-fixed"))
    await h.settled()
    assert await h.count(DeviceEvent, DeviceEvent.event_id == "fixed-1") == 1
    [ticket] = await h.tickets(type="elevator.trapped")
    assert ticket.occurrences == 1
