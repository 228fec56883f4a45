"""The consumer loop: drain the transport, write a batch, commit, then acknowledge.

Acknowledge only after commit (DESIGN.md: nothing is lost): if the process dies
between the two, the broker redelivers and the (device, id) keys make the second
write a no-op. A database outage stops the loop from acknowledging anything until
the database is back; a message that breaks a batch on its own is dead-lettered
alone so it cannot block the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import write_session
from server.ingest.batch import BatchResult, BatchWriter, Message
from server.ingest.directory import DeviceDirectory
from server.observability.metrics import Metrics
from server.rules.engine import RuleEngine
from server.rules.table import RuleTable
from server.tickets.changes import ChangeBus, TicketChange

log = logging.getLogger("fieldops.ingest")


class Transport(Protocol):
    @property
    def connected(self) -> bool: ...
    def drain(self, max_messages: int) -> list[Any]: ...
    async def wait_for_messages(self, timeout: float) -> None: ...  # noqa: ASYNC109
    def ack(self, messages: Any) -> int: ...


class Consumer:
    def __init__(
        self,
        transport: Transport,
        sessionmaker: async_sessionmaker[AsyncSession],
        rules: RuleTable,
        *,
        metrics: Metrics,
        bus: ChangeBus,
        clock: Callable[[], datetime],
        batch_size: int = 5000,
        batch_window_s: float = 0.005,
        sweep_interval_s: float = 1.0,
    ) -> None:
        self.transport = transport
        self.sessionmaker = sessionmaker
        self.engine = RuleEngine(rules)
        self.directory = DeviceDirectory()
        self.writer = BatchWriter(self.engine, self.directory, clock)
        self.metrics = metrics
        self.bus = bus
        self.clock = clock
        self.batch_size = batch_size
        self.batch_window_s = batch_window_s
        self.sweep_interval_s = sweep_interval_s
        self.burst_threshold = 200
        self.database_ok = True
        self.last_error: str | None = None
        self.committed = 0
        self.in_hand = 0  # drained from the transport, not yet committed and acknowledged

    async def run(self) -> None:
        """Consume until cancelled; the timed rules run beside it, never in its way."""
        log.info("consumer started")
        sweeper = asyncio.create_task(self._sweep_forever(), name="fieldops-sweeper")
        try:
            while True:
                await self.run_once()
        finally:
            sweeper.cancel()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:  # a bug in a timed rule must not stop the others
                log.exception("timed rules failed; trying again in %s s", self.sweep_interval_s)

    async def run_once(self) -> None:
        self.metrics.mqtt_connected.set(1 if self.transport.connected else 0)
        await self.transport.wait_for_messages(0.05)
        batch = self.transport.drain(self.batch_size)
        if len(batch) >= self.burst_threshold and len(batch) < self.batch_size and self.batch_window_s > 0:
            # In a burst, a short window fills the batch (fewer commits); a trickle is written
            # at once, so an alarm in quiet times waits for nothing.
            await asyncio.sleep(self.batch_window_s)
            batch = [*batch, *self.transport.drain(self.batch_size - len(batch))]
        if batch:
            self.in_hand = len(batch)
            try:
                await self._write_with_retry(batch)
            finally:
                self.in_hand = 0

    async def _write_with_retry(self, batch: list[Any]) -> None:
        delay = 0.2
        while True:
            try:
                result = await self._commit(batch)
            except (OperationalError, OSError) as exc:
                # The database is away: keep the batch, acknowledge nothing, try again.
                self._mark_db_down(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            except DBAPIError as exc:
                log.warning("batch of %d failed (%s); writing its messages one by one", len(batch),
                            type(exc).__name__)
                await self._write_individually(batch)
                return
            self._after_commit(batch, result)
            return

    async def _write_individually(self, batch: list[Any]) -> None:
        for message in batch:
            try:
                result = await self._commit([message])
            except DBAPIError as exc:
                if isinstance(exc, OperationalError):
                    raise
                result = await self._commit_poison(message, exc)
            self._after_commit([message], result)

    async def _commit(self, batch: Sequence[Message]) -> BatchResult:
        # The write lock up front: a "database is locked" here would hold the stream as if
        # the database were down (server/db.py).
        async with write_session(self.sessionmaker) as session:
            return await self.writer.write(session, batch)

    async def _commit_poison(self, message: Any, exc: Exception) -> BatchResult:
        """A message the store refuses on its own: dead-letter it so the stream moves on."""
        log.error("message on %s cannot be stored: %s", message.topic[:200], exc)
        async with write_session(self.sessionmaker) as session:
            await self.writer._dead_letter(session, [(message, "store_error", str(exc)[:2000])],
                                           self.clock())
        return BatchResult(dead_letters={"store_error": 1})

    def _after_commit(self, batch: Sequence[Any], result: BatchResult) -> None:
        self.transport.ack(batch)
        if not self.database_ok:
            log.info("database is back; consuming again")
        self.database_ok = True
        self.committed += len(batch)
        if result.events:
            self.metrics.events_stored.labels("event").inc(result.events)
        if result.readings:
            self.metrics.events_stored.labels("reading").inc(result.readings)
        if result.statuses:
            self.metrics.events_stored.labels("status").inc(result.statuses)
        if result.duplicates:
            self.metrics.events_duplicate.inc(result.duplicates)
        for reason, count in result.dead_letters.items():
            self.metrics.dead_letters.labels(reason).inc(count)
        self._publish(result.changes)

    def _publish(self, changes: list[TicketChange]) -> None:
        for change in changes:
            if change.action == "opened":
                self.metrics.tickets_opened.labels(change.kind, change.severity).inc()
        if changes:
            self.bus.publish(changes)

    def _mark_db_down(self, exc: BaseException) -> None:
        if self.database_ok:
            log.error("database unavailable, holding messages unacknowledged: %s", exc)
        self.database_ok = False
        self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"

    async def sweep(self) -> None:
        """Run the timed rules; a failure is logged and retried on the next sweep."""
        changes: list[TicketChange] = []
        try:
            async with self.sessionmaker() as session, session.begin():
                await self.engine.sweep(session, self.clock(), changes,
                                        partial(self.directory.by_id, session))
        except (OperationalError, OSError) as exc:
            self._mark_db_down(exc)
            return
        self._publish(changes)

