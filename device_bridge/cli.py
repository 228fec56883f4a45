"""``fieldops bridge``: run the edge bridge, or simulate an estate's traffic.

    fieldops bridge --config bridge.toml [--mqtt-url URL] [--spool PATH]
    fieldops bridge --config bridge.toml --check
    fieldops bridge --simulate estate.toml [--rate R] [--scenario NAME --device SLUG]
                    [--duration SECONDS] [--speed X] [--mqtt-url URL] [--spool PATH]

The central broker is ``--mqtt-url``, else ``[upstream] url`` in the config,
else ``FIELDOPS_MQTT_URL``, else ``mqtt://127.0.0.1:1883``. Exit status: 0
after a clean stop, 2 for a bad config or bad arguments (the bridge refuses to
start), 1 for anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from device_bridge.config import ConfigError, default_spool_path, load_config
from device_bridge.mqtt import BrokerUrl

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"
SCENARIOS = ("trapped", "leak", "vacant-occupied", "forced-door", "missed-call")

log = logging.getLogger("device_bridge")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldops bridge",
        description="Translate estate devices' vendor messages into fieldops MQTT v1, "
        "with a store-and-forward spool; or simulate an estate's traffic.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config", metavar="PATH", help="bridge config (TOML)")
    mode.add_argument("--simulate", metavar="PATH", help="estate file (TOML) to simulate")
    parser.add_argument("--check", action="store_true", help="check the config and exit")
    parser.add_argument(
        "--mqtt-url",
        metavar="URL",
        help="central broker, mqtt://[user:pass@]host:port or mqtts://…?ca=/path "
        f"(default: [upstream] url, then $FIELDOPS_MQTT_URL, then {DEFAULT_MQTT_URL})",
    )
    parser.add_argument("--spool", metavar="PATH", help="spool file (SQLite)")
    parser.add_argument("--rate", type=float, default=5.0, metavar="R",
                        help="simulator: v1 messages per second (default 5; 0 = scenario only)")
    parser.add_argument("--scenario", choices=SCENARIOS, help="simulator: play a scenario at start")
    parser.add_argument("--device", metavar="SLUG", help="simulator: the scenario's device")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="simulator: stop after this long (default: run until stopped)")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X",
                        help="simulator: simulated time runs X times real time (default 1)")
    parser.add_argument("--seed", type=int, help="simulator: random seed (reproducible traffic)")
    parser.add_argument("--drain-seconds", type=float, default=5.0, metavar="S",
                        help="on stop, wait up to S seconds for the spool to empty (default 5)")
    parser.add_argument("--log-level", default=os.environ.get("FIELDOPS_LOG_LEVEL", "INFO"),
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def upstream_url(cli_value: str | None, config_value: str = "") -> str:
    return (
        cli_value
        or config_value
        or os.environ.get("FIELDOPS_MQTT_URL")
        or DEFAULT_MQTT_URL
    )


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.config:
        return _run_bridge(args)
    return _run_simulator(args)


def _run_bridge(args: argparse.Namespace) -> int:
    from device_bridge.bridge import Bridge

    try:
        config = load_config(args.config)
        url = upstream_url(args.mqtt_url, config.upstream.url)
        BrokerUrl.parse(url)
    except ConfigError as exc:
        print(f"fieldops bridge: bad config, not starting: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"fieldops bridge: {exc}", file=sys.stderr)
        return 2
    if args.check:
        devices = sum(len(s.devices) for s in config.sources)
        print(f"{args.config}: ok ({len(config.sources)} source(s), {devices} device(s))")
        return 0
    spool = Path(args.spool) if args.spool else default_spool_path(config, args.config)
    bridge = Bridge(config, upstream_url=url, spool_path=spool, drain_seconds=args.drain_seconds)
    return _run_until_signal(bridge)


def _run_simulator(args: argparse.Namespace) -> int:
    from device_bridge.simulator import EstateError, Simulator, load_estate

    if args.rate < 0 or args.speed <= 0:
        print("fieldops bridge: --rate must be >= 0 and --speed > 0", file=sys.stderr)
        return 2
    try:
        estate = load_estate(args.simulate)
        url = upstream_url(args.mqtt_url)
        BrokerUrl.parse(url)
        simulator = Simulator(
            estate,
            upstream_url=url,
            rate=args.rate,
            speed=args.speed,
            scenario=args.scenario,
            scenario_device=args.device,
            duration=args.duration,
            spool_path=Path(args.spool) if args.spool else None,
            seed=args.seed,
            drain_seconds=args.drain_seconds,
        )
    except (EstateError, ConfigError) as exc:
        print(f"fieldops bridge: bad estate file, not starting: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"fieldops bridge: {exc}", file=sys.stderr)
        return 2
    return _run_until_signal(simulator)


def _run_until_signal(runner: object) -> int:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Not possible outside the main thread (the lead's CLI may embed us).
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, runner.request_stop)  # type: ignore[attr-defined]
        await runner.run()  # type: ignore[attr-defined]

    try:
        asyncio.run(run())
    except Exception:
        log.exception("bridge failed")
        return 1
    return 1 if getattr(runner, "undelivered", 0) else 0
