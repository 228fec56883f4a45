"""The MQTT v1 contract: topic parsing and payload checks (pure units)."""

from __future__ import annotations

import pytest

from server.contract.v1 import (
    MAX_PAYLOAD_BYTES,
    Channel,
    ContractError,
    DeviceKind,
    EventPayload,
    ReadingPayload,
    StatusPayload,
    decode_payload,
    parse_topic,
    topic_for,
)

TRAPPED = (b'{"id": "b1-el2-000173", "ts": "2026-11-26T08:15:02.120+08:00", "type": "elevator.trapped",'
           b' "alarm": "raise", "unit": null, "data": {"floor": 12, "car": "L2"}}')


def test_parse_topic_round_trip() -> None:
    topic = parse_topic("fieldops/v1/xinwaitan/b1/elevator/b1-el2/event")
    assert topic.site == "xinwaitan"
    assert topic.building == "b1"
    assert topic.kind is DeviceKind.ELEVATOR
    assert topic.device == "b1-el2"
    assert topic.channel is Channel.EVENT
    assert str(topic) == topic_for("xinwaitan", "b1", "elevator", "b1-el2", "event")


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("fieldops/v1/xinwaitan/b1/elevator/b1-el2", "bad_topic"),
        ("fieldops/v1/xinwaitan/b1/elevator/b1-el2/event/extra", "bad_topic"),
        ("fieldops/v2/xinwaitan/b1/elevator/b1-el2/event", "bad_topic"),
        ("fieldops/v1/XinWaiTan/b1/elevator/b1-el2/event", "bad_topic"),
        ("fieldops/v1/xinwaitan/b1/elevator/-el2/event", "bad_topic"),
        ("fieldops/v1/xinwaitan/b1/elevator/" + "a" * 65 + "/event", "bad_topic"),
        ("fieldops/v1/xinwaitan/b1/toaster/t1/event", "unknown_kind"),
        ("fieldops/v1/xinwaitan/b1/elevator/b1-el2/events", "bad_topic"),
        ("fieldops/v1/xinwaitan//elevator/b1-el2/event", "bad_topic"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_topic(topic)
    assert caught.value.reason == reason


def test_decode_the_design_examples() -> None:
    event = decode_payload(parse_topic("fieldops/v1/xinwaitan/b1/elevator/b1-el2/event"), TRAPPED)
    assert isinstance(event, EventPayload)
    assert event.alarm == "raise"
    assert event.ts.utcoffset() is not None
    assert event.data["floor"] == 12
    reading = decode_payload(
        parse_topic("fieldops/v1/xinwaitan/b1/meter/b1-1203-w/reading"),
        b'{"id": "m-1203-w-88121", "ts": "2026-11-26T08:00:00+08:00", "type": "meter.reading",'
        b' "unit": "b1-1203", "quantity": "water", "value": 123.456, "uom": "m3"}',
    )
    assert isinstance(reading, ReadingPayload)
    assert reading.value == pytest.approx(123.456)
    status = decode_payload(parse_topic("fieldops/v1/xinwaitan/b1/elevator/b1-el2/status"),
                            b'{"state": "online", "ts": "2026-11-26T08:15:02.120+08:00"}')
    assert isinstance(status, StatusPayload)
    assert status.state == "online"


def test_unknown_fields_are_ignored_for_schema_evolution() -> None:
    topic = parse_topic("fieldops/v1/xinwaitan/b1/elevator/b1-el2/event")
    event = decode_payload(topic, TRAPPED.replace(b'"unit": null', b'"unit": null, "firmware": "2.1"'))
    assert isinstance(event, EventPayload)


EVENT_TOPIC = "fieldops/v1/xinwaitan/b1/elevator/b1-el2/event"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (EVENT_TOPIC, b'{"id": ', "malformed_json"),
        (EVENT_TOPIC, b"\xff\xfe", "malformed_json"),
        (EVENT_TOPIC, b"[]", "schema"),
        (EVENT_TOPIC, TRAPPED.replace(b'"id": "b1-el2-000173", ', b""), "schema"),
        (EVENT_TOPIC, TRAPPED.replace(b".120+08:00", b".120"), "schema"),  # no offset
        (EVENT_TOPIC, TRAPPED.replace(b'"b1-el2-000173"', b"173"), "schema"),
        (EVENT_TOPIC, TRAPPED.replace(b"elevator.trapped", b"elevator.levitating"), "unknown_type"),
        (EVENT_TOPIC, TRAPPED.replace(b"elevator.trapped", b"access.granted"), "topic_mismatch"),
        (EVENT_TOPIC, TRAPPED.replace(b"elevator.trapped", b"flux.capacitor"), "unknown_type"),
        (EVENT_TOPIC, TRAPPED.replace(b'"alarm": "raise", ', b""), "alarm_flag"),
        (EVENT_TOPIC, TRAPPED.replace(b'"raise"', b'"maybe"'), "schema"),
        (EVENT_TOPIC, b" " * (MAX_PAYLOAD_BYTES + 1), "oversize"),
        ("fieldops/v1/xinwaitan/b1/elevator/b1-el2/reading",
         b'{"id":"r","ts":"2026-11-26T08:00:00+08:00","quantity":"water","value":1,"uom":"m3"}',
         "topic_mismatch"),
        ("fieldops/v1/xinwaitan/b1/meter/m/reading",
         b'{"id":"r","ts":"2026-11-26T08:00:00+08:00","quantity":"water","value":1,"uom":"kWh"}',
         "schema"),
        ("fieldops/v1/xinwaitan/b1/meter/m/reading",
         b'{"id":"r","ts":"2026-11-26T08:00:00+08:00","quantity":"water","value":-1,"uom":"m3"}',
         "schema"),
        ("fieldops/v1/xinwaitan/b1/intercom/ic/event",
         b'{"id":"c","ts":"2026-11-26T08:00:00+08:00","type":"intercom.call","data":{"phase":"ringing"}}',
         "schema"),
        ("fieldops/v1/xinwaitan/b1/access/d/event",
         b'{"id":"a","ts":"2026-11-26T08:00:00+08:00","type":"access.granted","alarm":"raise",'
         b'"data":{"card":"1"}}',
         "alarm_flag"),
        ("fieldops/v1/xinwaitan/b1/elevator/e/status", b'{"state": "sleeping"}', "schema"),
    ],
)
def test_contract_violations_have_reasons(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_payload(parse_topic(topic), payload)
    assert caught.value.reason == reason
