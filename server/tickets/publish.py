"""After a ticket write commits: wake the desk streams and the push sender."""

from __future__ import annotations

from typing import Any

from litestar import Request

from server.tickets.lifecycle import Outcome


def after_commit(request: Request[Any, Any, Any], outcome: Outcome) -> None:
    """Remember an outcome; the app's after_response hook publishes it once committed."""
    request.state.setdefault("ticket_outcomes", []).append(outcome)


async def publish_outcomes(request: Request[Any, Any, Any]) -> None:
    """after_response hook: runs after the request's transaction has committed."""
    outcomes: list[Outcome] = request.state.get("ticket_outcomes", [])
    if not outcomes:
        return
    request.app.state.changes.publish([c for o in outcomes for c in o.changes])
    wake = getattr(request.app.state, "push_wake", None)
    if wake is not None and any(o.notify for o in outcomes):
        wake.set()
