"""Start and stop ingestion: with `fieldops serve` (lifespan) or alone (`fieldops ingest`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from litestar import Litestar

from server.db import create_engine, create_sessionmaker, utcnow
from server.ingest.consumer import Consumer
from server.ingest.embedded_broker import EmbeddedBroker
from server.ingest.mqtt_url import MqttUrl
from server.ingest.transport import MqttTransport
from server.observability.metrics import Metrics
from server.rules.table import RuleTable, load_rules
from server.settings import Settings
from server.tickets.changes import ChangeBus

log = logging.getLogger("fieldops.ingest")


class Ingest:
    """The running consumer with its transport (and the embedded broker, if any)."""

    def __init__(self, settings: Settings, sessionmaker: Any, metrics: Metrics, bus: ChangeBus,
                 *, rules: RuleTable | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.metrics = metrics
        self.bus = bus
        self.rules = rules or load_rules(Path(settings.rules_file) if settings.rules_file else None)
        self.clock = clock
        self.broker: EmbeddedBroker | None = None
        self.transport: MqttTransport | None = None
        self.consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def broker_url(self) -> MqttUrl:
        assert self.transport is not None
        return self.transport.url

    async def start(self) -> None:
        if self.settings.mqtt_url:
            url, protocol = MqttUrl.parse(self.settings.mqtt_url), "v5"
        else:
            # Zero-config: a broker of our own (mosquitto if installed, else amqtt in-process).
            self.broker = EmbeddedBroker(self.settings.data_dir / "broker")
            url = await self.broker.start()
            protocol = self.broker.protocol
            log.info("embedded %s broker listening on %s", self.broker.kind, url.redacted())
        self.transport = MqttTransport(
            url, client_id=self.settings.mqtt_client_id, share_group=self.settings.mqtt_share_group,
            protocol=protocol,  # type: ignore[arg-type]
        )
        self.transport.start()
        self.consumer = Consumer(self.transport, self.sessionmaker, self.rules, metrics=self.metrics,
                                 bus=self.bus, clock=self.clock)
        self._task = asyncio.create_task(self._run(), name="fieldops-consumer")

    async def _run(self) -> None:
        assert self.consumer is not None
        while True:
            try:
                await self.consumer.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug must not stop ingestion for good; unacknowledged messages come again.
                log.exception("consumer failed; restarting it in 1 s")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.transport is not None:
            await asyncio.to_thread(self.transport.stop)
        if self.broker is not None:
            await self.broker.stop()

    def readiness(self) -> tuple[str, dict[str, Any]]:
        """("ok" | why not, detail) for /ready."""
        if self.transport is None:
            return "starting", {}
        detail = self.transport.status()
        if self.consumer is not None and not self.consumer.database_ok:
            detail["consumer_error"] = self.consumer.last_error
        if self._task is not None and self._task.done():
            return "consumer stopped", detail
        if not self.transport.connected:
            return "disconnected", detail
        return "ok", detail


@asynccontextmanager
async def ingest_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Run the consumer alongside the web app (`fieldops serve`)."""
    bus: ChangeBus = app.state.changes
    ingest = Ingest(app.state.settings, app.state.sessionmaker, app.state.metrics, bus)
    await ingest.start()
    app.state.ingest = ingest
    try:
        yield
    finally:
        await ingest.stop()


async def run_standalone(settings: Settings) -> int:
    """`fieldops ingest`: the consumer without the web server, until SIGINT/SIGTERM."""
    engine = create_engine(settings.database_url)
    ingest = Ingest(settings, create_sessionmaker(engine), Metrics(), ChangeBus())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await ingest.start()
    log.info("ingesting from %s; Ctrl+C stops", ingest.broker_url.redacted())
    try:
        await stop.wait()
    finally:
        await ingest.stop()
        await engine.dispose()
    return 0
