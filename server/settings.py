"""Settings, read once from the environment in each entry point (never at import)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

# name -> (default, meaning); the README's configuration table is checked against this.
ENVIRONMENT: dict[str, tuple[str, str]] = {
    "FIELDOPS_DATA_DIR": ("./var", "Where the SQLite file, the generated signing key and broker data live."),
    "FIELDOPS_DATABASE_URL": (
        "sqlite+aiosqlite:///<data dir>/fieldops.db",
        "SQLAlchemy async URL; `postgresql+asyncpg://user@host/db` for PostgreSQL.",
    ),
    "FIELDOPS_MQTT_URL": (
        "(unset: embedded broker)",
        "`mqtt://[user:pass@]host:1883` or `mqtts://host:8883?ca=/path/ca.pem`.",
    ),
    "FIELDOPS_MQTT_CLIENT_ID": (
        "fieldops-server (fieldops-<hostname> in a share group)",
        "MQTT client id of the consumer (names its persistent session); unique per process.",
    ),
    "FIELDOPS_MQTT_SHARE_GROUP": (
        "(unset)", "Shared-subscription group, so several servers split the device stream."
    ),
    "FIELDOPS_HTTP_HOST": ("127.0.0.1", "Address `fieldops serve` listens on."),
    "FIELDOPS_HTTP_PORT": ("8000", "Port `fieldops serve` listens on."),
    "FIELDOPS_SECRET_KEY": (
        "(generated into <data dir>/secret_key)",
        "Key that signs login tokens; set it when several servers share a database.",
    ),
    "FIELDOPS_TOKEN_TTL_MINUTES": ("720", "How long a login token stays valid."),
    "FIELDOPS_LOG_LEVEL": ("INFO", "Python log level."),
    "FIELDOPS_LOG_FORMAT": ("text", "`text`, or `json` for one JSON object per line."),
    "FIELDOPS_INGEST": ("on", "`off` runs the web server without the MQTT consumer."),
    "FIELDOPS_RULES_FILE": (
        "(the shipped server/rules/alarm_rules.toml)",
        "A TOML file of alarm rules (ticket kind, severity, due times, thresholds) to use instead.",
    ),
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str = ""
    mqtt_url: str | None = None
    mqtt_client_id: str = "fieldops-server"
    mqtt_share_group: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    secret_key: str | None = None
    token_ttl_minutes: int = 720
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    ingest: bool = True
    rules_file: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.database_url:
            url = f"sqlite+aiosqlite:///{(self.data_dir / 'fieldops.db').resolve()}"
            object.__setattr__(self, "database_url", url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``FIELDOPS_*`` variables; raises ValueError naming a bad one."""
        env = os.environ if env is None else env
        unknown = sorted(k for k in env if k.startswith("FIELDOPS_") and k not in ENVIRONMENT
                         and not k.startswith("FIELDOPS_TEST_"))
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; see the README's table")
        log_format = env.get("FIELDOPS_LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            raise ValueError("FIELDOPS_LOG_FORMAT must be 'text' or 'json'")
        return cls(
            data_dir=Path(env.get("FIELDOPS_DATA_DIR", "./var")),
            database_url=env.get("FIELDOPS_DATABASE_URL", ""),
            mqtt_url=env.get("FIELDOPS_MQTT_URL") or None,
            mqtt_client_id=env.get("FIELDOPS_MQTT_CLIENT_ID") or _default_client_id(env),
            mqtt_share_group=env.get("FIELDOPS_MQTT_SHARE_GROUP") or None,
            http_host=env.get("FIELDOPS_HTTP_HOST", "127.0.0.1"),
            http_port=_int(env, "FIELDOPS_HTTP_PORT", 8000),
            secret_key=env.get("FIELDOPS_SECRET_KEY") or None,
            token_ttl_minutes=_int(env, "FIELDOPS_TOKEN_TTL_MINUTES", 720),
            log_level=env.get("FIELDOPS_LOG_LEVEL", "INFO").upper(),
            log_format=log_format,  # type: ignore[arg-type]
            ingest=env.get("FIELDOPS_INGEST", "on").lower() not in ("off", "0", "false", "no"),
            rules_file=env.get("FIELDOPS_RULES_FILE") or None,
        )

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def signing_key(self) -> str:
        """The token signing key: the configured one, else one generated once and kept."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting together must not each keep a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


def _default_client_id(env: Mapping[str, str]) -> str:
    # In a share group every process needs its own session: two with one id would
    # take the session from each other in turn.
    if env.get("FIELDOPS_MQTT_SHARE_GROUP"):
        return f"fieldops-{socket.gethostname()}"[:64]
    return "fieldops-server"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
