"""The alarm path, timed end to end under load (issue #4): device → ticket → desk → phone.

With 2,000 ev/s of other device traffic (meter readings, and 5 % status heartbeats, from
the demo estate's devices, published by a separate process), an `elevator.trapped` raise
is published every ~100 ms, one at a time, and each sample is timed on one monotonic
clock in this process:

    t0  publish            just before the QoS 1 publish of the raise (fresh event id)
    t1  ticket committed   the new ticket row first seen by a reader polling the database
                           every ~1 ms (or the SSE time, if that came first)
    t2  desk SSE           the `opened` event for that ticket read by a desk client on
                           `GET /api/desk/stream` (matched by the ticket's context.event_id)
    t3  push received      the Web Push POST for that ticket fully read by a push service
                           in this script (decrypted with http_ece, matched by ticket_id)

Nobody is pushed when a device raises an alarm: the server pushes a ticket to a phone
when the desk *dispatches* it (server/tickets/lifecycle.py) or when an SLA clock runs
out (server/sla/escalation.toml: the supervisor, 2 minutes after an unacknowledged
critical alarm). So the desk client here is an operator with zero reaction time: the
moment it reads the `opened` event it dispatches the ticket to the building's
specialist (spec1 for b1, spec2 for b2), whose phone subscription points at the push
service in this script. publish → push is therefore "the specialist's phone is
notified, with no human delay at the desk". After each sample the desk cancels the
ticket, so the next raise opens a new one (elevator.trapped is never auto-resolved;
one active ticket per device and type). The raises rotate over the three elevators.

"Where the time goes" splits the legs with the server's own clocks: the ticket's
`opened_at` (the consumer's clock when it started the batch), and the dispatched push's
`created_at` (the dispatch handler's clock) and `claimed_at` (the push sender's clock
when it woke), all read back from the database.

Everything is private and on loopback: its own Mosquitto (tests/support/broker.py), a
fresh SQLite file (or a fresh PostgreSQL database with --postgres), and a real
`fieldops serve` process (web app, MQTT consumer, SLA runner and push sender together,
as in production). All of it is stopped and removed at the end, also on Ctrl-C.

    .venv/bin/python bench/alarm_path.py [--samples 200] [--interval 0.1] [--background 2000]
    .venv/bin/python bench/alarm_path.py --postgres [postgresql+asyncpg://postgres@127.0.0.1:5432/test]
    .venv/bin/python bench/alarm_path.py --json        # machine-readable, with every sample

Target (issue #4): p99 publish → push received ≤ 150 ms on this machine. The exit
status is 0 on PASS, 1 on MISS (or when a sample got no push within --timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.broker import PrivateMosquitto, free_port  # noqa: E402

TARGET_P99_MS = 150.0
SITE = "xinwaitan"
# Each elevator of the demo estate, and the specialist who covers its building.
ELEVATORS = (("b1-el1", "spec1"), ("b1-el2", "spec1"), ("b2-el1", "spec2"))
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


# --- background traffic (a separate process, like a fleet of devices) -------------------------


def _background_stream(seed: int, heartbeats: float) -> Iterator[tuple[str, bytes, bool]]:
    """Endless non-alarm telemetry (topic, body, retain): meter readings, and this share of status
    heartbeats (`online`, retained, as a device or bridge republishes it)."""
    from datetime import timedelta, timezone

    import msgspec

    from server.demo.estate import plan_estate

    shanghai = timezone(timedelta(hours=8))
    plan = plan_estate()
    vacant = {u.slug for u in plan.units if u.state == "vacant"}
    # Occupied and renovating units only: consumption in a vacant unit would open tickets.
    meters = [d for d in plan.devices if d.kind == "meter" and d.unit not in vacant]
    registers = {m.slug: 100.0 for m in meters}
    encode = msgspec.json.encode
    rng = random.Random(seed)
    for n in range(10**12):
        ts = datetime.now(UTC).astimezone(shanghai).isoformat(timespec="milliseconds")
        if rng.random() >= heartbeats:
            meter = rng.choice(meters)
            registers[meter.slug] += rng.random() / 100
            body = {
                "id": f"bg-{seed}-{n}",
                "ts": ts,
                "type": "meter.reading",
                "unit": meter.unit,
                "quantity": meter.role,
                "value": round(registers[meter.slug], 3),
                "uom": "kWh" if meter.role == "electricity" else "m3",
            }
            yield f"fieldops/v1/{SITE}/{meter.building}/meter/{meter.slug}/reading", encode(body), False
        else:
            device = rng.choice(plan.devices)
            topic = f"fieldops/v1/{SITE}/{device.building}/{device.kind}/{device.slug}/status"
            yield topic, encode({"state": "online", "ts": ts}), True


def _background(url: str, rate: float, heartbeats: float, sent: Any, started: Any, stop: Any) -> None:
    """Publish at ``rate`` messages/s (QoS 1) until ``stop``; count into ``sent``."""
    from tests.support.publisher import Publisher

    publisher = None
    try:
        publisher = Publisher(url, inflight=200, client_id=f"bench-bg-{os.getpid()}")
        begin = time.monotonic()
        started.value = begin
        for i, (topic, body, retain) in enumerate(_background_stream(os.getpid(), heartbeats)):
            if stop.is_set():
                break
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            publisher.publish(topic, body, retain=retain)
            sent.value = i + 1
    except KeyboardInterrupt:
        pass
    finally:
        if publisher is not None:
            with contextlib.suppress(Exception):
                publisher.close()


# --- the database: prepared here, watched by a poller ---------------------------------------------


class Database:
    """The bench's own reader of the server's database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def open(self) -> None:
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        else:
            import asyncpg
            from sqlalchemy.engine import make_url

            dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
            self._pg = await asyncpg.connect(dsn, timeout=10)

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.close()

    async def _one(self, sql: str, *args: Any) -> Any:
        if self._sqlite is not None:
            row = self._sqlite.execute(sql.replace("$1", "?"), args).fetchone()
            return row[0] if row else None
        return await self._pg.fetchval(sql, *args)

    async def ticket_for_event(self, event_id: str) -> int | None:
        """The committed ticket the raise with this event id opened, if it is there yet."""
        if self._sqlite is not None:
            where = "json_extract(context, '$.event_id') = $1"
        else:
            where = "context->>'event_id' = $1"
        return await self._one(  # type: ignore[no-any-return]
            f"SELECT id FROM tickets WHERE type = 'elevator.trapped' AND {where}",  # noqa: S608 - constant
            event_id,
        )

    async def active_trapped(self) -> list[int]:
        sql = "SELECT id FROM tickets WHERE type = 'elevator.trapped' AND active_key IS NOT NULL"
        if self._sqlite is not None:
            return [int(r[0]) for r in self._sqlite.execute(sql).fetchall()]
        return [int(r[0]) for r in await self._pg.fetch(sql)]

    async def readings(self) -> int:
        return int(await self._one("SELECT count(*) FROM meter_readings") or 0)

    async def push_clocks(self, ticket_ids: list[int]) -> dict[int, tuple[datetime, datetime]]:
        """Per ticket, the server's own clocks of its `dispatched` push: (enqueued, sender woke).

        ``created_at`` is the dispatch request's clock (taken when the handler starts);
        ``claimed_at`` is the clock the sender took when it woke and claimed the row.
        """
        if not ticket_ids:
            return {}
        sql = (
            "SELECT ticket_id, created_at, claimed_at FROM push_deliveries "
            "WHERE step = 'dispatched' AND claimed_at IS NOT NULL AND ticket_id >= $1 AND ticket_id <= $2"
        )
        low, high = min(ticket_ids), max(ticket_ids)
        if self._sqlite is not None:
            rows = self._sqlite.execute(sql.replace("$1", "?").replace("$2", "?"), (low, high)).fetchall()
        else:
            rows = await self._pg.fetch(sql, low, high)
        return {int(r[0]): (_utc(r[1]), _utc(r[2])) for r in rows}


