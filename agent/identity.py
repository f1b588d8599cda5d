"""The node's identity: its private key (made here, never sent), the certificate the coordinator issued for
it at enrolment, and the CA it pins."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiln.client import Client
from kiln.core import jointoken as jointoken_client
from kiln.core.atomic import atomic_write
from kiln.core.errors import FailedPrecondition, PermissionDenied
from kiln.core.netaddr import join_address, split_address
from kiln.pinning import presented_ca


@dataclass(frozen=True)
class Identity:
    name: str
    coordinator: str  # HOST:PORT of the coordinator's user port (enrolment, server info)
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes

    def agent_address(self, agent_port: int) -> str:
        return join_address(split_address(self.coordinator)[0], agent_port)

    def client(self, agent_port: int, timeout: float = 60.0) -> Client:
        """A client authenticated by this node's certificate, for the agent port."""
        return Client(
            self.agent_address(agent_port),
            self.ca_pem,
            timeout=timeout,
            node_identity=(self.key_pem, self.cert_pem),
        )

    def anonymous(self) -> Client:
        return Client(self.coordinator, self.ca_pem, timeout=10)


def folder(data: Path) -> Path:
    return data / "identity"


def load(data: Path) -> Identity | None:
    d = folder(data)
    if not (d / "node.json").exists():
        return None
    meta = json.loads((d / "node.json").read_text())
    return Identity(
        meta["name"],
        meta["coordinator"],
        (d / "key.pem").read_bytes(),
        (d / "cert.pem").read_bytes(),
        (d / "ca.pem").read_bytes(),
    )


def enroll(data: Path, coordinator: str, join_token: str, name: str, labels: dict[str, str]) -> Identity:
    """Pins the CA named in the join token, makes a key, and exchanges the token for a node certificate."""
    expected, _ = jointoken_client.parse(join_token)
    ca = presented_ca(coordinator)
    if ca.fingerprint != expected:
        raise PermissionDenied(
            f"the coordinator at {coordinator} presents CA {ca.fingerprint}, not the "
            f"{expected} in the join token; refusing to enrol (wrong address, or intercepted)"
        )
    name = name or socket.gethostname().lower()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    with Client(coordinator, ca.pem, timeout=30) as client:
        reply = client.enroll(join_token, name, csr.public_bytes(serialization.Encoding.PEM), labels)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    d = folder(data)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(d / "key.pem", key_pem, 0o600)
    atomic_write(d / "cert.pem", reply.certificate_pem)
    atomic_write(d / "ca.pem", ca.pem)
    atomic_write(d / "node.json", json.dumps({"name": reply.name, "coordinator": coordinator}).encode())
    return Identity(reply.name, coordinator, key_pem, reply.certificate_pem, ca.pem)


def load_or_enroll(data: Path, coordinator: str, join_token: str, name: str, labels: dict[str, str]) -> Identity:
    found = load(data)
    if found is not None:
        return found
    if not join_token:
        raise FailedPrecondition(
            f"{data} holds no node identity yet: pass --join-token (an admin makes one with kiln node token create)"
        )
    return enroll(data, coordinator, join_token, name, labels)
