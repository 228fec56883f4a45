"""The zero-config broker: mosquitto as a child process, amqtt in-process as the fallback."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from server.ingest import embedded_broker
from server.ingest.embedded_broker import EmbeddedBroker, mosquitto_config
from server.ingest.transport import MqttTransport
from tests.ingest.test_transport import (
    collect,
    events,
    eventually,
    payloads,
    publish,
    until_sentinel,
)
from tests.support.broker import mosquitto_binary

needs_mosquitto = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed")


async def started(transport: MqttTransport) -> MqttTransport:
    transport.start()
    await eventually(lambda: transport.subscribed, "subscription")
    return transport


@pytest.fixture
async def amqtt_broker(tmp_path: Path) -> AsyncIterator[EmbeddedBroker]:
    broker = EmbeddedBroker(tmp_path / "amqtt", prefer="amqtt")
    await broker.start()
    yield broker
    await broker.stop()


# ---------------------------------------------------------------- config
def test_generated_config_has_the_documented_limits(tmp_path: Path) -> None:
    conf = mosquitto_config(41883, tmp_path)
    assert "listener 41883 127.0.0.1\n" in conf
    for line in (
        "persistence true",
        "max_queued_messages 1000000",
        "memory_limit 1073741824",
        "persistent_client_expiration 7d",
        f"persistence_location {tmp_path}/",
    ):
        assert line in conf.splitlines()
    docs = (Path(__file__).parents[2] / "docs" / "mosquitto.md").read_text()
    for line in embedded_broker.MOSQUITTO_LIMITS.splitlines():
        if line and not line.startswith("#"):
            assert line in docs, f"docs/mosquitto.md does not document {line!r}"


def test_config_keeps_root_as_root_so_the_data_dir_stays_writable(tmp_path: Path) -> None:
    conf = mosquitto_config(41883, tmp_path)
    if os.geteuid() == 0:
        assert "user root" in conf.splitlines()
    else:
        assert not any(line.startswith("user ") for line in conf.splitlines())


def test_rejects_an_unknown_preference(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prefer"):
        EmbeddedBroker(tmp_path, prefer="emqx")  # type: ignore[arg-type]


def test_url_before_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = EmbeddedBroker(tmp_path).url


# ---------------------------------------------------------------- mosquitto
@pytest.mark.broker
@needs_mosquitto
async def test_mosquitto_child_serves_mqtt5_and_keeps_sessions_across_restarts(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "broker"
    broker = EmbeddedBroker(data_dir)
    url = await broker.start()
    try:
        assert broker.kind == "mosquitto"
        assert broker.protocol == "v5"
        assert url.host == "127.0.0.1"
        assert broker.running
        assert (data_dir / "mosquitto.conf").exists()

        transport = await started(MqttTransport(url, client_id="srv", protocol=broker.protocol))
        publish(url, events("m", 5))
        got = await collect(transport, 5)
        transport.ack(got)
        await asyncio.to_thread(transport.stop)
        publish(url, events("m", 7, start=5))  # queued in the stopped server's session

        await broker.stop()
        assert not broker.running
        url_again = await broker.start()  # same data dir: same port and persisted session
        assert url_again == url

        transport = await started(MqttTransport(url, client_id="srv", protocol=broker.protocol))
        assert transport.session_present is True
        got = await collect(transport, 7)
        assert payloads(got) == [f"m-{n}".encode() for n in range(5, 12)]
        transport.ack(got)
        await asyncio.to_thread(transport.stop)
    finally:
        await broker.stop()


@pytest.mark.broker
@needs_mosquitto
async def test_a_leftover_mosquitto_on_the_same_data_dir_is_stopped(tmp_path: Path) -> None:
    """A server killed with SIGKILL leaves its child running on the same persistence file."""
    data_dir = tmp_path / "broker"
    orphan = EmbeddedBroker(data_dir)
    await orphan.start()
    orphan_process = orphan._process
    assert orphan_process is not None

    successor = EmbeddedBroker(data_dir)
    try:
        await successor.start()
        await asyncio.wait_for(orphan_process.wait(), 10)
        assert successor.running
    finally:
        await successor.stop()
        await orphan.stop()


async def test_prefer_mosquitto_without_the_binary_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_broker, "mosquitto_binary", lambda: None)
    with pytest.raises(RuntimeError, match="mosquitto is not installed"):
        await EmbeddedBroker(tmp_path, prefer="mosquitto").start()


async def test_falls_back_to_amqtt_without_mosquitto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_broker, "mosquitto_binary", lambda: None)
    broker = EmbeddedBroker(tmp_path)
    await broker.start()
    try:
        assert (broker.kind, broker.protocol) == ("amqtt", "v311")
    finally:
        await broker.stop()


async def test_falls_back_to_amqtt_when_mosquitto_will_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_broker, "mosquitto_binary", lambda: "/bin/false")
    broker = EmbeddedBroker(tmp_path)
    await broker.start()
    try:
        assert broker.kind == "amqtt"
    finally:
        await broker.stop()


# ---------------------------------------------------------------- amqtt
async def test_amqtt_listens_on_loopback_only(amqtt_broker: EmbeddedBroker) -> None:
    url = amqtt_broker.url
    assert url.host == "127.0.0.1"
    servers = amqtt_broker._amqtt._servers
    bound = {
        sock.getsockname()[0] for server in servers.values() for sock in server.instance.sockets
    }
    assert bound == {"127.0.0.1"}
    with socket.create_connection((url.host, url.port), timeout=2):
        pass


async def test_amqtt_delivers_qos1_to_the_transport_over_mqtt_311(
    amqtt_broker: EmbeddedBroker,
) -> None:
    url = amqtt_broker.url
    transport = await started(MqttTransport(url, client_id="srv", protocol=amqtt_broker.protocol))
    try:
        # Publish from a thread: the broker runs in this event loop and must keep running.
        await asyncio.to_thread(publish, url, events("a", 20), protocol=mqtt.MQTTv311)
        got = await collect(transport, 20)
        assert payloads(got) == [f"a-{n}".encode() for n in range(20)]
        assert {m.qos for m in got} == {1}
        assert transport.ack(got) == 20
    finally:
        await asyncio.to_thread(transport.stop)


async def test_amqtt_keeps_messages_for_a_stopped_persistent_session(
    amqtt_broker: EmbeddedBroker,
) -> None:
    url = amqtt_broker.url
    await asyncio.to_thread((await started(MqttTransport(url, client_id="srv", protocol="v311"))).stop)
    await asyncio.to_thread(publish, url, events("q", 10), protocol=mqtt.MQTTv311)

    transport = MqttTransport(url, client_id="srv", protocol="v311")
    transport.start()
    try:
        # No waiting for the subscription first: amqtt sends the queued messages right
        # after CONNACK and holds back everything else until they are acknowledged.
        got = await collect(transport, 10)
        assert payloads(got) == [f"q-{n}".encode() for n in range(10)]
        assert transport.ack(got) == 10
        assert transport.session_present is True
        # amqtt marks messages it kept for an offline session as retained.
        assert {m.retain for m in got} == {True}
        await eventually(lambda: transport.subscribed, "subscription")
    finally:
        await asyncio.to_thread(transport.stop)


async def test_amqtt_does_not_redeliver_what_was_delivered_but_not_acked(
    amqtt_broker: EmbeddedBroker,
) -> None:
    """A documented limit of amqtt 0.12: it drops in-flight messages when the
    subscriber disconnects (or takes over 5 s to ack) instead of resending them.
    Being in-process, it also loses everything when the server stops. If this test
    starts failing, amqtt got better: update docs/mosquitto.md."""
    url = amqtt_broker.url
    first = await started(MqttTransport(url, client_id="srv", protocol="v311"))
    await asyncio.to_thread(publish, url, events("lost", 5), protocol=mqtt.MQTTv311)
    await collect(first, 5)
    await asyncio.to_thread(first.stop)  # without acking

    second = await started(MqttTransport(url, client_id="srv", protocol="v311"))
    try:
        assert await until_sentinel(second, url, protocol=mqtt.MQTTv311) == []
    finally:
        await asyncio.to_thread(second.stop)


@pytest.mark.parametrize(
    "prefer",
    [
        pytest.param("mosquitto", marks=[pytest.mark.broker, needs_mosquitto]),
        "amqtt",
    ],
)
async def test_a_taken_port_is_replaced_by_a_free_one(tmp_path: Path, prefer: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        broker = EmbeddedBroker(tmp_path, prefer=prefer, port=taken)  # type: ignore[arg-type]
        url = await broker.start()
        try:
            assert url.port != taken
            assert broker.kind == prefer
        finally:
            await broker.stop()