def _utc(value: datetime | str) -> datetime:
    """A stored UTC time (SQLite keeps naive text, PostgreSQL an aware datetime) as an aware one."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _prepare_database(url: str) -> None:
    """Migrate to head and load the demo estate (staff, buildings, devices)."""
    from server.db import create_engine, create_sessionmaker
    from server.demo.estate import load_demo_estate
    from server.migrate import upgrade

    upgrade(url)

    async def load() -> None:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await load_demo_estate(session)
        finally:
            await engine.dispose()

    asyncio.run(load())


# --- the server -----------------------------------------------------------------------------------


def _start_server(
    tmp: Path, database_url: str, broker: PrivateMosquitto, log_level: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
    env.update(
        FIELDOPS_DATA_DIR=str(tmp / "data"),
        FIELDOPS_DATABASE_URL=database_url,
        FIELDOPS_MQTT_URL=broker.url,
        FIELDOPS_HTTP_PORT=str(port),
        FIELDOPS_MQTT_CLIENT_ID=f"bench-alarm-{port}",
        FIELDOPS_LOG_LEVEL=log_level,
    )
    log = tmp / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}", log


async def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=1) as client:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{base_url}/ready")).status_code == 200:
                    return
            if process.poll() is not None or time.monotonic() > deadline:
                text = await asyncio.to_thread(log.read_text, errors="replace")
                raise RuntimeError("fieldops serve did not become ready:\n" + text)
            await asyncio.sleep(0.1)


def _stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- one sample's timestamps --------------------------------------------------------------------


@dataclass
class Sample:
    index: int
    device: str
    specialist: str
    event_id: str
    t_publish: float = 0.0
    t_commit_seen: float | None = None  # the poller saw the committed row
    t_sse: float | None = None
    t_dispatch_sent: float | None = None
    t_dispatch_done: float | None = None  # the dispatch request's response read
    t_push: float | None = None
    t_opened_at: float | None = None  # the ticket's opened_at (the batch's clock), on our clock
    t_push_enqueued: float | None = None  # the dispatch handler's clock (push row created_at)
    t_sender_woke: float | None = None  # the push sender's clock when it claimed the row
    ticket_id: int | None = None
    warmup: bool = False

    @property
    def t_commit(self) -> float | None:
        seen = [t for t in (self.t_commit_seen, self.t_sse) if t is not None]
        return min(seen) if seen else None

    @property
    def complete(self) -> bool:
        return None not in (self.t_commit, self.t_sse, self.t_push)


# (label, start, end): the legs reported, each a difference of two timestamps.
LEGS: list[tuple[str, Callable[[Sample], float | None], Callable[[Sample], float | None]]] = [
    ("publish → commit", lambda s: s.t_publish, lambda s: s.t_commit),
    ("commit → SSE", lambda s: s.t_commit, lambda s: s.t_sse),
    ("SSE → push", lambda s: s.t_sse, lambda s: s.t_push),
    ("commit → push", lambda s: s.t_commit, lambda s: s.t_push),
    ("publish → SSE", lambda s: s.t_publish, lambda s: s.t_sse),
    ("publish → push (end to end)", lambda s: s.t_publish, lambda s: s.t_push),
]
# Where the time goes inside the legs above.
DETAIL: list[tuple[str, Callable[[Sample], float | None], Callable[[Sample], float | None]]] = [
    ("  publish → batch clock", lambda s: s.t_publish, lambda s: s.t_opened_at),
    ("  batch clock → commit", lambda s: s.t_opened_at, lambda s: s.t_commit),
    ("  dispatch POST round trip", lambda s: s.t_dispatch_sent, lambda s: s.t_dispatch_done),
    ("  dispatch sent → push", lambda s: s.t_dispatch_sent, lambda s: s.t_push),
    ("    dispatch sent → handler clock", lambda s: s.t_dispatch_sent, lambda s: s.t_push_enqueued),
    ("    handler clock → sender woke", lambda s: s.t_push_enqueued, lambda s: s.t_sender_woke),
    ("    sender woke → push received", lambda s: s.t_sender_woke, lambda s: s.t_push),
]


def _ms(
    sample: Sample, start: Callable[[Sample], float | None], end: Callable[[Sample], float | None]
) -> float | None:
    a, b = start(sample), end(sample)
    return None if a is None or b is None else (b - a) * 1000


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    if len(values) == 1:
        p95 = p99 = values[0]
    else:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        p95, p99 = cuts[94], cuts[98]
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": p95,
        "p99": p99,
        "max": max(values),
        "mean": statistics.fmean(values),
    }


# --- the push service (what FCM or Mozilla would be for a phone) -----------------------------------


class PushService:
    """HTTP/1.1 on 127.0.0.1 with keep-alive; records when each push arrived and decrypts it."""

    def __init__(self, on_push: Callable[[int, float], None]) -> None:
        self._on_push = on_push
        self._keys: dict[str, tuple[Any, bytes]] = {}  # path -> (private key, auth secret)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.received = 0
        self.problems: list[str] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):  # the sender's keep-alive connections
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def subscription(self, label: str) -> dict[str, Any]:
        """A new subscription, as the browser's PushSubscription.toJSON() gives it."""
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        from server.push.keys import b64url

        path = f"/push/{label}-{uuid.uuid4().hex[:8]}"
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        self._keys[path] = (key, auth)
        point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {
            "endpoint": f"http://127.0.0.1:{self.port}{path}",
            "label": f"bench {label}",
            "keys": {"p256dh": b64url(point), "auth": b64url(auth)},
        }

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                path = request_line.split(" ")[1]
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                arrived = time.monotonic()
                writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                self.received += 1
                self._record(path, body, arrived)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the sender hung up, or we are stopping
        finally:
            self._connections.discard(writer)
            writer.close()

    def _record(self, path: str, body: bytes, arrived: float) -> None:
        import http_ece

        keys = self._keys.get(path)
        if keys is None:
            self.problems.append(f"push to unknown path {path}")
            return
        try:
            plain = http_ece.decrypt(body, private_key=keys[0], auth_secret=keys[1], version="aes128gcm")
            ticket_id = int(json.loads(plain)["ticket_id"])
        except Exception as exc:  # a body that does not decrypt is a finding, not a crash
            self.problems.append(f"cannot decrypt a push: {exc!r}")
            return
        self._on_push(ticket_id, arrived)


