"""Content-addressed blob files: written to a temp file, verified against their digest, made durable in
batches, then renamed to their digest. A blob file that exists is complete and correct."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from kiln.core.atomic import sync_filesystem
from kiln.core.errors import InvalidArgument, ResourceExhausted
from kiln.core.hashing import is_digest
from kiln.core.units import format_bytes
from kiln.core.verified import VerifiedWriter


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():  # left by a crash mid-upload; never visible as blobs
            stale.unlink(missing_ok=True)

    def path(self, digest: str) -> str:
        if not is_digest(digest):
            raise InvalidArgument(f"not a SHA-256 digest: {digest[:80]!r}")
        return os.path.join(self.root, digest[:2], digest)

    def has(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")  # noqa: SIM115

    def writer(self, digest: str, max_bytes: int) -> VerifiedWriter:
        """A writer whose `finish()` verifies the blob but leaves it invisible until `publish`."""
        return VerifiedWriter(
            digest,
            self.path(digest),
            tmp_dir=self.tmp,
            limit=max_bytes,
            durable=False,
            defer=True,
            too_large=lambda: ResourceExhausted(
                f"blob {digest[:12]} is larger than this coordinator's upload limit of {format_bytes(max_bytes)}"
            ),
            mismatch=lambda actual: InvalidArgument(
                f"blob {digest} does not match its content, which hashes to {actual}; "
                "the file changed during upload or was corrupted in transit: push again"
            ),
        )

    def publish(self, finished: list[VerifiedWriter]) -> None:
        """Makes finished blobs durable, then visible under their digest: one filesystem sync for the
        contents and one for the names per batch, instead of an fsync per file."""
        if not finished:
            return
        sync_filesystem(self.tmp)
        for w in finished:
            w.place()
        sync_filesystem(self.root)
