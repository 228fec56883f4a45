"""``mqtts://…?ca=`` upstream: a Mosquitto TLS listener with a private CA made for the test."""

from __future__ import annotations

import getpass
import subprocess
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from device_bridge.cli import main
from tests.bridge.conftest import wait_until
from tests.support.broker import PrivateMosquitto, free_port, mosquitto_binary

pytestmark = pytest.mark.broker


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture
def tls_broker(tmp_path: Path):
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("fieldops test CA", ca_key, None, ca_key, ca=True)
    server = _cert("127.0.0.1", server_key, ca.subject, ca_key, ca=False)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.key").write_bytes(_pem_key(server_key))
    tls_port, plain_port = free_port(), free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"""\
user {getpass.getuser()}
allow_anonymous true
listener {plain_port} 127.0.0.1
listener {tls_port} 127.0.0.1
cafile {tmp_path / 'ca.pem'}
certfile {tmp_path / 'server.pem'}
keyfile {tmp_path / 'server.key'}
""")
    binary = mosquitto_binary()
    assert binary is not None
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    plain = PrivateMosquitto(tmp_path / "unused", port=plain_port)
    try:
        import socket

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", tls_port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until(listening, what="TLS listener")
        yield tls_port, plain, tmp_path / "ca.pem"
    finally:
        process.terminate()
        process.wait(10)


def test_mqtts_upstream_with_a_private_ca(tls_broker, tmp_path: Path) -> None:
    from tests.bridge.conftest import Collector

    tls_port, plain, ca = tls_broker
    estate = tmp_path / "estate.toml"
    estate.write_text("""
[site]
slug = "tls-site"

[[devices]]
slug = "b1-el1"
building = "b1"
kind = "elevator"
""")
    collector = Collector(plain, "fieldops/v1/tls-site/#")
    try:
        url = f"mqtts://127.0.0.1:{tls_port}?ca={ca}"
        assert main(["--simulate", str(estate), "--mqtt-url", url, "--rate", "0",
                     "--scenario", "trapped", "--duration", "0.2", "--drain-seconds", "10"]) == 0
        events = collector.wait_events(1)
        assert events[0].type == "elevator.trapped"
    finally:
        collector.close()
