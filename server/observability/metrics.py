"""Prometheus metrics, one registry per app so tests can build many apps."""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric fieldops exports. Later areas add theirs here, in one place."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "fieldops_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "fieldops_http_request_seconds",
            "HTTP request duration by route",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.mqtt_connected = Gauge(
            "fieldops_mqtt_connected",
            "1 while the consumer is connected to the broker",
            registry=self.registry,
        )
        self.events_stored = Counter(
            "fieldops_events_stored",
            "Device messages committed, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "fieldops_events_duplicate",
            "Redelivered (device, id) messages acknowledged and ignored",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "fieldops_dead_letters",
            "Messages refused into the dead-letter store, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.sla_breaches = Counter(
            "fieldops_sla_breaches",
            "SLA breaches recorded, by clock and whether the delay was announced",
            ["clock", "announced"],
            registry=self.registry,
        )
        self.sla_escalations = Counter(
            "fieldops_sla_escalations",
            "Escalation pushes by ladder level",
            ["level"],
            registry=self.registry,
        )
        self.tickets_opened = Counter(
            "fieldops_tickets_opened",
            "Tickets opened, by kind and severity",
            ["kind", "severity"],
            registry=self.registry,
        )


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count and time each HTTP request by its route template (not its raw path)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            metrics: Metrics = scope["app"].state.metrics
            route = _route_template(scope)
            method = str(scope.get("method", ""))
            metrics.http_requests.labels(method, route, str(status)).inc()
            metrics.http_seconds.labels(method, route).observe(time.perf_counter() - started)

    return middleware


def _route_template(scope: Any) -> str:
    # The template (/api/tickets/{ticket_id:int}) keeps label cardinality bounded.
    return str(scope.get("path_template") or "unmatched")
