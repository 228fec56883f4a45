"""Wiring: config → adapters, local broker(s) → pipeline → spool → central broker.

``Uplink`` is the part the bridge and the simulator share (spool, pipeline,
publisher, device wills); ``Bridge`` adds the local brokers and the adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Iterable
from datetime import tzinfo
from pathlib import Path
from typing import Any

from paho.mqtt.client import MQTTMessage

from device_bridge.adapters import ADAPTERS, Adapter
from device_bridge.adapters.tasmota import Tasmota
from device_bridge.cards import CardList
from device_bridge.config import BridgeConfig, TasmotaSource
from device_bridge.core import Inbound, Pipeline, Stats
from device_bridge.downstream import SourceClient
from device_bridge.model import DeviceIdentity
from device_bridge.mqtt import BrokerUrl
from device_bridge.spool import Spool, SpoolReader
from device_bridge.upstream import DeviceWills, UpstreamPublisher

log = logging.getLogger("device_bridge")


class Uplink:
    """Spool + pipeline + publisher (+ one will connection per device)."""

    def __init__(
        self,
        *,
        url: BrokerUrl,
        client_id: str,
        spool_path: Path,
        spool_max_bytes: int,
        tz: tzinfo,
        window: int = 64,
        keepalive: int = 30,
        reconnect_max: float = 10.0,
        wills_for: Iterable[DeviceIdentity] = (),
        subscriptions: Iterable[tuple[str, Any]] = (),
    ) -> None:
        self.stats = Stats()
        self.spool = Spool(spool_path, spool_max_bytes)
        self.pipeline = Pipeline(self.spool, tz, self.stats)
        self.stats.shed = self.spool.shed_total
        self.publisher = UpstreamPublisher(
            url,
            client_id,
            SpoolReader(spool_path, self.spool.usage),
            window=window,
            keepalive=keepalive,
            reconnect_max=reconnect_max,
            on_published=self._published,
            subscriptions=subscriptions,
        )
        self.pipeline.on_commit = self.publisher.wake
        wills = list(wills_for)
        self.wills = (
            DeviceWills(
                url,
                client_id,
                wills,
                keepalive=keepalive,
                reconnect_max=reconnect_max,
                on_connected=self._will_connected,
            )
            if wills
            else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def _will_connected(self, identity: DeviceIdentity) -> None:
        # paho thread → the pipeline's loop.
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to repeat
                self._loop.call_soon_threadsafe(self.pipeline.repeat_status, identity)

    def _published(self, count: int) -> None:
        self.stats.published += count

    def start(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        self.publisher.start()
        if self.wills is not None:
            self.wills.start()

    def stop(self, drain_seconds: float) -> int:
        """Stop; returns how many messages are still in the spool."""
        self.publisher.stop(drain_seconds)
        if self.wills is not None:
            self.wills.stop(fire=True)
        pending = self.spool.pending()
        if pending:
            log.warning("%d message(s) stay in the spool %s for the next start", pending, self.spool.path)
        self.spool.close()
        return pending


class Bridge:
    """One estate's bridge, built from a checked config."""

    def __init__(
        self,
        config: BridgeConfig,
        *,
        upstream_url: str,
        spool_path: Path,
        drain_seconds: float = 5.0,
    ) -> None:
        self.config = config
        self.drain_seconds = drain_seconds
        self.ready = threading.Event()
        self.stop_requested = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        bridge = config.bridge
        self.client_id = bridge.client_id or f"fieldops-bridge-{bridge.site}"
        self.cards = self._card_list(config)
        card_topic = config.upstream.card_list_topic or f"fieldops/cards/v1/{bridge.site}"
        wants_server_cards = any(
            isinstance(s, TasmotaSource) and s.card_list_from_server for s in config.sources
        )
        subscriptions: list[tuple[str, Any]] = []
        if wants_server_cards and self.cards is not None:
            cards = self.cards

            def on_cards(message: MQTTMessage) -> None:
                cards.update_from_server(bytes(message.payload))

            subscriptions.append((card_topic, on_cards))
        self.inbox: deque[Inbound] = deque()
        # Adapters need the pipeline, the uplink needs the identities: build
        # identities first through a throwaway pass over the config.
        identities = [
            identity for source in config.sources for identity in _identities(config, source)
        ]
        self.uplink = Uplink(
            url=BrokerUrl.parse(upstream_url),
            client_id=self.client_id,
            spool_path=spool_path,
            spool_max_bytes=int(bridge.spool_max_mb * 1024 * 1024),
            tz=config.tz,
            window=config.upstream.inflight_window,
            keepalive=config.upstream.keepalive_seconds,
            reconnect_max=config.upstream.reconnect_max_seconds,
            wills_for=identities if config.upstream.device_wills else (),
            subscriptions=subscriptions,
        )
        self.pipeline = self.uplink.pipeline
        self.stats = self.uplink.stats
        self.adapters: list[Adapter] = []
        self.sources: dict[BrokerUrl, SourceClient] = {}
        down = config.downstream
        for source in config.sources:
            adapter_name = str(type(source).__struct_config__.tag)
            cls = ADAPTERS[adapter_name]
            adapter: Adapter
            if cls is Tasmota:
                adapter = Tasmota(source, config, self.pipeline, cards=self.cards)
            else:
                adapter = cls(source, config, self.pipeline)
            self.adapters.append(adapter)
            filters = adapter.subscriptions()
            if not filters:
                continue
            url = BrokerUrl.parse(source.url or down.url)
            client = self.sources.get(url)
            if client is None:
                base_id = down.client_id or f"{self.client_id}-src"
                client_id = base_id if not self.sources else f"{base_id}-{len(self.sources)}"
                client = SourceClient(
                    url,
                    client_id,
                    self.inbox,
                    keepalive=down.keepalive_seconds,
                    session_expiry=down.session_expiry_seconds,
                )
                self.sources[url] = client
            route = self.pipeline.route_for(client.client)
            for topic_filter in filters:
                client.add_filter(topic_filter)
                route.add(topic_filter, adapter)

    @staticmethod
    def _card_list(config: BridgeConfig) -> CardList | None:
        files = [
            s.card_list_file
            for s in config.sources
            if isinstance(s, TasmotaSource) and s.card_list_file
        ]
        needs = any(
            isinstance(s, TasmotaSource) and (s.card_list_file or s.card_list_from_server)
            for s in config.sources
        )
        if not needs:
            return None
        return CardList(files[0] if files else None)

    def request_stop(self) -> None:
        """Thread-safe: ask a running bridge to stop (signals, tests)."""
        self.stop_requested.set()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self.stop_requested.is_set():
            self._stop.set()
        stop = self._stop
        self.uplink.start()
        for client in self.sources.values():
            client.start()
        for adapter in self.adapters:
            adapter.restore()
        tasks = [asyncio.create_task(self.pipeline.run(self.inbox, stop), name="pipeline")]
        tasks += [
            asyncio.create_task(adapter.run(stop), name=f"adapter-{adapter.name}")
            for adapter in self.adapters
            if type(adapter).run is not Adapter.run
        ]
        tasks.append(asyncio.create_task(self._report(stop), name="stats"))
        tasks.append(asyncio.create_task(self._announce_ready(stop), name="ready"))
        try:
            await stop.wait()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for client in self.sources.values():
                client.stop()
            await asyncio.to_thread(self.uplink.stop, self.drain_seconds)
            log.info("bridge stopped: %s", self.stats.summary())

    async def _announce_ready(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if all(c.subscribed.is_set() for c in self.sources.values()):
                self.ready.set()
                log.info(
                    "bridge ready: %d adapter(s), %d device(s), spool %s",
                    len(self.adapters),
                    sum(len(a.devices) for a in self.adapters),
                    self.uplink.spool.path,
                )
                return
            await asyncio.sleep(0.01)

    async def _report(self, stop: asyncio.Event) -> None:
        interval = self.config.bridge.stats_interval_seconds
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            log.info("bridge stats: %s", self.stats.summary())
            self.pipeline.rejects.reset()


def _identities(config: BridgeConfig, source: Any) -> list[DeviceIdentity]:
    from device_bridge.adapters.base import identity_of

    return [identity_of(config, device) for device in source.devices]
