"""After a ticket write commits: tell the desk streams and wake the push sender."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request

if TYPE_CHECKING:
    from server.tickets.lifecycle import Outcome


def after_commit(request: Request[Any, Any, Any], outcome: Outcome) -> None:
    """Remember an outcome; it is published once the request's transaction commits."""
    request.state.setdefault("ticket_outcomes", []).append(outcome)


def publish_committed(request: Request[Any, Any, Any]) -> None:
    """Tell the desk streams (and wake the push sender) about what the request committed.

    Called by the request's session right after its commit (server/deps.py), so a desk
    hears of a step before the response has gone out: a phone on a slow link must not
    hold back the desk's view of its own arrival.
    """
    outcomes: list[Outcome] = request.state.pop("ticket_outcomes", [])
    if not outcomes:
        return
    request.app.state.changes.publish([c for o in outcomes for c in o.changes])
    wake = getattr(request.app.state, "push_wake", None)
    if wake is not None and any(o.notify for o in outcomes):
        wake.set()
