"""The zero-config path: `fieldops serve` with no broker configured takes device events."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.broker import free_port
from tests.support.publisher import Publisher, event, topic

pytestmark = pytest.mark.broker


def _wait(check, what: str, timeout: float = 30) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
        except (httpx.TransportError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.1)


def test_serve_without_a_broker_opens_a_ticket_from_mqtt(tmp_path: Path, sqlite_demo_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
    data = tmp_path / "data"
    env.update(FIELDOPS_DATA_DIR=str(data), FIELDOPS_DATABASE_URL=sqlite_demo_url)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port)], env=env,
                              stdout=(tmp_path / "serve.log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    publisher = None
    try:
        ready = _wait(lambda: httpx.get(f"{base}/ready").json()["status"] == "ready" and
                      httpx.get(f"{base}/ready").json(), "/ready")
        assert isinstance(ready, dict)
        broker_url = ready["detail"]["broker"]
        assert broker_url.startswith("mqtt://127.0.0.1:")  # loopback only
        publisher = Publisher(broker_url)
        publisher.publish(topic("b2-el1"), event("elevator.trapped", alarm="raise", data={"floor": 3}))
        publisher.flush()
        token = httpx.post(f"{base}/api/auth/login",
                           json={"username": "desk", "password": "demo-desk"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        tickets = _wait(lambda: httpx.get(f"{base}/api/tickets?kind=alarm", headers=headers)
                        .json()["items"], "the ticket")
        assert isinstance(tickets, list)
        assert tickets[0]["type"] == "elevator.trapped"
        assert tickets[0]["severity"] == "critical"
        assert tickets[0]["device"] == "b2-el1"
    finally:
        if publisher is not None:
            publisher.close()
        server.terminate()
        server.wait(timeout=30)
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log
    # The embedded broker went down with the server.
    pid_file = data / "broker" / "mosquitto.pid"
    if pid_file.exists() and pid_file.read_text().strip():
        pid = int(pid_file.read_text().strip())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
