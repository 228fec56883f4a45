"""Generated bad input never stops the consumer; concurrent raises converge on one ticket."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.pool import NullPool

from server.db import create_engine, create_sessionmaker
from server.devices.models import DeviceEvent
from server.ingest.models import DeadLetter
from server.ingest.runner import Ingest
from server.observability.metrics import Metrics
from server.rules.table import load_rules
from server.tickets.changes import ChangeBus
from server.tickets.models import Ticket
from tests.conftest import make_settings
from tests.ingest.conftest import Harness, eventually
from tests.support.broker import PrivateMosquitto
from tests.support.publisher import Publisher, event, topic

pytestmark = pytest.mark.broker

# Control characters and non-characters in a topic make the broker drop the publisher's
# connection (MQTT 5 forbids them), so they never reach fieldops; everything else may.
segment = st.text(alphabet=st.characters(blacklist_characters="/+#", blacklist_categories=["Cs", "Cc", "Cn",
                                                                                         "Co"]),
                  min_size=0, max_size=12)
bad_topics = st.one_of(
    st.builds(lambda parts: "fieldops/v1/" + "/".join(parts), st.lists(segment, min_size=0, max_size=8)),
    st.builds(lambda kind: f"fieldops/v1/xinwaitan/b1/{kind}/b1-el1/event", segment),
    st.builds(lambda dev: f"fieldops/v1/xinwaitan/b1/elevator/{dev}/event", segment),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                      max_size=4),
    max_leaves=12,
)
broken_events = st.fixed_dictionaries(
    {},
    optional={"id": json_values, "ts": st.one_of(json_values, st.just("2026-11-26T08:00:00")),
              "type": st.one_of(json_values, st.sampled_from(["elevator.trapped", "elevator.nope",
                                                              "access.granted", "intercom.call"])),
              "alarm": st.one_of(json_values, st.sampled_from(["raise", "clear", "both"])),
              "data": json_values},
)
bad_payloads = st.one_of(
    st.binary(max_size=200),
    json_values.map(msgspec.json.encode),
    broken_events.map(msgspec.json.encode),
)
unknown_devices = st.from_regex(r"zz[a-z0-9_-]{0,10}", fullmatch=True).map(
    lambda slug: f"fieldops/v1/xinwaitan/b1/elevator/{slug}/event")
bad_messages = st.one_of(
    st.tuples(bad_topics, bad_payloads),
    st.tuples(unknown_devices, st.just(msgspec.json.encode(event("elevator.trapped", alarm="raise",
                                                                  id="fixed")))),
    st.tuples(st.just(topic("b1-el1")), bad_payloads),
    st.tuples(st.just(topic("b1-0101-w", "reading")), bad_payloads),
)


def _is_good(t: str, payload: bytes) -> bool:
    """A generated message can be valid by chance; count only the ones the contract refuses."""
    from server.contract.v1 import ContractError, decode_payload, parse_topic

    try:
        parsed = parse_topic(t)
        decode_payload(parsed, payload)
    except ContractError:
        return False
    return parsed.device in ("b1-el1", "b1-0101-w") and parsed.building == "b1"


async def test_fuzzed_messages_are_dead_lettered_and_good_ones_all_stored(h: Harness) -> None:
    sent: list[tuple[str, bytes]] = []

    # Hypothesis drives the publishing; the checks run once the consumer has caught up.
    @settings(max_examples=1200, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(message=bad_messages)
    def publish(message: tuple[str, bytes]) -> None:
        h.publisher.publish(*message)
        sent.append(message)
        if len(sent) % 20 == 0:  # good events between the bad ones must all arrive
            h.publisher.publish(topic("b1-el2"), event("elevator.fault", alarm="raise",
                                                       id=f"good-{uuid.uuid4().hex}", data={"code": "E1"}))

    publish()
    await h.settled()
    refused = [m for m in sent if not _is_good(*m)]
    assert len(refused) >= 1000
    dead = int(await h.scalar(select(func.coalesce(func.sum(DeadLetter.occurrences), 0))))
    assert dead == len(refused)
    assert await h.count(DeviceEvent, DeviceEvent.event_id.like("good-%")) == len(sent) // 20
    async with h.db() as session:
        reasons = set((await session.scalars(select(DeadLetter.reason))).all())
    assert {"malformed_json", "schema", "bad_topic", "unknown_device"} <= reasons
    assert h.ingest.readiness()[0] == "ok"  # the consumer is still up


async def test_fifty_concurrent_raises_make_one_active_ticket(tmp_path: Path, sqlite_demo_url: str) -> None:
    """Two consumers share the stream (MQTT 5 shared subscription) and race on the same key."""
    broker = PrivateMosquitto(tmp_path / "broker")
    broker.start()
    ingests = []
    for n in range(2):
        s = make_settings(tmp_path / f"c{n}", sqlite_demo_url, mqtt_url=broker.url,
                          mqtt_client_id=f"fieldops-race-{n}", mqtt_share_group="fieldops")
        ingest = Ingest(s, create_sessionmaker(create_engine(sqlite_demo_url)), Metrics(), ChangeBus(),
                        rules=load_rules())
        # Batches of one: every raise is its own transaction, racing the other consumer's.
        await ingest.start()
        assert ingest.consumer is not None
        ingest.consumer.batch_size = 1
        ingests.append(ingest)
    engine = create_engine(sqlite_demo_url, poolclass=NullPool)
    db = create_sessionmaker(engine)
    publisher = Publisher(broker.url)
    try:
        for ingest in ingests:
            transport = ingest.transport
            assert transport is not None

            async def subscribed(t=transport) -> bool:  # type: ignore[no-untyped-def]
                return bool(t.subscribed)

            await eventually(subscribed)
        for i in range(50):
            publisher.publish(topic("b1-el2"), event("elevator.trapped", alarm="raise", id=f"race-{i}"))
        publisher.flush()

        async def counted() -> list[tuple[int, str | None]]:
            async with db() as session:
                rows = await session.execute(select(Ticket.occurrences, Ticket.active_key)
                                             .where(Ticket.type == "elevator.trapped"))
                return [tuple(r) for r in rows]  # type: ignore[misc]

        rows = await eventually(counted, lambda r: sum(o for o, _ in r) >= 50)
        assert len(rows) == 1
        assert rows[0][0] == 50
        both_worked = [i.consumer.committed for i in ingests if i.consumer is not None]
        assert all(n > 0 for n in both_worked), both_worked
    finally:
        publisher.close()
        for ingest in ingests:
            await ingest.stop()
            await ingest.sessionmaker.kw["bind"].dispose()
        await engine.dispose()
        broker.stop()
    await asyncio.sleep(0)
