"""Config errors name the file, the line and what is wrong; the bridge refuses to start."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_bridge.cli import main
from device_bridge.config import ConfigError, load_config, parse_config
from device_bridge.mqtt import BrokerUrl

EXAMPLES = Path(__file__).resolve().parents[2] / "device_bridge" / "examples"

GOOD = """\
[bridge]
site = "xinwaitan"

[downstream]
url = "mqtt://127.0.0.1:1883"

[[sources]]
adapter = "zigbee2mqtt"

[[sources.devices]]
source = "leak"
device = "b1-1203-leak"
building = "b1"
kind = "sensor"
unit = "b1-1203"

[[sources]]
adapter = "modbus"
host = "10.0.0.5"

[[sources.devices]]
device = "b1-1203-wm"
building = "b1"
kind = "meter"
quantity = "water"
address = 0
"""


def error_for(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "bridge.toml")
    return caught.value


def test_a_good_config_parses() -> None:
    config = parse_config(GOOD)
    assert [type(s).__name__ for s in config.sources] == ["Zigbee2MqttSource", "ModbusSource"]


@pytest.mark.parametrize(
    ("edit", "line", "words"),
    [
        (("kind = \"sensor\"", "kind = \"sensr\""), 14, "sources.0.devices.0.kind"),
        (("host = \"10.0.0.5\"", "host = \"10.0.0.5\"\nbse_topic = \"x\""), 20, "unknown key `bse_topic`"),
        (("address = 0", "address = \"zero\""), 26, "Expected `int`"),
        (("device = \"b1-1203-wm\"", "device = \"B1 1203\""), 22, "not a slug"),
        (("device = \"b1-1203-wm\"", "device = \"b1-1203-leak\""), 22, "mapped twice (first at line 12)"),
        (("adapter = \"modbus\"", "adapter = \"modbuss\""), 18, "Invalid value 'modbuss'"),
        (("kind = \"meter\"", "kind = \"elevator\""), 24, "translates meter"),
        (("quantity = \"water\"", "quantity = \"\""), 25, "needs quantity"),
        (("site = \"xinwaitan\"", "site = \"xinwaitan\"\ntimezone = \"Mars/Olympus\""), 3, "time zone"),
        (("url = \"mqtt://127.0.0.1:1883\"", "url = \"http://x\""), 5, "mqtt:// or mqtts://"),
        (("source = \"leak\"\n", ""), 10, "needs `source`"),
        (("[bridge]", "[bridge"), 1, "TOML syntax"),
    ],
)
def test_config_errors_say_where_and_what(edit: tuple[str, str], line: int, words: str) -> None:
    text = GOOD.replace(edit[0], edit[1], 1)
    assert text != GOOD
    error = error_for(text)
    assert error.line == line, str(error)
    assert words in str(error)
    assert str(error).startswith(f"bridge.toml:{line}: ")


def test_the_bridge_refuses_to_start_on_a_bad_config(tmp_path: Path, capsys) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(GOOD.replace("kind = \"sensor\"", "kind = 7"))
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:14:" in err
    assert "not starting" in err
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2


def test_check_mode(tmp_path: Path, capsys) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(GOOD)
    assert main(["--config", str(config), "--check"]) == 0
    assert "2 source(s), 2 device(s)" in capsys.readouterr().out


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_example_config_is_valid(example: Path) -> None:
    if example.name == "estate.toml":
        from device_bridge.simulator import load_estate

        assert load_estate(example).devices
        return
    config = load_config(example)
    assert config.sources
    assert all(s.devices for s in config.sources)


def test_broker_urls() -> None:
    assert BrokerUrl.parse("mqtt://127.0.0.1:1884") == BrokerUrl("127.0.0.1", 1884)
    secure = BrokerUrl.parse("mqtts://edge%40b1:s3cr%2Ft@broker.example?ca=/etc/ca.pem")
    assert (secure.host, secure.port, secure.tls, secure.username, secure.password, secure.ca_file) == (
        "broker.example", 8883, True, "edge@b1", "s3cr/t", "/etc/ca.pem")
    assert secure.redacted() == "mqtts://edge@b1:***@broker.example:8883"
    for bad in ("tcp://x", "mqtt://", "mqtt://x:99999", "mqtt://x?ca=/a", "mqtts://x?cert=1"):
        with pytest.raises(ValueError, match="broker URL"):
            BrokerUrl.parse(bad)
