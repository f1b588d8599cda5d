"""Trust on first use, done right: read the CA a coordinator presents, so a person can compare its
fingerprint (or pass it on the command line) before anything is sent to that server."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiln.core.errors import InvalidArgument, Unavailable
from kiln.core.hashing import fingerprint
from kiln.core.netaddr import split_address


@dataclass(frozen=True)
class PresentedCa:
    pem: bytes
    fingerprint: str
    subject: str


def presented_ca(address: str, timeout: float = 10.0) -> PresentedCa:
    """The CA certificate in the chain the coordinator at `address` presents (unverified: it is only
    trusted after its fingerprint has been compared)."""
    host, port = split_address(address)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            chain = tls._sslobj.get_unverified_chain() or []  # type: ignore[attr-defined]
            ders = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
    except (OSError, ssl.SSLError) as e:
        raise Unavailable(f"cannot reach a TLS server at {address}: {e}") from None
    for der in ders:
        cert = x509.load_der_x509_certificate(der)
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if is_ca:
            return PresentedCa(
                cert.public_bytes(serialization.Encoding.PEM), fingerprint(der), cert.subject.rfc4514_string()
            )
    raise InvalidArgument(f"the server at {address} presents no CA certificate; is it a Kiln coordinator?")
