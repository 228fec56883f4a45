"""FIELDOPS_MQTT_URL parsing."""

from __future__ import annotations

import pytest

from server.ingest.mqtt_url import MqttUrl


def test_plain_url_defaults_to_1883() -> None:
    url = MqttUrl.parse("mqtt://broker.example")
    assert url == MqttUrl(host="broker.example", port=1883, tls=False)
    assert url.username is None
    assert url.password is None
    assert url.ca_file is None


def test_tls_url_defaults_to_8883() -> None:
    url = MqttUrl.parse("mqtts://broker.example")
    assert (url.host, url.port, url.tls) == ("broker.example", 8883, True)


def test_credentials_port_and_ca_file() -> None:
    url = MqttUrl.parse("mqtts://fieldops:s3cret@10.0.0.5:18883?ca=/etc/fieldops/ca.pem")
    assert url == MqttUrl(
        host="10.0.0.5",
        port=18883,
        tls=True,
        username="fieldops",
        password="s3cret",
        ca_file="/etc/fieldops/ca.pem",
    )


def test_percent_encoded_credentials_are_decoded() -> None:
    url = MqttUrl.parse("mqtt://svc%40estate:p%3Ass%2Fw%40rd@host")
    assert url.username == "svc@estate"
    assert url.password == "p:ss/w@rd"
    assert MqttUrl.parse(url.to_url()) == url


def test_ipv6_host() -> None:
    url = MqttUrl.parse("mqtt://[::1]:1884")
    assert (url.host, url.port) == ("::1", 1884)
    assert url.redacted() == "mqtt://[::1]:1884"


def test_scheme_is_case_insensitive_and_whitespace_is_ignored() -> None:
    assert MqttUrl.parse("  MQTTS://Host  ").tls is True


def test_redacted_hides_the_password_everywhere() -> None:
    url = MqttUrl.parse("mqtts://fieldops:s3cret@host:8883?ca=/ca.pem")
    assert url.redacted() == "mqtts://fieldops:***@host:8883?ca=/ca.pem"
    assert "s3cret" not in repr(url)
    assert "s3cret" not in str(url)


def test_user_without_password() -> None:
    url = MqttUrl.parse("mqtt://fieldops@host")
    assert (url.username, url.password) == ("fieldops", None)
    assert url.redacted() == "mqtt://fieldops@host:1883"


def test_to_url_round_trips() -> None:
    for text in (
        "mqtt://host:1883",
        "mqtts://u:p@host:8883?ca=/etc/ca.pem",
        "mqtt://u@127.0.0.1:45000",
    ):
        url = MqttUrl.parse(text)
        assert url.to_url() == text
        assert MqttUrl.parse(url.to_url()) == url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("broker:1883", "scheme"),
        ("http://broker", "scheme"),
        ("tcp://broker", "scheme"),
        ("mqtt://", "no host"),
        ("mqtt://:1883", "no host"),
        ("mqtt://host:99999", "invalid MQTT URL"),
        ("mqtt://host:port", "invalid MQTT URL"),
        ("mqtt://host/fieldops", "path"),
        ("mqtt://host?ca=/ca.pem", "needs mqtts"),
        ("mqtts://host?cafile=/ca.pem", "unknown option"),
        ("mqtts://host?ca=", "exactly once"),
        ("mqtts://host?ca=/a.pem&ca=/b.pem", "exactly once"),
        ("mqtt://:secret@host", "password without a user"),
        ("mqtt://host#x", "fragment"),
    ],
)
def test_bad_urls_raise_a_clear_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MqttUrl.parse(text)


def test_errors_never_echo_the_password() -> None:
    with pytest.raises(ValueError, match="invalid MQTT URL") as excinfo:
        MqttUrl.parse("mqtt://fieldops:hunter2@host:notaport")
    assert "hunter2" not in str(excinfo.value)
    assert "fieldops:***@host" in str(excinfo.value)
    with pytest.raises(ValueError, match="scheme") as excinfo:
        MqttUrl.parse("http://fieldops:hunter2@host")
    assert "hunter2" not in str(excinfo.value)
