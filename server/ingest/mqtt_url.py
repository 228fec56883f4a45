"""`FIELDOPS_MQTT_URL`: where the broker is and how to log in to it.

Accepted forms::

    mqtt://host                      plain TCP, port 1883
    mqtt://user:pass@host:1884       with credentials (percent-encode ':', '@', '/' in them)
    mqtts://host                     TLS, port 8883, system CA store
    mqtts://user:pass@host:8883?ca=/etc/fieldops/ca.pem   TLS trusting this CA file
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote, urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class MqttUrl:
    """A parsed broker address. ``repr`` and ``redacted()`` never show the password."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str) -> MqttUrl:
        """Parse ``mqtt://`` or ``mqtts://`` URLs; raise ``ValueError`` saying what is wrong."""
        text = url.strip()
        if not text:
            raise ValueError("MQTT URL is empty (expected mqtt://host:1883 or mqtts://host:8883)")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:  # urlsplit raises on bad ports and brackets
            raise ValueError(f"invalid MQTT URL {_redact_raw(text)!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(
                f"invalid MQTT URL {_redact_raw(text)!r}: scheme must be mqtt:// or mqtts://, "
                f"not {parts.scheme + '://' if parts.scheme else 'missing'}"
            )
        host = parts.hostname
        if not host:
            raise ValueError(f"invalid MQTT URL {_redact_raw(text)!r}: no host")
        if parts.path not in ("", "/"):
            raise ValueError(
                f"invalid MQTT URL {_redact_raw(text)!r}: a path ({parts.path!r}) means nothing "
                "to MQTT; put the CA file in ?ca=/path/ca.pem"
            )
        if parts.fragment:
            raise ValueError(f"invalid MQTT URL {_redact_raw(text)!r}: unexpected #fragment")
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise ValueError(
                f"invalid MQTT URL {_redact_raw(text)!r}: malformed query {parts.query!r}"
            ) from None
        unknown = sorted(set(query) - {"ca"})
        if unknown:
            raise ValueError(
                f"invalid MQTT URL {_redact_raw(text)!r}: unknown option(s) {', '.join(unknown)} "
                "(only ?ca=/path/ca.pem is understood)"
            )
        ca_values = query.get("ca", [])
        if len(ca_values) > 1 or (ca_values and not ca_values[0]):
            raise ValueError(f"invalid MQTT URL {_redact_raw(text)!r}: give ?ca= exactly once")
        ca_file = ca_values[0] if ca_values else None
        tls = scheme == "mqtts"
        if ca_file is not None and not tls:
            raise ValueError(
                f"invalid MQTT URL {_redact_raw(text)!r}: ?ca= needs mqtts:// (TLS); "
                "mqtt:// is plain TCP"
            )
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        if password is not None and not username:
            raise ValueError(f"invalid MQTT URL {_redact_raw(text)!r}: password without a user")
        return cls(
            host=host,
            port=port if port is not None else DEFAULT_PORTS[scheme],
            tls=tls,
            username=username or None,
            password=password,
            ca_file=ca_file,
        )

    @property
    def scheme(self) -> str:
        """``mqtts`` with TLS, else ``mqtt``."""
        return "mqtts" if self.tls else "mqtt"

    def _netloc(self, password: str | None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        auth = ""
        if self.username is not None:
            auth = quote(self.username, safe="")
            if password is not None:
                auth += ":" + password
            auth += "@"
        return f"{auth}{host}:{self.port}"

    def _query(self) -> str:
        return f"?ca={quote(self.ca_file, safe='/')}" if self.ca_file else ""

    def redacted(self) -> str:
        """The URL for logs and ``/ready``: the password (if any) shows as ``***``."""
        secret = "***" if self.password is not None else None
        return f"{self.scheme}://{self._netloc(secret)}{self._query()}"

    def to_url(self) -> str:
        """The full URL, password included (to hand to a child process, never to a log)."""
        secret = quote(self.password, safe="") if self.password is not None else None
        return f"{self.scheme}://{self._netloc(secret)}{self._query()}"


def _redact_raw(text: str) -> str:
    """Mask the password in a URL we could not parse, for error messages."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    end = next((i for i, ch in enumerate(rest) if ch in "/?#"), len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hostport = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = userinfo.split(":", 1)[0] + ":***@" + hostport
    return f"{scheme}://{authority}{tail}"
