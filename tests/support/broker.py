"""A private Mosquitto for tests, on a free loopback port, with the settings we document.

Each test that needs its own broker starts one (so it can stop and restart it);
tests that only need *a* broker may share one and use a unique topic prefix.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# The production settings from docs/mosquitto.md: a finite but generous queue so
# a slow subscriber is never silently cut at Mosquitto's default of 1000.
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
# Stay the invoking user: test dirs are private temp dirs the mosquitto user cannot enter.
user {user}
allow_anonymous true
persistence {persistence}
persistence_location {data_dir}/
autosave_interval 1
max_queued_messages 1000000
max_inflight_messages 1000
memory_limit 1073741824
persistent_client_expiration 7d
max_packet_size 262144
log_dest file {data_dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )


@dataclass
class PrivateMosquitto:
    """A mosquitto child process; ``stop()``/``start()`` keep its port and data."""

    data_dir: Path
    persistence: bool = True
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(
            MOSQUITTO_CONF.format(
                port=self.port,
                persistence="true" if self.persistence else "false",
                data_dir=self.data_dir,
                user=getpass.getuser(),
            )
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.data_dir / "mosquitto.log")
                raise RuntimeError(
                    "mosquitto exited: " + (log.read_text() if log.exists() else "")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
