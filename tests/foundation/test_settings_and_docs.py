"""Settings are read once from the environment; the README documents every one of them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from server.observability.logs import JsonFormatter
from server.settings import ENVIRONMENT, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env({"FIELDOPS_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'fieldops.db'}"
    assert settings.mqtt_url is None
    assert settings.http_port == 8000
    pg = Settings.from_env({"FIELDOPS_DATABASE_URL": "postgresql+asyncpg://u@h/db",
                            "FIELDOPS_HTTP_PORT": "9000", "FIELDOPS_INGEST": "off"})
    assert pg.database_url == "postgresql+asyncpg://u@h/db"
    assert pg.http_port == 9000
    assert pg.ingest is False


def test_signing_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).signing_key()
    assert len(first) >= 32
    assert Settings(data_dir=tmp_path).signing_key() == first
    assert Settings(data_dir=tmp_path, secret_key="configured").signing_key() == "configured"


@pytest.mark.parametrize("bad", [{"FIELDOPS_HTTP_PORT": "x"}, {"FIELDOPS_LOG_FORMAT": "xml"},
                                 {"FIELDOPS_UNKNOWN": "1"}])
def test_bad_settings_name_the_variable(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Settings.from_env(bad)


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ENVIRONMENT:
        assert f"`{name}`" in readme, f"README's configuration table lacks {name}"


def test_json_log_lines() -> None:
    record = logging.LogRecord("fieldops.test", logging.INFO, __file__, 1, "ticket %s opened", (7,), None)
    record.ticket_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "ticket 7 opened"
    assert line["level"] == "info"
    assert line["ticket_id"] == 7
