"""A real `fieldops serve` process on a free port, with its own Mosquitto and demo database.

For browser tests and anything that must see the server the way a user does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.broker import PrivateMosquitto, free_port


@dataclass
class LiveServer:
    base_url: str
    broker: PrivateMosquitto
    database_url: str
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes]

    def login(self, username: str, password: str | None = None) -> str:
        response = httpx.post(
            f"{self.base_url}/api/auth/login",
            json={"username": username, "password": password or f"demo-{username}"},
        )
        response.raise_for_status()
        return str(response.json()["token"])

    def api(self, username: str = "desk") -> httpx.Client:
        """An HTTP client logged in as a demo user."""
        return httpx.Client(
            base_url=self.base_url, timeout=10, headers={"Authorization": f"Bearer {self.login(username)}"}
        )


@contextmanager
def live_server(
    tmp_path: Path, template_db: Path, *, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Start broker and server; stop both on exit. ``template_db`` is copied, never changed."""
    broker = PrivateMosquitto(tmp_path / "broker")
    broker.start()
    database = tmp_path / "fieldops.db"
    shutil.copyfile(template_db, database)
    database_url = f"sqlite+aiosqlite:///{database}"
    port = free_port()
    data_dir = tmp_path / "data"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
    environment.update(
        FIELDOPS_DATA_DIR=str(data_dir),
        FIELDOPS_DATABASE_URL=database_url,
        FIELDOPS_MQTT_URL=broker.url,
        FIELDOPS_HTTP_PORT=str(port),
        FIELDOPS_MQTT_CLIENT_ID=f"fieldops-live-{port}",
        **(env or {}),
    )
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        env=environment,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", broker, database_url, data_dir, log, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.base_url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fieldops serve did not become ready:\n" + log.read_text(errors="replace"))
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        broker.stop()
