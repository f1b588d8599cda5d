"""The one hashing function family: SHA-256, hex, for blobs, manifests, audit records and certificates."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, BinaryIO

DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
READ_BYTES = 1024**2


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(f: BinaryIO) -> tuple[str, int]:
    """Digest and length of everything left in an open binary file."""
    h = hashlib.sha256()
    size = 0
    while chunk := f.read(READ_BYTES):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def canonical_json(value: Any) -> bytes:
    """The byte form that hashes are taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def is_digest(text: str) -> bool:
    return bool(DIGEST_RE.match(text))


def fingerprint(der: bytes) -> str:
    """A certificate's fingerprint as people compare it: "SHA256:" and 64 hex digits."""
    return "SHA256:" + sha256_bytes(der)


def normalize_fingerprint(text: str) -> str:
    """Accepts "SHA256:ab12…", "ab:12:…" or bare hex; returns the canonical "SHA256:<hex>" form."""
    body = text.strip()
    if body.upper().startswith("SHA256:"):
        body = body[7:]
    body = body.replace(":", "").lower()
    if not is_digest(body):
        raise ValueError(f"not a SHA-256 fingerprint: {text!r} (expected SHA256: and 64 hex digits)")
    return "SHA256:" + body
