"""Bridge throughput on this machine: translated v1 messages per second, and spool replay.

    .venv/bin/python bench/bridge.py [--messages 30000]

Two private Mosquittos (the estate's local broker and the central one), the
bridge as a child process (``python -m device_bridge``, as deployed), and
``mosquitto_sub`` (C, so the counter costs little CPU) counting upstream:

1. Zigbee2MQTT: leak sensors whose ``water_leak`` flips on every report, so
   every vendor message becomes one v1 event;
2. Tasmota: ``tele/<topic>/SENSOR`` energy reports, one v1 reading each;
3. spool replay: the central broker is down while the bridge spools N
   messages, then comes back; the drain rate is timed.

For 1 and 2 the vendor messages are queued on the local broker for the
bridge's persistent session first, then the bridge is started: the figure is
end to end, vendor message in → v1 message out at the central broker, and
includes the spool commit and the PUBACK from the central broker.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paho.mqtt.client import CallbackAPIVersion, Client  # noqa: E402
from paho.mqtt.enums import MQTTProtocolVersion  # noqa: E402

from tests.support.broker import PrivateMosquitto  # noqa: E402

DEVICES = 100


def config_text(site: str, down: str, adapter: str) -> str:
    head = f"""
[bridge]
site = "{site}"
spool_max_mb = 512
stats_interval_seconds = 3600

[upstream]
device_wills = false
reconnect_max_seconds = 1

[downstream]
url = "{down}"

[[sources]]
adapter = "{adapter}"
"""
    kind = "sensor" if adapter == "zigbee2mqtt" else "meter"
    extra = "" if adapter == "zigbee2mqtt" else 'quantity = "electricity"\n'
    devices = "".join(
        f'\n[[sources.devices]]\nsource = "dev{n}"\ndevice = "d{n}"\nbuilding = "b1"\n'
        f'kind = "{kind}"\nunit = "b1-{n:04d}"\n{extra}'
        for n in range(DEVICES)
    )
    return head + devices


def vendor_messages(adapter: str, count: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        n = i % DEVICES
        if adapter == "zigbee2mqtt":
            state = {"battery": 97, "battery_low": False, "linkquality": 120, "voltage": 3005,
                     "water_leak": (i // DEVICES) % 2 == 0}
            out.append((f"zigbee2mqtt/dev{n}", json.dumps(state).encode()))
        else:
            sensor = {"Time": "2026-11-26T08:15:02",
                      "ENERGY": {"TotalStartTime": "2025-03-01T10:00:00",
                                 "Total": round(1000 + i * 0.001, 3), "Yesterday": 6.2,
                                 "Today": 2.1, "Power": 412, "ApparentPower": 430,
                                 "ReactivePower": 121, "Factor": 0.96, "Voltage": 229,
                                 "Current": 1.874}}
            out.append((f"tele/dev{n}/SENSOR", json.dumps(sensor).encode()))
    return out


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages_set(200)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


class BridgeProcess:
    def __init__(self, config: Path, up: str, spool: Path, log: Path) -> None:
        self.args = [sys.executable, "-m", "device_bridge", "--config", str(config),
                     "--mqtt-url", up, "--spool", str(spool), "--log-level", "INFO",
                     "--drain-seconds", "0"]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            started = time.monotonic()
            self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=out,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)})
        deadline = time.monotonic() + 30
        while "bridge ready" not in self.log.read_text()[offset:]:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("bridge did not start:\n" + self.log.read_text()[-2000:])
            time.sleep(0.01)
        return started

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


def counter(port: int, topic: str, count: int, client_id: str) -> subprocess.Popen[bytes]:
    """mosquitto_sub printing a nanosecond timestamp per message, exiting after ``count``."""
    return subprocess.Popen(
        ["mosquitto_sub", "-p", str(port), "-t", topic, "-q", "1", "-C", str(count),
         "-i", client_id, "-c", "-F", "%U", "-W", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )


def create_session(port: int, topic: str, client_id: str) -> None:
    """Make the counter's persistent session exist before any message is published."""
    subprocess.run(["mosquitto_sub", "-p", str(port), "-t", topic, "-q", "1", "-i", client_id,
                    "-c", "-E"], check=True, stdout=subprocess.DEVNULL)


def stamps(proc: subprocess.Popen[bytes]) -> list[float]:
    out, _ = proc.communicate(timeout=600)
    return [float(line) for line in out.decode().split()]


def rows(spool: Path) -> int:
    try:
        with sqlite3.connect(f"file:{spool}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def translate(adapter: str, count: int, work: Path) -> float:
    down = PrivateMosquitto(work / f"{adapter}-down")
    up = PrivateMosquitto(work / f"{adapter}-up")
    down.start()
    up.start()
    try:
        site = f"bench-{adapter}"
        config = work / f"{adapter}.toml"
        config.write_text(config_text(site, down.url, adapter))
        bridge = BridgeProcess(config, up.url, work / f"{adapter}.spool", work / f"{adapter}.log")
        bridge.start()  # creates the bridge's persistent session on the local broker
        bridge.stop()
        publish_all(down.port, vendor_messages(adapter, count))
        topic = f"fieldops/v1/{site}/#"
        sub = counter(up.port, topic, count, f"count-{adapter}")
        time.sleep(0.3)  # mosquitto_sub has no ready signal; it only needs to subscribe
        started = bridge.start()
        times = stamps(sub)
        wall = time.time() - (time.monotonic() - started)
        bridge.stop()
        assert len(times) == count, f"{len(times)} of {count} arrived"
        rate = count / (times[-1] - times[0])
        print(f"{adapter:12s} {count} vendor messages → {count} v1 messages: "
              f"{rate:,.0f} msg/s steady (first→last), "
              f"{count / (times[-1] - wall):,.0f} msg/s including bridge start")
        return rate
    finally:
        down.stop()
        up.stop()


def replay(count: int, work: Path) -> float:
    down = PrivateMosquitto(work / "replay-down")
    up = PrivateMosquitto(work / "replay-up")
    down.start()
    up.start()
    try:
        site = "bench-replay"
        topic = f"fieldops/v1/{site}/#"
        create_session(up.port, topic, "count-replay")
        up.stop()
        config = work / "replay.toml"
        config.write_text(config_text(site, down.url, "zigbee2mqtt"))
        spool = work / "replay.spool"
        bridge = BridgeProcess(config, up.url, spool, work / "replay.log")
        bridge.start()
        publish_all(down.port, vendor_messages("zigbee2mqtt", count))
        deadline = time.monotonic() + 300
        while rows(spool) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows(spool) == count, f"only {rows(spool)} spooled"
        up.start()
        sub = counter(up.port, topic, count, "count-replay")
        times = stamps(sub)
        bridge.stop()
        assert len(times) == count, f"{len(times)} of {count} replayed"
        rate = count / (times[-1] - times[0])
        print(f"{'replay':12s} {count} spooled v1 messages drained to the central broker: "
              f"{rate:,.0f} msg/s")
        return rate
    finally:
        down.stop()
        up.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=30_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as tmp:
        work = Path(tmp)
        z2m = translate("zigbee2mqtt", args.messages, work)
        tasmota = translate("tasmota", args.messages, work)
        spool = replay(args.messages, work)
    target = 5000
    print(f"target ≥ {target:,} msg/s: zigbee2mqtt {'ok' if z2m >= target else 'MISSED'}, "
          f"tasmota {'ok' if tasmota >= target else 'MISSED'}, "
          f"replay {'ok' if spool >= target else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
