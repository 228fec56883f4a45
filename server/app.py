"""The application factory: routes, auth, error mapping, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path

from litestar import Litestar, Router, head
from litestar.config.response_cache import ResponseCacheConfig
from litestar.di import Provide
from litestar.file_system import BaseLocalFileSystem
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.response.file import ASGIFileResponse
from litestar.static_files import create_static_files_router
from litestar.static_files.base import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine

from server.attachments.routes import ATTACHMENT_ROUTES
from server.auth.routes import AuthController, build_jwt_auth
from server.auth.staff import StaffController
from server.calendar.routes import CalendarController
from server.db import create_engine, create_sessionmaker, utcnow
from server.deps import provide_session, provide_user
from server.desk.stream import desk_stream
from server.devices.routes import DeviceController
from server.errors import EXCEPTION_HANDLERS
from server.estates.routes import EstateController, UnitController
from server.ids import check_path_ids
from server.movein.routes import MOVE_IN_ROUTES
from server.observability.metrics import Metrics, metrics_middleware
from server.observability.routes import health, metrics, ready
from server.patrols.routes import PATROL_ROUTES
from server.push.routes import PushController, TicketDeliveryController
from server.reports.routes import ReportController
from server.settings import Settings
from server.sla.routes import SlaBreachController, TicketSlaController
from server.tickets.changes import ChangeBus
from server.tickets.routes import TicketController

log = logging.getLogger("fieldops.app")

PWA_DIR = Path(__file__).resolve().parent.parent / "pwa"

# A hook later areas use to run background work (the MQTT consumer) with the app.
Background = Callable[[Litestar], AbstractAsyncContextManager[None]]


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    background: list[Background] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Litestar:
    """Build the ASGI app from ``settings``; nothing here reads the environment."""
    owns_engine = engine is None
    db_engine = engine or create_engine(settings.database_url)
    jwt_auth = build_jwt_auth(settings.signing_key(), settings.token_ttl_minutes)
    metrics_registry = Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            async with _run_all(app, background or []):
                yield
        finally:
            if owns_engine:
                await db_engine.dispose()

    static_routers = []
    for name in ("app", "desk"):
        directory = PWA_DIR / name
        if directory.is_dir():
            static_routers.append(_static_site(name, directory))

    app = Litestar(
        route_handlers=[
            health,
            ready,
            metrics,
            AuthController,
            EstateController,
            UnitController,
            DeviceController,
            TicketController,
            StaffController,
            ReportController,
            CalendarController,
            TicketSlaController,
            SlaBreachController,
            desk_stream,
            PushController,
            TicketDeliveryController,
            *PATROL_ROUTES,
            *ATTACHMENT_ROUTES,
            *MOVE_IN_ROUTES,
            *static_routers,
        ],
        before_request=check_path_ids,
        dependencies={"db": Provide(provide_session), "user": Provide(provide_user, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[metrics_middleware],
        on_app_init=[jwt_auth.on_app_init],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="fieldops",
            version="0.1.0",
            description="Field operations for residential estates. Log in with POST "
            "/api/auth/login, then send `Authorization: Bearer <token>`.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        response_cache_config=ResponseCacheConfig(),
        debug=False,
        logging_config=None,  # logging is configured once by the entry point
    )
    app.state.settings = settings
    app.state.engine = db_engine
    app.state.sessionmaker = create_sessionmaker(db_engine)
    app.state.metrics = metrics_registry
    app.state.jwt_auth = jwt_auth
    app.state.changes = ChangeBus()
    app.state.clock = clock or utcnow
    return app


def _static_site(name: str, directory: Path) -> Router:
    """Serve a page folder (the PWA, the desk) without a token, GET and HEAD alike.

    Litestar's html_mode index route answers GET only, so HEAD /desk/ (monitoring, link
    checkers) would be a 405; a HEAD index route beside it answers like the GET without a body.
    """
    router = create_static_files_router(
        path=f"/{name}",
        directories=[directory],
        html_mode=True,
        name=f"static-{name}",
        include_in_schema=False,
        opt={"exclude_from_auth": True},
    )
    files = StaticFiles(is_html_mode=True, directories=[directory], file_system=BaseLocalFileSystem())

    @head("/", name=f"static-{name}/index-head", include_in_schema=False)
    async def index_head() -> ASGIFileResponse:
        return await files.handle(path="/", is_head_response=True)

    router.register(index_head)
    return router


@asynccontextmanager
async def _run_all(app: Litestar, background: list[Background]) -> AsyncIterator[None]:
    """Enter each background context in order, leave them in reverse."""
    if not background:
        yield
        return
    first, *rest = background
    async with first(app), _run_all(app, rest):
        yield
