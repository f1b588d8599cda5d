"""Content-addressed blob files: written to a temp file, verified against their digest, made durable in
batches, then renamed to their digest. A blob file that exists is complete and correct."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from pathlib import Path
from typing import BinaryIO

from kiln.core.atomic import sync_filesystem
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
        self._names = itertools.count()
        self._fanout: set[str] = set()
        self._lock = threading.Lock()

    def path(self, digest: str) -> str:
        if not is_digest(digest):
            raise InvalidArgument(f"not a SHA-256 digest: {digest[:80]!r}")
        return os.path.join(self.root, digest[:2], digest)

    def has(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")  # noqa: SIM115

    def writer(self, digest: str, max_bytes: int) -> BlobWriter:
        with self._lock:
            tmp = os.path.join(self.tmp, f"{digest[:16]}.{os.getpid()}.{next(self._names)}")
        return BlobWriter(digest, self.path(digest), tmp, max_bytes)

    def publish(self, finished: list[BlobWriter]) -> None:
        """Makes finished blobs durable, then visible under their digest: one filesystem sync for the
        contents and one for the names per batch, instead of an fsync per file."""
        if not finished:
            return
        sync_filesystem(self.tmp)
        for w in finished:
            fanout = os.path.dirname(w.final)
            if fanout not in self._fanout:
                os.makedirs(fanout, exist_ok=True)
                self._fanout.add(fanout)
            os.replace(w.tmp, w.final)
        sync_filesystem(self.root)


class BlobWriter:
    """Receives one blob's bytes in order; `finish()` checks them against the promised digest."""

    def __init__(self, digest: str, final: str, tmp: str, max_bytes: int) -> None:
        self.digest = digest
        self.final = final
        self.tmp = tmp
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise ResourceExhausted(
                f"blob {self.digest[:12]} is larger than this coordinator's upload limit "
                f"of {format_bytes(self.max_bytes)}"
            )
        self._hash.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def finish(self) -> int:
        """Verifies the bytes against the digest and closes the temp file; returns the size. The blob is
        not visible until `BlobStore.publish` makes a batch of finished blobs durable and renames them."""
        actual = self._hash.hexdigest()
        if actual != self.digest:
            self.abort()
            raise InvalidArgument(
                f"blob {self.digest} does not match its content, which hashes to {actual}; "
                "the file changed during upload or was corrupted in transit: push again"
            )
        os.close(self._fd)
        self._fd = -1
        return self.size

    def abort(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        Path(self.tmp).unlink(missing_ok=True)
