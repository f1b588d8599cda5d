"""TLS: given a certificate and key, the gateway speaks only HTTPS, and a client that trusts the
certificate (here a self-signed one) calls it as usual."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiln.coordinator.gateway.backend import StaticBackend
from kiln.coordinator.gateway.serve import Gateway

from .conftest import Caller, MakeReplica, StartGateway, endpoint, table, version


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiln-gateway-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "gateway.crt", folder / "gateway.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def test_https_with_a_trusted_self_signed_certificate(
    replicas: MakeReplica, start_gateway: StartGateway, tmp_path: Path
) -> None:
    a = replicas("a")
    cert, key = self_signed(tmp_path)
    gw = start_gateway(table(endpoint("iris", version(1, 100, a))), ssl_certfile=str(cert), ssl_keyfile=str(key))
    assert gw.gateway.url.startswith("https://")
    trusting = ssl.create_default_context(cafile=str(cert))
    c = Caller(gw.port, context=trusting)
    for _ in range(3):  # over one kept-alive TLS connection
        answer = c.invoke("iris")
        assert answer.status == 200 and answer.json()["replica"] == "a"
    c.close()

    untrusting = ssl.create_default_context()  # the system's roots: they never signed this certificate
    with pytest.raises(ssl.SSLCertVerificationError):
        Caller(gw.port, context=untrusting).invoke("iris")


def test_a_certificate_without_its_key_is_refused(backend: StaticBackend, tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(ValueError, match="both a certificate file and a key file"):
        Gateway(backend, spool_dir=tmp_path / "spool", ssl_certfile=str(cert))


def test_a_key_that_does_not_load_fails_the_start(backend: StaticBackend, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    key.write_text("not a key\n")
    g = Gateway(backend, spool_dir=tmp_path / "spool", ssl_certfile=str(cert), ssl_keyfile=str(key))
    with pytest.raises(ssl.SSLError):
        g.start_in_thread()
    assert not g.alive
