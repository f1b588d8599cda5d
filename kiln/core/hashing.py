"""The one hashing function family: SHA-256, hex, for blobs, manifests, audit records and certificates."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, BinaryIO

from kiln.core.errors import InvalidArgument, KilnError, ResourceExhausted
from kiln.core.units import format_bytes

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


class BlobCheck:
    """Decides whether bytes passing by (being written, read or copied) are the blob they claim to be: their
    SHA-256 against `digest` and, where known, their count against `expected_size`, with an optional
    `limit` on how many may come. Every place that moves a blob checks it through this one class.

    A failure raises a domain error naming the blob. Callers that owe their users a particular wording
    pass `mismatch` (given the hex digest of the bytes seen so far) and `too_large`."""

    def __init__(
        self,
        digest: str,
        *,
        expected_size: int | None = None,
        limit: int | None = None,
        mismatch: Callable[[str], KilnError] | None = None,
        too_large: Callable[[], KilnError] | None = None,
    ) -> None:
        self.digest, self.expected_size, self.limit = digest, expected_size, limit
        self.size = 0  # bytes seen so far
        self._hash = hashlib.sha256()
        self._mismatch = mismatch or self._default_mismatch
        self._too_large = too_large or self._default_too_large

    @property
    def actual(self) -> str:
        """The digest of the bytes seen so far."""
        return self._hash.hexdigest()

    def update(self, data: bytes) -> None:
        """Takes the next bytes; refuses them at once when they pass the limit or the expected size, so a
        caller never stores more than it was promised."""
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise self._too_large()
        self._hash.update(data)
        if self.expected_size is not None and self.size > self.expected_size:
            raise self._mismatch(self.actual)

    def verify(self) -> int:
        """Checks that everything has arrived and matches; returns the size."""
        wrong_size = self.expected_size is not None and self.size != self.expected_size
        if wrong_size or self.actual != self.digest:
            raise self._mismatch(self.actual)
        return self.size

    def _default_mismatch(self, actual: str) -> KilnError:
        expected = "" if self.expected_size is None else f", {self.expected_size} were expected"
        return InvalidArgument(
            f"blob {self.digest[:12]} does not match its digest: its {self.size} bytes hash to {actual[:12]}{expected}"
        )

    def _default_too_large(self) -> KilnError:
        return ResourceExhausted(f"blob {self.digest[:12]} is larger than the limit of {format_bytes(self.limit or 0)}")


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
