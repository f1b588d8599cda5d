"""The installation's private CA, the coordinator's server certificate and its audit key (cryptography)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from kiln.core.atomic import atomic_write
from kiln.core.audit import decode_signature, encode_signature, key_id
from kiln.core.defaults import TLS_SERVER_NAME
from kiln.core.errors import InvalidArgument
from kiln.core.hashing import fingerprint

CA_YEARS = 20
LEAF_YEARS = 5
AUDIT_KEY = "audit.key"
AUDIT_CHECKPOINT = "audit.checkpoint"  # the latest signed checkpoint of the audit chain's head


@dataclass(frozen=True)
class ServerTls:
    ca_pem: bytes
    chain_pem: bytes  # server certificate followed by the CA, so clients can see what to pin
    key_pem: bytes
    ca_fingerprint: str


def ensure_pki(folder: Path) -> ServerTls:
    """Loads the CA and server certificate from `folder`, creating them on first start."""
    ca_key_path, ca_path = folder / "ca.key", folder / "ca.pem"
    key_path, cert_path = folder / "server.key", folder / "server.pem"
    if not ca_path.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key)
        atomic_write(ca_key_path, _key_pem(ca_key), 0o600)
        atomic_write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    if not cert_path.exists():
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        atomic_write(key_path, _key_pem(key), 0o600)
        atomic_write(cert_path, _server_certificate(key, ca_key, ca_cert).public_bytes(serialization.Encoding.PEM))
    ca_pem = ca_path.read_bytes()
    ca_der = x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER)
    return ServerTls(ca_pem, cert_path.read_bytes() + ca_pem, key_path.read_bytes(), fingerprint(ca_der))


def ca_fingerprint(folder: Path) -> str:
    return certificate_fingerprint((folder / "ca.pem").read_bytes())


def certificate_fingerprint(pem: bytes) -> str:
    return fingerprint(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER))


def sign_node_request(folder: Path, csr_pem: bytes, name: str) -> bytes:
    """A client certificate for node `name` from its certificate request (its key never leaves the node)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise InvalidArgument("the certificate request is not a PEM CSR") from None
    if not csr.is_signature_valid:
        raise InvalidArgument("the certificate request's signature does not verify")
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise InvalidArgument("node keys must be elliptic-curve (P-256) keys")
    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    cert = issue_certificate(public, ca_key, ca_cert, name, [], server=False)
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Kiln CA {socket.gethostname()}")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def issue_certificate(
    key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    names: list[x509.GeneralName],
    server: bool,
) -> x509.Certificate:
    """A leaf certificate signed by the CA, for the coordinator (server) or a node (client)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    now = dt.datetime.now(dt.UTC)
    usage = x509.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * LEAF_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _server_certificate(
    key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> x509.Certificate:
    names: list[x509.GeneralName] = [
        x509.DNSName(TLS_SERVER_NAME),
        x509.DNSName("localhost"),
        x509.DNSName(socket.gethostname()),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    return issue_certificate(key, ca_key, ca_cert, TLS_SERVER_NAME, names, server=True)


class AuditKey:
    """The coordinator's Ed25519 audit key. It signs each audit record as it is appended and checkpoints of
    the chain's head. It lives beside the CA key, never in the database, so someone who can write the
    database alone cannot sign what they add or change there."""

    def __init__(self, private: ed25519.Ed25519PrivateKey) -> None:
        self._private = private
        self._public = private.public_key()
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.fingerprint = fingerprint(raw)
        self.key_id = key_id(self.fingerprint)

    def sign(self, statement: bytes) -> str:
        return encode_signature(self._private.sign(statement))

    def verifies(self, statement: bytes, signature: str) -> bool:
        raw = decode_signature(signature)
        if not raw:
            return False
        try:
            self._public.verify(raw, statement)
        except InvalidSignature:
            return False
        return True


def ensure_audit_key(folder: Path) -> tuple[AuditKey, bool]:
    """Loads the audit key from `folder`, making it (0600) on first start; says whether it was just made."""
    path = folder / AUDIT_KEY
    created = not path.exists()
    if created:
        private = ed25519.Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        atomic_write(path, pem, 0o600)
    loaded = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(loaded, ed25519.Ed25519PrivateKey):
        raise InvalidArgument(f"{path} is not an Ed25519 private key: restore it from a backup")
    return AuditKey(loaded), created