# --- the desk: a stream reader that dispatches at once --------------------------------------------


class Desk:
    def __init__(self, base_url: str) -> None:
        import httpx

        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)
        self.users: dict[str, int] = {}
        self.by_event: dict[str, Sample] = {}
        self.by_ticket: dict[int, Sample] = {}
        self.connected = asyncio.Event()
        self.errors: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._wall_to_mono = time.time() - time.monotonic()

    async def login(self, username: str) -> str:
        response = await self.http.post(
            "/api/auth/login", json={"username": username, "password": f"demo-{username}"}
        )
        response.raise_for_status()
        data = response.json()
        self.users[username] = int(data["user"]["id"])
        return str(data["token"])

    async def setup(self, push: PushService) -> None:
        self.http.headers["Authorization"] = f"Bearer {await self.login('desk')}"
        for specialist in sorted({s for _, s in ELEVATORS}):
            token = await self.login(specialist)
            response = await self.http.post(
                "/api/push/subscriptions",
                json=push.subscription(specialist),
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()

    async def stream(self) -> None:
        """Follow the desk stream; dispatch each new trapped ticket of ours the moment it shows."""
        headers = {"Accept": "text/event-stream"}
        # No read timeout: the stream is quiet between samples (keep-alives every 15 s).
        stream = self.http.stream("GET", "/api/desk/stream", headers=headers, timeout=None)
        async with stream as response:
            response.raise_for_status()
            data: list[str] = []
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    self.connected.set()  # the stream's opening comment
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "" and data:
                    arrived = time.monotonic()
                    self._message("\n".join(data), arrived)
                    data = []

    def _message(self, data: str, arrived: float) -> None:
        message = json.loads(data)
        ticket = message.get("ticket")
        if message.get("action") != "opened" or not ticket:
            return
        sample = self.by_event.get(str((ticket.get("context") or {}).get("event_id")))
        if sample is None or sample.t_sse is not None:
            return
        sample.t_sse = arrived
        sample.ticket_id = int(ticket["id"])
        self.by_ticket[sample.ticket_id] = sample
        opened = datetime.fromisoformat(ticket["opened_at"])
        sample.t_opened_at = opened.timestamp() - self._wall_to_mono
        task = asyncio.create_task(self._dispatch(sample))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, sample: Sample) -> None:
        assert sample.ticket_id is not None
        sample.t_dispatch_sent = time.monotonic()
        response = await self.http.post(
            f"/api/tickets/{sample.ticket_id}/actions",
            json={"action": "dispatch", "assignee_id": self.users[sample.specialist]},
        )
        sample.t_dispatch_done = time.monotonic()
        if response.status_code != 200:
            self.errors.append(
                f"dispatch of ticket {sample.ticket_id}: {response.status_code} {response.text[:200]}"
            )

    async def cancel(self, ticket_id: int) -> None:
        """Close the sample's ticket, so the device's next raise opens a new one."""
        response = await self.http.post(
            f"/api/tickets/{ticket_id}/actions", json={"action": "cancel", "reason": "bench sample"}
        )
        if response.status_code != 200:
            self.errors.append(f"cancel of ticket {ticket_id}: {response.status_code} {response.text[:200]}")

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.http.aclose()


