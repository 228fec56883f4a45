"""/health, /ready and /metrics: public, for load balancers and Prometheus."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import MediaType, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str  # ready | not_ready
    database: str
    broker: str
    detail: dict[str, Any] = {}


@get("/health", tags=["ops"], summary="Liveness: the process answers", exclude_from_auth=True)
async def health() -> Health:
    return Health(status="ok")


@get("/ready", tags=["ops"], summary="Readiness: database and broker reachable")
async def ready(state: State) -> Response[Readiness]:
    database = "ok"
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means not ready; say which
        database = f"unreachable: {type(exc).__name__}"
    broker, detail = "disabled", {}
    ingest = getattr(state, "ingest", None)
    if ingest is not None:
        broker, detail = ingest.readiness()
    ok = database == "ok" and broker in ("ok", "disabled")
    body = Readiness(status="ready" if ok else "not_ready", database=database, broker=broker,
                     detail=detail)
    return Response(body, status_code=200 if ok else 503)


@get("/metrics", tags=["ops"], summary="Prometheus metrics", media_type=MediaType.TEXT,
     include_in_schema=True)
async def metrics(state: State) -> Response[bytes]:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
