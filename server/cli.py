"""The `fieldops` command: serve, migrate, demo, ingest, bridge, user create."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from server.settings import Settings

log = logging.getLogger("fieldops.cli")
T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldops",
        description="Field operations for residential estates. Settings come from FIELDOPS_* "
                    "environment variables (see the README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the web server (and the MQTT consumer)")
    serve.add_argument("--host", help="overrides FIELDOPS_HTTP_HOST")
    serve.add_argument("--port", type=int, help="overrides FIELDOPS_HTTP_PORT")
    sub.add_parser("migrate", help="upgrade the database schema to the newest revision")
    demo = sub.add_parser("demo", help="load the demo estate 新外滩 and its users (idempotent)")
    demo.add_argument("--export-simulator", type=Path, metavar="PATH",
                      help="also write the estate in the bridge simulator's format to PATH")
    sub.add_parser("ingest", help="run only the MQTT consumer (no web server)")
    bridge = sub.add_parser("bridge", help="run the edge bridge or the simulator",
                            add_help=False)
    bridge.add_argument("bridge_args", nargs=argparse.REMAINDER)
    user = sub.add_parser("user", help="manage staff accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    create = user_sub.add_parser("create", help="create a user, or reset an existing one")
    create.add_argument("--username", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", required=True, action="append",
                        help="desk, specialist, engineer, supervisor, manager or admin (repeatable)")
    create.add_argument("--building", action="append", default=[],
                        help="building slug in the user's scope (repeatable)")
    create.add_argument("--name", help="display name")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The bridge has its own options; hand them over untouched.
    if argv and argv[0] == "bridge":
        # Lazy import keeps server/ free of the bridge at import time (conventions.md).
        bridge_cli = importlib.import_module("device_bridge.cli")
        return int(bridge_cli.main(argv[1:]))
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"fieldops: configuration error: {exc}", file=sys.stderr)
        return 2
    from server.observability.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        if args.command == "migrate":
            return _migrate(settings)
        if args.command == "demo":
            return _demo(settings, args.export_simulator)
        if args.command == "serve":
            return _serve(settings, args.host, args.port)
        if args.command == "ingest":
            return _ingest(settings)
        if args.command == "user":
            return _user_create(settings, args)
    except KeyboardInterrupt:
        return 130
    return 2


def _migrate(settings: Settings) -> int:
    from server.migrate import upgrade

    upgrade(settings.database_url)
    print("database is at the newest schema")
    return 0


def _run_in_session(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from server.db import create_engine, create_sessionmaker

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _schema_is_current(settings: Settings) -> bool:
    from alembic.runtime.migration import MigrationContext

    from server.db import create_engine
    from server.migrate import current_head

    async def current() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(current()) == current_head()


def _demo(settings: Settings, export: Path | None) -> int:
    from server.demo.estate import DEMO_USERS, load_demo_estate, simulator_toml

    if not _schema_is_current(settings):
        print("fieldops: the database schema is not current; run `fieldops migrate` first",
              file=sys.stderr)
        return 1
    async def load(session):  # type: ignore[no-untyped-def]
        from server.patrols.seed import seed_checkpoints

        added = await load_demo_estate(session)
        await seed_checkpoints(session)  # QR checkpoints for vacant, renovating and public places
        return added

    added = _run_in_session(settings, load)
    print("demo estate 新外滩 (xinwaitan): added " +
          ", ".join(f"{n} {what}" for what, n in added.items()))
    if export is not None:
        export.write_text(simulator_toml(), encoding="utf-8")
        print(f"simulator estate file written to {export}")
    print("demo logins (username / password / role):")
    for user in DEMO_USERS:
        scope = f" — buildings {', '.join(user.buildings)}" if user.buildings else ""
        print(f"  {user.username:<11} {user.password:<16} {user.role}{scope}")
    return 0


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from server.app import create_app

    if not _schema_is_current(settings):
        print("fieldops: the database schema is not current; run `fieldops migrate` first",
              file=sys.stderr)
        return 1
    settings = settings.with_changes(http_host=host or settings.http_host,
                                     http_port=port or settings.http_port)
    app = create_app(settings, background=_background(settings))
    log.info("serving on http://%s:%s", settings.http_host, settings.http_port)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False)
    return 0


def _background(settings: Settings) -> list[Any]:
    """Background work to run with the web server: the SLA clocks, and the MQTT consumer."""
    from server.ingest.runner import ingest_lifespan
    from server.push.runner import push_lifespan
    from server.sla.runner import sla_lifespan

    always = [push_lifespan, sla_lifespan]
    return [*always, ingest_lifespan] if settings.ingest else always


def _ingest(settings: Settings) -> int:
    from server.ingest.runner import run_standalone

    return int(asyncio.run(run_standalone(settings)))


def _user_create(settings: Settings, args: argparse.Namespace) -> int:
    from server.auth.service import create_or_update_user
    from server.errors import DomainError

    async def work(session):  # type: ignore[no-untyped-def]
        return await create_or_update_user(
            session, username=args.username, password=args.password, roles=args.role,
            display_name=args.name, building_slugs=args.building)

    try:
        user = _run_in_session(settings, work)
    except DomainError as exc:
        print(f"fieldops: {exc.detail}", file=sys.stderr)
        return 1
    scope = f" for buildings {', '.join(args.building)}" if args.building else ""
    print(f"user {user.username} ({', '.join(user.roles)}){scope} is ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