# --- the measurement ------------------------------------------------------------------------------


@dataclass
class Background:
    process: Any
    sent: Any
    started: Any
    stop: Any


@contextlib.asynccontextmanager
async def _running(coroutine: Any, name: str) -> AsyncIterator[asyncio.Task[Any]]:
    task = asyncio.create_task(coroutine, name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _measure(
    args: argparse.Namespace,
    base_url: str,
    database: Database,
    broker_url: str,
    background: Background | None,
) -> dict[str, Any]:
    from tests.support.publisher import Publisher

    push_by_ticket: dict[int, float] = {}
    arrived = asyncio.Event()

    def on_push(ticket_id: int, at: float) -> None:
        push_by_ticket.setdefault(ticket_id, at)
        arrived.set()

    push = PushService(on_push)
    await push.start()
    desk = Desk(base_url)
    publisher = None
    samples: list[Sample] = []
    window: dict[str, float] = {}
    try:
        await desk.setup(push)
        async with _running(desk.stream(), "desk-stream") as stream:
            await asyncio.wait_for(desk.connected.wait(), 10)
            publisher = await asyncio.to_thread(
                Publisher, broker_url, client_id=f"bench-trapped-{os.getpid()}"
            )
            if background is not None:
                background.process.start()
                await asyncio.sleep(2)  # let the background traffic settle
            window = {
                "sent": background.sent.value if background else 0,
                "at": time.monotonic(),
                "readings": await database.readings(),
            }
            run = uuid.uuid4().hex[:6]
            total = args.warmup + args.samples
            for i in range(total):
                if stream.done():
                    raise RuntimeError(f"the desk stream ended: {stream.exception()!r}")
                device, specialist = ELEVATORS[i % len(ELEVATORS)]
                sample = Sample(i, device, specialist, f"bench-{run}-{i}", warmup=i < args.warmup)
                desk.by_event[sample.event_id] = sample
                samples.append(sample)
                await _one_sample(sample, publisher, database, desk, push_by_ticket, arrived, args.timeout)
                await asyncio.sleep(args.interval)
            window.update(
                sent_end=background.sent.value if background else 0,
                end=time.monotonic(),
                readings_end=await database.readings(),
            )
            # The server's own clocks of each push, to split "dispatch sent → push" (wall → monotonic).
            offset = time.time() - time.monotonic()
            clocks = await database.push_clocks([s.ticket_id for s in samples if s.ticket_id is not None])
            for sample in samples:
                if sample.ticket_id in clocks:
                    enqueued, woke = clocks[sample.ticket_id]
                    sample.t_push_enqueued = enqueued.timestamp() - offset
                    sample.t_sender_woke = woke.timestamp() - offset
    finally:
        if publisher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(publisher.close), 10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(desk.aclose(), 5)
        await push.stop()
    return _report(args, samples, window, desk.errors + push.problems)


async def _one_sample(
    sample: Sample,
    publisher: Any,
    database: Database,
    desk: Desk,
    push_by_ticket: dict[int, float],
    arrived: asyncio.Event,
    give_up_s: float,
) -> None:
    from tests.support.publisher import event, topic

    body = event("elevator.trapped", alarm="raise", id=sample.event_id, data={"floor": 3 + sample.index % 15})
    subject = topic(sample.device)
    sample.t_publish = time.monotonic()
    publisher.publish(subject, body)
    deadline = sample.t_publish + give_up_s
    # t1: poll for the committed row (a trickle of ~1 ms queries, only while we wait for it).
    ticket_id = None
    while ticket_id is None and time.monotonic() < deadline:
        ticket_id = await database.ticket_for_event(sample.event_id)
        if ticket_id is None:
            await asyncio.sleep(0.0005)
        else:
            sample.t_commit_seen = time.monotonic()
    if ticket_id is None:
        desk.errors.append(f"sample {sample.index}: no ticket within {give_up_s:.0f} s")
        await _recover(sample, database, desk)
        return
    # t2 and t3 arrive on their own tasks; wait for the push of this ticket.
    while time.monotonic() < deadline:
        if sample.ticket_id is not None and sample.ticket_id in push_by_ticket:
            sample.t_push = push_by_ticket[sample.ticket_id]
            break
        arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), 0.05)
    if not sample.complete:
        desk.errors.append(
            f"sample {sample.index}: incomplete within {give_up_s:.0f} s (SSE {sample.t_sse is not None}, "
            f"push {sample.t_push is not None})"
        )
    # Wait for the dispatch to finish before cancelling: a cancel first would make it a 409.
    for _ in range(int(give_up_s / 0.01)):
        if sample.t_sse is None or sample.t_dispatch_done is not None:
            break
        await asyncio.sleep(0.01)
    await desk.cancel(ticket_id)


