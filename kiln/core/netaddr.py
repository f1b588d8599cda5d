"""HOST:PORT addresses as people type them (IPv6 in brackets)."""

from __future__ import annotations

from kiln.core.errors import InvalidArgument


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InvalidArgument(f"address {address!r} must be HOST:PORT, e.g. 127.0.0.1:7443")
    return host.strip("[]"), int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
