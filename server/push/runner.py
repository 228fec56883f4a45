"""The background loop that sends pushes while the web server runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from server.push.keys import ensure_vapid_key
from server.push.sender import PushSender
from server.push.service import register_wakeup

log = logging.getLogger("fieldops.push")

POLL_SECONDS = 1.0  # pushes enqueued by another process are picked up within this
ERROR_PAUSE_SECONDS = 5.0  # after an unexpected error (database down), before trying again
# On shutdown, let the batch in flight finish (requests time out after 10 s): a cancelled
# batch would leave its rows 'sending', and those are never resent (docs/push.md).
SHUTDOWN_GRACE_SECONDS = 15.0


@asynccontextmanager
async def push_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Run the sender with the app: makes the VAPID key on first start, then sends what is due.

    Woken at once when this process commits an enqueue (``app.state.push_wakeup``); polls
    every second for pushes enqueued elsewhere. Errors are logged and the loop goes on.
    """
    sessionmaker = app.state.sessionmaker
    try:
        async with sessionmaker() as session, session.begin():
            await ensure_vapid_key(session)
    except Exception:
        log.exception("push: could not load or create the VAPID key; will retry when sending")
    sender = PushSender(sessionmaker)
    wakeup, stop = asyncio.Event(), asyncio.Event()
    app.state.push_wakeup = wakeup
    app.state.push_wake = wakeup  # the name server/tickets/publish.py looks for
    app.state.push_sender = sender
    unregister = register_wakeup(wakeup)
    task = asyncio.create_task(run_sender(sender, wakeup, stop), name="fieldops-push-sender")
    try:
        yield
    finally:
        unregister()
        stop.set()
        wakeup.set()
        try:
            await asyncio.wait_for(task, SHUTDOWN_GRACE_SECONDS)
        except TimeoutError:
            log.warning("push: sender did not stop within %s s; cancelled", SHUTDOWN_GRACE_SECONDS)
        except Exception:
            log.exception("push: sender stopped with an error")
        await sender.aclose()


async def run_sender(sender: PushSender, wakeup: asyncio.Event, stop: asyncio.Event | None = None) -> None:
    """Send due pushes until ``stop`` is set (or the task is cancelled)."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        wakeup.clear()
        try:
            attempted = await sender.send_due()
        except Exception:
            log.exception("push: sending failed; retrying in %s s", ERROR_PAUSE_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ERROR_PAUSE_SECONDS)
            continue
        if attempted >= sender.batch_size:
            continue  # a full batch: more may be due right now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), POLL_SECONDS)
