"""MqttTransport against a private Mosquitto: QoS 1, manual acks, sessions, reconnects."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from server.ingest.mqtt_url import MqttUrl
from server.ingest.transport import InboundMessage, MqttTransport
from tests.support.broker import PrivateMosquitto, free_port, mosquitto_binary

needs_mosquitto = pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto not installed")

DEADLINE_S = 10.0


# ---------------------------------------------------------------- helpers
def publish(
    url: MqttUrl,
    messages: list[tuple[str, bytes]],
    *,
    protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv5,
    window: int = 50,
) -> None:
    """Publish at QoS 1 (as the URL's user, over TLS for mqtts) and return once the
    broker has acknowledged every message.

    In-flight messages are bounded by a semaphore released in on_publish
    (measured.md: a large paho window is slow, and mosquitto_pub -l loses messages).
    """
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=protocol
    )
    window_free = threading.Semaphore(window)
    acked = 0
    lock = threading.Lock()

    def on_publish(*_: object) -> None:
        nonlocal acked
        with lock:
            acked += 1
        window_free.release()

    client.on_publish = on_publish
    if url.username is not None:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        client.tls_set(ca_certs=url.ca_file)
    client.connect(url.host, url.port)
    client.loop_start()
    try:
        for topic, payload in messages:
            assert window_free.acquire(timeout=DEADLINE_S), "broker stopped acknowledging"
            client.publish(topic, payload, qos=1)
        deadline = time.monotonic() + DEADLINE_S
        while acked < len(messages):
            assert time.monotonic() < deadline, f"only {acked}/{len(messages)} acknowledged"
            time.sleep(0.005)
    finally:
        client.disconnect()
        client.loop_stop()


def events(prefix: str, count: int, start: int = 0) -> list[tuple[str, bytes]]:
    """``count`` event messages with payloads ``<prefix>-<n>`` on distinct device topics."""
    return [
        (f"fieldops/v1/est/b1/meter/m{n % 7}/event", f"{prefix}-{n}".encode())
        for n in range(start, start + count)
    ]


async def collect(
    transport: MqttTransport,
    count: int,
    *,
    until: Callable[[list[InboundMessage]], bool] | None = None,
    within: float = DEADLINE_S,
    ack: bool = False,
) -> list[InboundMessage]:
    """Drain until ``count`` messages (or ``until(got)``) arrived; fail at the deadline.

    Without ``ack`` nothing is acknowledged, so at most Receive Maximum arrive.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    got: list[InboundMessage] = []
    done = until or (lambda got: len(got) >= count)
    while not done(got):
        assert loop.time() < deadline, f"got {len(got)} messages, wanted {count}"
        await transport.wait_for_messages(0.05)
        batch = transport.drain(10_000)
        if ack:
            transport.ack(batch)
        got.extend(batch)
    return got


async def until_sentinel(
    transport: MqttTransport,
    url: MqttUrl,
    *,
    protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv5,
    topic: str = "fieldops/v1/est/b1/meter/sentinel/event",
) -> list[InboundMessage]:
    """Publish a sentinel and collect up to it.

    The broker resends a session's unacknowledged messages before anything new, so
    everything that would be redelivered has arrived by the time the sentinel has:
    a way to show that nothing *else* comes without sleeping.
    """
    sentinel = [(topic, b"sentinel")]
    # From a thread: an in-process broker (amqtt) needs this event loop to keep running.
    await asyncio.to_thread(publish, url, sentinel, protocol=protocol)
    got = await collect(transport, 0, until=lambda got: any(m.payload == b"sentinel" for m in got))
    return [m for m in got if m.payload != b"sentinel"]


async def eventually(condition: Callable[[], bool], what: str, within: float = DEADLINE_S) -> None:
    """Poll ``condition`` until true; fail with ``what`` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def payloads(messages: list[InboundMessage]) -> list[bytes]:
    return [m.payload for m in messages]


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    mosquitto = PrivateMosquitto(tmp_path / "broker")
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def make_transport(broker: PrivateMosquitto) -> Iterator[Callable[..., MqttTransport]]:
    """Build transports on the private broker; every one is stopped at teardown."""
    made: list[MqttTransport] = []

    def make(client_id: str = "fieldops-server", **kwargs: object) -> MqttTransport:
        kwargs.setdefault("reconnect_min_delay_s", 1)
        kwargs.setdefault("reconnect_max_delay_s", 1)
        transport = MqttTransport(MqttUrl.parse(broker.url), client_id=client_id, **kwargs)  # type: ignore[arg-type]
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.stop()


async def started(transport: MqttTransport) -> MqttTransport:
    transport.start()
    await eventually(lambda: transport.subscribed, "subscription")
    return transport


# ---------------------------------------------------------------- unit tests (no broker)
def test_rejects_settings_that_would_lose_the_session_or_the_stream() -> None:
    url = MqttUrl.parse("mqtt://127.0.0.1:1")
    with pytest.raises(ValueError, match="client_id"):
        MqttTransport(url, client_id="")
    with pytest.raises(ValueError, match="share group"):
        MqttTransport(url, client_id="x", share_group="a/b")
    with pytest.raises(ValueError, match="protocol"):
        MqttTransport(url, client_id="x", protocol="v3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="receive_maximum"):
        MqttTransport(url, client_id="x", receive_maximum=0)
    with pytest.raises(ValueError, match="max_buffered"):
        MqttTransport(url, client_id="x", max_buffered=0)


def test_share_group_prefixes_the_subscription() -> None:
    url = MqttUrl.parse("mqtt://127.0.0.1:1")
    assert MqttTransport(url, client_id="x").topic_filter == "fieldops/v1/#"
    shared = MqttTransport(url, client_id="x", share_group="fieldops")
    assert shared.topic_filter == "$share/fieldops/fieldops/v1/#"


def test_ack_before_start_sends_nothing() -> None:
    transport = MqttTransport(MqttUrl.parse("mqtt://127.0.0.1:1"), client_id="x")
    message = InboundMessage("t", b"p", mid=1, qos=1, retain=False, received_monotonic=0.0)
    assert transport.ack([message]) == 0
    assert transport.drain(10) == []
    transport.stop()  # harmless when never started


async def test_unreachable_broker_is_retried_and_reported() -> None:
    transport = MqttTransport(
        MqttUrl.parse(f"mqtt://user:pw@127.0.0.1:{free_port()}"),
        client_id="x",
        reconnect_min_delay_s=1,
        reconnect_max_delay_s=1,
    )
    transport.start()
    try:
        await eventually(lambda: transport.last_error is not None, "a connection error")
        assert "refused" in (transport.last_error or "").lower()
        assert not transport.connected
        status = transport.status()
        assert status["connected"] is False
        assert "pw" not in str(status["broker"])
    finally:
        transport.stop()


async def test_wait_for_messages_returns_after_timeout_when_idle() -> None:
    transport = MqttTransport(MqttUrl.parse("mqtt://127.0.0.1:1"), client_id="x")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await transport.wait_for_messages(0.05)
    assert 0.04 <= loop.time() - began < 1.0


# ---------------------------------------------------------------- against mosquitto
@pytest.mark.broker
@needs_mosquitto
async def test_receives_qos1_messages_in_order(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    transport = await started(make_transport())
    url = MqttUrl.parse(broker.url)
    publish(url, events("a", 50))
    got = await collect(transport, 50)
    assert payloads(got) == [f"a-{n}".encode() for n in range(50)]
    first = got[0]
    assert first.topic == "fieldops/v1/est/b1/meter/m0/event"
    assert first.qos == 1
    assert first.retain is False
    assert first.generation == transport.generation
    assert first.received_monotonic <= time.monotonic()
    assert transport.connected
    assert transport.reconnect_count == 0
    assert transport.ack(got) == 50
    assert transport.buffered == 0


@pytest.mark.broker
@needs_mosquitto
async def test_unacked_messages_are_redelivered_to_the_next_run(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    url = MqttUrl.parse(broker.url)
    first = await started(make_transport())
    publish(url, events("u", 20))
    got = await collect(first, 20)
    first.ack(got[:5])  # "committed" only the first five
    first.stop()

    second = await started(make_transport())  # same client id: same session
    assert second.session_present is True
    again = await until_sentinel(second, url)
    assert payloads(again) == [f"u-{n}".encode() for n in range(5, 20)]
    assert all(m.dup for m in again)


@pytest.mark.broker
@needs_mosquitto
async def test_acked_messages_are_not_redelivered(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    url = MqttUrl.parse(broker.url)
    first = await started(make_transport())
    publish(url, events("k", 200))
    got = await collect(first, 200)
    assert first.ack(got) == 200
    first.stop()  # the broker has read the PUBACKs before the DISCONNECT

    second = await started(make_transport())
    assert await until_sentinel(second, url) == []


@pytest.mark.broker
@needs_mosquitto
async def test_acked_messages_are_not_redelivered_when_more_arrive_during_stop(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    # Messages still arriving when stop() closes the socket make the kernel reset the
    # connection and drop whatever it had not yet sent: without a round trip before the
    # DISCONNECT, the tail of the PUBACKs was lost in most runs.
    url = MqttUrl.parse(broker.url)
    first = await started(make_transport())
    publish(url, events("k", 200))
    got = await collect(first, 200)
    flood = threading.Thread(target=publish, args=(url, events("more", 400)))
    flood.start()
    await asyncio.sleep(0.05)
    assert first.ack(got) == 200
    await asyncio.to_thread(first.stop)
    await asyncio.to_thread(flood.join)

    second = await started(make_transport())
    again = await until_sentinel(second, url)
    assert [m.payload for m in again if m.payload.startswith(b"k-")] == []
    assert again, "the unacknowledged flood is redelivered"


@pytest.mark.broker
@needs_mosquitto
async def test_messages_published_while_stopped_arrive_on_start(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    url = MqttUrl.parse(broker.url)
    (await started(make_transport())).stop()
    # Nobody connected: the session queues them. More than Mosquitto's default
    # max_queued_messages (1000), which would silently drop the rest.
    publish(url, events("off", 2500))

    transport = await started(make_transport())
    got = await collect(transport, 2500, ack=True)
    assert payloads(got) == [f"off-{n}".encode() for n in range(2500)]


@pytest.mark.broker
@needs_mosquitto
async def test_stop_returns_while_the_network_thread_waits_for_room(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    transport = await started(make_transport(max_buffered=5))
    publish(MqttUrl.parse(broker.url), events("full", 50))
    await eventually(lambda: transport.backpressure_waits > 0, "the buffer to fill")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.to_thread(transport.stop)
    assert loop.time() - began < 2.0
    assert not transport.connected


@pytest.mark.broker
@needs_mosquitto
async def test_broker_restart_reconnects_redelivers_and_keeps_receiving(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    url = MqttUrl.parse(broker.url)
    transport = await started(make_transport())
    publish(url, events("r", 10))
    before = await collect(transport, 10)
    transport.ack(before[:4])  # the rest are still being "committed" when the broker goes

    broker.stop()  # SIGTERM: mosquitto saves the session with its six unacked messages
    await eventually(lambda: not transport.connected, "the disconnect")
    assert transport.last_error is not None
    broker.start()  # same port, same persistence
    await eventually(lambda: transport.subscribed, "the reconnect")
    assert transport.reconnect_count == 1
    assert transport.session_present is True

    # The late commit of the old batch must not ack anything on the new connection.
    assert transport.ack(before[4:]) == 0
    assert transport.stale_ack_skips == 6
    publish(url, events("r", 5, start=10))
    after = await collect(transport, 0, until=lambda got: b"r-14" in payloads(got))
    # At least once: the six unacked come again, first; PUBACKs still in flight when
    # the broker stopped may bring a few acked ones again too (deduplicated downstream).
    redelivered, new = after[:-5], after[-5:]
    assert {f"r-{n}".encode() for n in range(4, 10)} <= set(payloads(redelivered))
    assert set(payloads(redelivered)) <= {f"r-{n}".encode() for n in range(10)}
    assert all(m.dup for m in redelivered)
    assert payloads(new) == [f"r-{n}".encode() for n in range(10, 15)]
    assert transport.ack(after) == len(after)


@pytest.mark.broker
@needs_mosquitto
async def test_stale_acks_cannot_ack_new_messages_that_reuse_packet_ids(
    tmp_path: Path,
) -> None:
    """A broker that lost the session numbers new messages from 1 again.

    Acking the old batch by packet id would then acknowledge *new*, unprocessed
    messages; the generation check must skip it.
    """
    broker = PrivateMosquitto(tmp_path / "volatile", persistence=False)
    broker.start()
    url = MqttUrl.parse(broker.url)
    transport = MqttTransport(
        url, client_id="srv", reconnect_min_delay_s=1, reconnect_max_delay_s=1
    )
    try:
        await started(transport)
        publish(url, events("old", 5))
        old = await collect(transport, 5)

        broker.stop()
        await eventually(lambda: not transport.connected, "the disconnect")
        broker.start()  # empty broker: no session, no subscription
        await eventually(lambda: transport.subscribed, "the resubscription")
        assert transport.session_present is False

        publish(url, events("new", 5))
        new = await collect(transport, 5)
        assert {m.mid for m in new} == {m.mid for m in old}  # the hazard is real
        assert transport.ack(old) == 0  # committed late: skipped, not sent
        transport.stop()

        transport = MqttTransport(url, client_id="srv")
        transport.start()
        await eventually(lambda: transport.subscribed, "the subscription")
        redelivered = await until_sentinel(transport, url)
        assert payloads(redelivered) == payloads(new)  # never acknowledged
    finally:
        transport.stop()
        broker.stop()


@pytest.mark.broker
@needs_mosquitto
async def test_shared_subscription_splits_the_stream_without_overlap_or_loss(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    url = MqttUrl.parse(broker.url)
    one = await started(make_transport("fieldops-1", share_group="fieldops"))
    two = await started(make_transport("fieldops-2", share_group="fieldops"))
    publish(url, events("s", 1000))

    got_one: list[InboundMessage] = []
    got_two: list[InboundMessage] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while len(got_one) + len(got_two) < 1000:
        assert loop.time() < deadline, f"got {len(got_one)}+{len(got_two)} of 1000"
        await one.wait_for_messages(0.01)
        for transport, got in ((one, got_one), (two, got_two)):
            batch = transport.drain(1000)
            transport.ack(batch)
            got.extend(batch)

    a, b = set(payloads(got_one)), set(payloads(got_two))
    assert len(a) == len(got_one)
    assert len(b) == len(got_two)
    assert not a & b
    assert a | b == {f"s-{n}".encode() for n in range(1000)}
    assert got_one
    assert got_two


@pytest.mark.broker
@needs_mosquitto
async def test_leaving_a_share_group_hands_the_whole_stream_to_the_others(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    """A member that merely disconnects keeps its session and Mosquitto queues half
    the stream for it; one that leaves (unsubscribe, drain, end session) does not."""
    url = MqttUrl.parse(broker.url)
    stay = await started(make_transport("fieldops-1", share_group="fieldops"))
    leave = await started(make_transport("fieldops-2", share_group="fieldops"))
    assert await leave.leave_group()
    leave.ack(leave.drain(1000))
    leave.stop(end_session=True)

    publish(url, events("g", 300))
    got = await collect(stay, 300)
    assert len(set(payloads(got))) == 300
    stay.ack(got)

    rejoined = await started(make_transport("fieldops-2", share_group="fieldops"))
    assert rejoined.session_present is False  # the session was deleted, nothing waited in it


@pytest.mark.broker
@needs_mosquitto
async def test_full_buffer_applies_backpressure_without_losing_anything(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    # A huge Receive Maximum so the broker floods us; only max_buffered holds it back.
    transport = await started(make_transport(max_buffered=20, receive_maximum=65535))
    url = MqttUrl.parse(broker.url)
    total = 2000
    publisher = asyncio.create_task(asyncio.to_thread(publish, url, events("bp", total)))

    got: list[InboundMessage] = []
    peak = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S * 2
    while len(got) < total:
        assert loop.time() < deadline, f"got {len(got)} of {total}"
        peak = max(peak, transport.buffered)
        batch = transport.drain(7)  # a slow consumer
        transport.ack(batch)
        got.extend(batch)
        await asyncio.sleep(0.0005)
    await publisher

    assert peak <= 20
    assert transport.backpressure_waits > 0
    assert payloads(got) == [f"bp-{n}".encode() for n in range(total)]
    assert transport.connected
    assert transport.reconnect_count == 0


@pytest.mark.broker
@needs_mosquitto
async def test_mqtt_311_persistent_session_redelivers(
    broker: PrivateMosquitto, make_transport: Callable[..., MqttTransport]
) -> None:
    url = MqttUrl.parse(broker.url)
    first = await started(make_transport("srv311", protocol="v311"))
    publish(url, events("v3", 10), protocol=mqtt.MQTTv311)
    got = await collect(first, 10)
    first.ack(got[:3])
    first.stop()
    publish(url, events("v3", 5, start=10), protocol=mqtt.MQTTv311)

    second = await started(make_transport("srv311", protocol="v311"))
    assert second.session_present is True
    again = await collect(second, 12)
    assert payloads(again) == [f"v3-{n}".encode() for n in range(3, 15)]
    assert second.ack(again) == 12


# ---------------------------------------------------------------- the documented production config
DOCS = Path(__file__).parents[2] / "docs" / "mosquitto.md"


def documented_blocks() -> list[str]:
    """The ```conf blocks of docs/mosquitto.md: the mosquitto.conf, then the ACL file."""
    text = DOCS.read_text()
    return [part.split("```", 1)[0] for part in text.split("```conf\n")[1:]]


def make_tls_files(directory: Path) -> None:
    """A throwaway CA and a broker certificate for 127.0.0.1, made with openssl."""
    directory.mkdir(parents=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=fieldops test CA")
    openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=127.0.0.1")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "broker.crt", "-days", "2", "-extfile", "san.ext")


@dataclass
class DocumentedBroker:
    tls_port: int
    ca_file: Path


@pytest.fixture
def documented_broker(tmp_path: Path) -> Iterator[DocumentedBroker]:
    """Mosquitto running the example config of docs/mosquitto.md, paths and ports moved."""
    if mosquitto_binary() is None or not shutil.which("openssl") or not shutil.which(
        "mosquitto_passwd"
    ):
        pytest.skip("needs mosquitto, mosquitto_passwd and openssl")
    conf_text, acl_text = documented_blocks()[:2]
    etc, lib, logs, run = (tmp_path / d for d in ("etc", "lib", "log", "run"))
    for directory in (lib, logs, run):
        directory.mkdir()
    make_tls_files(etc / "certs")
    passwd = etc / "passwd"
    for i, (user, password) in enumerate((("fieldops-server", "pw-s"), ("bridge-est1", "pw-b"))):
        subprocess.run(
            ["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(passwd), user, password],
            check=True, capture_output=True,
        )
    (etc / "fieldops.acl").write_text(acl_text)
    tls_port, plain_port = free_port(), free_port()
    conf = (
        conf_text.replace("/etc/mosquitto/", f"{etc}/")
        .replace("/var/lib/mosquitto/", f"{lib}/")
        .replace("/var/log/mosquitto/", f"{logs}/")
        .replace("/run/mosquitto/", f"{run}/")
        .replace("listener 8883\n", f"listener {tls_port} 127.0.0.1\n")
        .replace("listener 1883 127.0.0.1\n", f"listener {plain_port} 127.0.0.1\n")
    )
    assert f"listener {tls_port} 127.0.0.1" in conf
    assert f"listener {plain_port} 127.0.0.1" in conf
    assert "/etc/mosquitto" not in conf
    # As root, mosquitto would drop to the mosquitto user, who cannot read tmp_path.
    conf = f"user {getpass.getuser()}\n{conf}"
    (etc / "mosquitto.conf").write_text(conf)
    process = subprocess.Popen(
        [mosquitto_binary() or "mosquitto", "-c", str(etc / "mosquitto.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not _listening(tls_port):
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"mosquitto did not start with the documented config: {stderr}")
            time.sleep(0.02)
        yield DocumentedBroker(tls_port=tls_port, ca_file=etc / "certs" / "ca.crt")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.broker
@needs_mosquitto
async def test_the_documented_config_over_tls_with_passwords_and_acl(
    documented_broker: DocumentedBroker,
) -> None:
    port, ca = documented_broker.tls_port, documented_broker.ca_file
    server_url = MqttUrl.parse(f"mqtts://fieldops-server:pw-s@127.0.0.1:{port}?ca={ca}")
    bridge_url = MqttUrl.parse(f"mqtts://bridge-est1:pw-b@127.0.0.1:{port}?ca={ca}")
    server = MqttTransport(server_url, client_id="fieldops-1", share_group="fieldops")
    intruder = MqttTransport(
        MqttUrl.parse(f"mqtts://fieldops-server:wrong@127.0.0.1:{port}?ca={ca}"),
        client_id="intruder", reconnect_min_delay_s=1, reconnect_max_delay_s=1,
    )
    try:
        await started(server)  # TLS verified against the CA, password, ACL on a $share filter
        publish(bridge_url, [
            ("fieldops/v1/est1/b1/elevator/el1/event", b"mine"),
            ("fieldops/v1/est2/b1/elevator/el1/event", b"not my estate"),  # ACL: dropped
        ])
        got = await until_sentinel(
            server, bridge_url, topic="fieldops/v1/est1/b1/elevator/el1/status"
        )
        assert payloads(got) == [b"mine"]
        assert server.ack(got) == 1

        intruder.start()
        await eventually(lambda: intruder.last_error is not None, "the refusal")
        assert "refused" in (intruder.last_error or "")
        assert not intruder.connected
    finally:
        server.stop()
        intruder.stop()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
