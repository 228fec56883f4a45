"""The demo estate and the `fieldops` command, run the way a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from server.auth.models import StaffUser
from server.db import create_engine, create_sessionmaker
from server.demo.estate import load_demo_estate, plan_estate, simulator_toml
from server.devices.models import Device
from server.estates.models import Resident, Unit
from tests.support.broker import free_port

FIELDOPS = [sys.executable, "-m", "server.cli"]


def _run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIELDOPS, *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False, **kwargs)  # type: ignore[call-overload]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
    clean["FIELDOPS_DATA_DIR"] = str(tmp_path / "data")
    clean["FIELDOPS_INGEST"] = "off"
    return clean


def test_plan_is_a_realistic_mix() -> None:
    plan = plan_estate()
    states = {s: sum(u.state == s for u in plan.units) for s in ("vacant", "occupied", "renovating")}
    assert len(plan.units) == 144
    assert all(n > 5 for n in states.values()), states
    kinds = {d.kind for d in plan.devices}
    assert kinds == {"elevator", "intercom", "meter", "access", "sensor"}
    assert sorted(d.slug for d in plan.devices if d.kind == "elevator") == ["b1-el1", "b1-el2", "b2-el1"]
    occupied = {u.slug for u in plan.units if u.state == "occupied"}
    indoor = {d.unit for d in plan.devices if d.role == "indoor_unit"}
    assert indoor == occupied
    assert "[[devices]]" in simulator_toml()


async def test_demo_load_is_idempotent(tmp_path: Path) -> None:
    from server.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'd.db'}"
    await __import__("asyncio").to_thread(upgrade, url)
    engine = create_engine(url)
    maker = create_sessionmaker(engine)
    async with maker() as session, session.begin():
        first = await load_demo_estate(session)
    async with maker() as session, session.begin():
        second = await load_demo_estate(session)
        counts = [await session.scalar(select(func.count()).select_from(m))
                  for m in (Unit, Device, Resident, StaffUser)]
    await engine.dispose()
    assert first["units"] == 144
    assert set(second.values()) == {0}
    assert counts == [first["units"], first["devices"], first["residents"], first["users"]]


def test_cli_migrate_demo_user_and_serve(env: dict[str, str]) -> None:
    assert _run(["demo"], env).returncode == 1  # refuses before migrate, and says why
    migrate = _run(["migrate"], env)
    assert migrate.returncode == 0, migrate.stderr
    demo = _run(["demo"], env)
    assert demo.returncode == 0, demo.stderr
    assert "spec1" in demo.stdout
    assert "demo-spec1" in demo.stdout

    bad = _run(["user", "create", "--username", "x", "--password", "long-enough", "--role", "king"], env)
    assert bad.returncode == 1
    assert "unknown role" in bad.stderr
    made = _run(["user", "create", "--username", "zhang.wei", "--password", "s3cret-pass",
                 "--role", "specialist", "--building", "b2", "--name", "张伟"], env)
    assert made.returncode == 0, made.stderr

    port = free_port()
    server = subprocess.Popen([*FIELDOPS, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not answer /health"
            time.sleep(0.1)
        token = httpx.post(f"{base}/api/auth/login",
                           json={"username": "zhang.wei", "password": "s3cret-pass"}).json()["token"]
        units = httpx.get(f"{base}/api/units?limit=500",
                          headers={"Authorization": f"Bearer {token}"}).json()
        assert {u["building"] for u in units["items"]} == {"b2"}
        assert httpx.get(f"{base}/ready").json()["database"] == "ok"
        assert "fieldops_http_requests_total" in httpx.get(f"{base}/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_bad_environment_is_reported(env: dict[str, str]) -> None:
    env["FIELDOPS_HTTP_PORT"] = "eighty"
    result = _run(["migrate"], env)
    assert result.returncode == 2
    assert "FIELDOPS_HTTP_PORT" in result.stderr
    env.pop("FIELDOPS_HTTP_PORT")
    env["FIELDOPS_DATABSE_URL"] = "typo"
    result = _run(["migrate"], env)
    assert result.returncode == 2
    assert "FIELDOPS_DATABSE_URL" in result.stderr