async def _recover(sample: Sample, database: Database, desk: Desk, wait_s: float = 60) -> None:
    """After a sample timed out: let its ticket arrive, then cancel every active trapped ticket.

    Otherwise the next raise on that elevator would count a repeat on the late ticket
    instead of opening a new one, and every later sample on it would fail too.
    """
    deadline = time.monotonic() + wait_s
    while await database.ticket_for_event(sample.event_id) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the raise of sample {sample.index} made no ticket within {wait_s:.0f} s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # its dispatch, if the desk saw it late
    for ticket_id in await database.active_trapped():
        await desk.cancel(ticket_id)


def _report(
    args: argparse.Namespace, samples: list[Sample], window: dict[str, float], problems: list[str]
) -> dict[str, Any]:
    counted = [s for s in samples if not s.warmup]
    legs = {}
    for label, start, end in LEGS + DETAIL:
        values = [v for s in counted if (v := _ms(s, start, end)) is not None]
        legs[label.strip()] = _stats(values)
    seconds = max(window.get("end", 0) - window.get("at", 0), 1e-9)
    background_rate = (window.get("sent_end", 0) - window.get("sent", 0)) / seconds
    stored_rate = (window.get("readings_end", 0) - window.get("readings", 0)) / seconds
    end_to_end = legs["publish → push (end to end)"]
    complete = sum(1 for s in counted if s.complete)
    verdict = (
        "PASS"
        if complete == len(counted) and end_to_end.get("p99", float("inf")) <= TARGET_P99_MS
        else "MISS"
    )
    return {
        "samples": len(counted),
        "complete": complete,
        "warmup": args.warmup,
        "interval_s": args.interval,
        "database": "postgresql" if args.postgres else "sqlite",
        "background_target_per_s": args.background,
        "background_published_per_s": background_rate,
        "background_readings_stored_per_s": stored_rate,
        "window_s": seconds,
        "legs_ms": legs,
        "target_p99_ms": TARGET_P99_MS,
        "verdict": verdict,
        "problems": problems[:50],
        "raw": [asdict(s) for s in samples],
    }


