"""A live server with the patrol routes, for the browser tests and the bench (no broker needed)."""

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

from tests.support.broker import free_port

SECRET = "pwa-live-test-signing-key-0123456789abcdef"


@dataclass
class PatrolServer:
    base_url: str
    database_url: str
    log: Path

    def api(self, username: str = "desk") -> httpx.Client:
        response = httpx.post(f"{self.base_url}/api/auth/login",
                              json={"username": username, "password": f"demo-{username}"})
        response.raise_for_status()
        return httpx.Client(base_url=self.base_url, timeout=30,
                            headers={"Authorization": f"Bearer {response.json()['token']}"})


@contextmanager
def patrol_server(tmp_path: Path, template_db: Path) -> Iterator[PatrolServer]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    database = tmp_path / "fieldops.db"
    shutil.copyfile(template_db, database)
    url = f"sqlite+aiosqlite:///{database}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDOPS_")}
    env.update(FIELDOPS_DATA_DIR=str(tmp_path / "data"), FIELDOPS_DATABASE_URL=url,
               FIELDOPS_HTTP_PORT=str(port), FIELDOPS_INGEST="off", FIELDOPS_SECRET_KEY=SECRET)
    log = tmp_path / "serve.log"
    process = subprocess.Popen([sys.executable, "-m", "tests.pwa.serve"], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               cwd=Path(__file__).resolve().parents[2])
    server = PatrolServer(f"http://127.0.0.1:{port}", url, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + log.read_text(errors="replace"))
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
