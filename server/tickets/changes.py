"""In-process ticket change events: published after commit, consumed by the desk stream and dispatch.

The desk stream itself reads the database (so any server process can serve it);
these events are the prompt wake-up for listeners in this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

import msgspec

log = logging.getLogger("fieldops.tickets.changes")


class TicketChange(msgspec.Struct, frozen=True):
    ticket_id: int
    action: str  # opened, repeated, reopened, cleared, auto_resolved, escalated …
    at: datetime
    kind: str = ""
    severity: str = ""


class ChangeBus:
    """Fan-out of ticket changes to subscribers, each with its own bounded queue."""

    def __init__(self, queue_size: int = 10_000) -> None:
        self._queues: set[asyncio.Queue[TicketChange]] = set()
        self._queue_size = queue_size
        self.dropped = 0

    def publish(self, changes: Iterable[TicketChange]) -> None:
        for change in changes:
            for queue in self._queues:
                try:
                    queue.put_nowait(change)
                except asyncio.QueueFull:
                    # A stalled listener must not stall ingestion; it re-reads the database.
                    self.dropped += 1
                    log.warning("ticket change listener is behind; it must catch up from the database")

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[TicketChange]]:
        queue: asyncio.Queue[TicketChange] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
