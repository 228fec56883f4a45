"""Broker URLs and paho 2.x client construction (MQTT 5, VERSION2 callbacks).

``mqtt://[user:pass@]host[:port]`` and ``mqtts://…[?ca=/path/ca.pem]`` (TLS,
optionally with a private CA). measured.md: paho 2.x needs
``CallbackAPIVersion.VERSION2`` (else it silently gives the old callbacks), and
``clean_session`` raises with MQTT 5 — use ``clean_start``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from paho.mqtt.client import CallbackAPIVersion, Client
from paho.mqtt.enums import MQTTProtocolVersion


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerUrl:
        """Parse a broker URL or raise ValueError saying what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r}: no host")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ValueError(f"broker URL {url!r}: bad port") from None
        query = parse_qs(parts.query)
        unknown = set(query) - {"ca"}
        if unknown:
            raise ValueError(f"broker URL {url!r}: unknown parameter(s) {sorted(unknown)}")
        ca = query.get("ca", [None])[0]
        if ca and not tls:
            raise ValueError(f"broker URL {url!r}: ?ca= needs mqtts://")
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ca_file=ca,
        )

    def redacted(self) -> str:
        user = f"{self.username}:***@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def new_client(url: BrokerUrl, client_id: str, *, manual_ack: bool = False) -> Client:
    """A paho MQTT 5 client configured for ``url`` (credentials, TLS); not yet connected."""
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    if url.username is not None:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        client.tls_set(ca_certs=url.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    return client
