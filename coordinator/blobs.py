"""Content-addressed blob files: written to a temp file, verified against their digest, fsynced, renamed."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from kiln.core.errors import InvalidArgument, ResourceExhausted
from kiln.core.hashing import is_digest
from kiln.core.units import format_bytes


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():  # left by a crash mid-upload; never visible as blobs
            stale.unlink(missing_ok=True)

    def path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise InvalidArgument(f"not a SHA-256 digest: {digest[:80]!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        return self.path(digest).open("rb")

    def writer(self, digest: str, max_bytes: int) -> BlobWriter:
        return BlobWriter(self, digest, max_bytes)


class BlobWriter:
    """Receives one blob's bytes in order; `commit()` keeps it only if it hashes to the promised digest."""

    def __init__(self, store: BlobStore, digest: str, max_bytes: int) -> None:
        self.store = store
        self.digest = digest
        self.final = store.path(digest)
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        fd, self._tmp = tempfile.mkstemp(dir=store.tmp, prefix=digest[:16] + ".")
        self._file = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise ResourceExhausted(
                f"blob {self.digest[:12]} is larger than this coordinator's upload limit "
                f"of {format_bytes(self.max_bytes)}"
            )
        self._hash.update(data)
        self._file.write(data)

    def commit(self) -> int:
        """Verifies, makes durable, and publishes the blob; returns its size."""
        actual = self._hash.hexdigest()
        if actual != self.digest:
            self.abort()
            raise InvalidArgument(
                f"blob {self.digest} does not match its content, which hashes to {actual}; "
                "the file changed during upload or was corrupted in transit: push again"
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, self.final)
        return self.size

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        Path(self._tmp).unlink(missing_ok=True)