def _print_table(result: dict[str, Any]) -> None:
    print(
        f"alarm path: {result['samples']} elevator.trapped samples ({result['complete']} complete, "
        f"{result['warmup']} warm-up not counted), {result['interval_s'] * 1000:.0f} ms apart, "
        f"{result['database']}"
    )
    print(
        f"background: {result['background_published_per_s']:,.0f} ev/s published "
        f"(target {result['background_target_per_s']:,.0f}); "
        f"readings stored {result['background_readings_stored_per_s']:,.0f}/s "
        f"over {result['window_s']:.1f} s"
    )
    print()
    print(f"{'leg (ms)':<32}{'n':>5}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    for label, *_ in LEGS + DETAIL:
        if label == DETAIL[0][0]:
            print("where the time goes:")
        s = result["legs_ms"][label.strip()]
        if not s["n"]:
            print(f"{label:<32}{0:>5}")
            continue
        print(f"{label:<32}{s['n']:>5}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['p99']:>9.1f}{s['max']:>9.1f}")
    print()
    e2e = result["legs_ms"]["publish → push (end to end)"]
    p99 = e2e.get("p99", float("nan"))
    print(
        f"target: p99 publish → push ≤ {result['target_p99_ms']:.0f} ms: {p99:.1f} ms → {result['verdict']}"
    )
    for problem in result["problems"][:10]:
        print(f"  problem: {problem}")


# --- main -----------------------------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="elevator.trapped samples (counted)")
    parser.add_argument("--warmup", type=int, default=5, help="samples before the counted ones")
    parser.add_argument("--interval", type=float, default=0.1, help="pause between samples, s")
    parser.add_argument("--timeout", type=float, default=5.0, help="give a sample up after this, s")
    parser.add_argument("--background", type=float, default=2000, help="other device traffic, ev/s (0: none)")
    parser.add_argument(
        "--heartbeats",
        type=float,
        default=0.05,
        help="share of the background that is status heartbeats (the rest: readings)",
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get("FIELDOPS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES,
        metavar="ADMIN_URL",
        help="use a fresh PostgreSQL database created next to ADMIN_URL's "
        f"(default {DEFAULT_POSTGRES}); without it: a fresh SQLite file",
    )
    parser.add_argument("--log-level", default="WARNING", help="the server's FIELDOPS_LOG_LEVEL")
    parser.add_argument("--keep-log", type=Path, help="copy the server's log here at the end")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (with every sample)")
    return parser


def main() -> int:
    args = _parser().parse_args()
    # Ctrl-C and SIGTERM raise KeyboardInterrupt wherever we are (asyncio.run's own SIGINT
    # handling would only cancel the main task, and wait for it to wind down).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    cleanups: list[Callable[[], None]] = []  # run last-in first-out, whatever happens
    tmp = Path(tempfile.mkdtemp(prefix="fieldops-alarm-"))
    cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    try:
        result = _run(args, tmp, cleanups)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        # No second Ctrl-C may cut the cleanup short and leave a server or broker behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as exc:
                print(f"cleanup: {exc!r}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        _print_table(result)
    return 0 if result["verdict"] == "PASS" else 1


def _run(args: argparse.Namespace, tmp: Path, cleanups: list[Callable[[], None]]) -> dict[str, Any]:
    broker = PrivateMosquitto(tmp / "broker")
    cleanups.append(broker.stop)
    broker.start()
    if args.postgres:
        from tests.support.postgres import PostgresDatabases

        postgres = PostgresDatabases(args.postgres)
        name = postgres.create()
        cleanups.append(lambda: postgres.drop(name))
        database_url = postgres.url_for(name)
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'fieldops.db'}"
    _prepare_database(database_url)
    server, base_url, log = _start_server(tmp, database_url, broker, args.log_level)
    if args.keep_log:
        cleanups.append(lambda: shutil.copyfile(log, args.keep_log))
    cleanups.append(lambda: _stop_process(server))

    background = None
    if args.background > 0:
        ctx = mp.get_context("spawn")
        sent, started, stop = ctx.Value("q", 0, lock=False), ctx.Value("d", 0.0, lock=False), ctx.Event()
        process = ctx.Process(
            target=_background,
            args=(broker.url, args.background, args.heartbeats, sent, started, stop),
            daemon=True,
        )
        background = Background(process, sent, started, stop)
        cleanups.append(lambda: _stop_background(background))

    async def go() -> dict[str, Any]:
        await _wait_ready(base_url, server, log)
        database = Database(database_url)
        await database.open()
        try:
            return await _measure(args, base_url, database, broker.url, background)
        finally:
            await database.close()

    return asyncio.run(go())


def _stop_background(background: Background) -> None:
    background.stop.set()
    if background.process.pid is None:  # never started
        return
    background.process.join(10)
    if background.process.is_alive():
        background.process.terminate()
        background.process.join(5)


if __name__ == "__main__":
    raise SystemExit(main())
