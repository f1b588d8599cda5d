"""Content-addressed blob files: verified against their digest, written to a temp file, made durable in
batches, then renamed to their digest. A blob file that exists is complete and correct.

Blobs stay one file each, rather than small ones packed into a pack file with an index: every reader
(ReadBlobs, gc, backup, the link checks) reads a blob by its path, and gc removes one by unlinking it; a
pack would need an index kept in step with the files, compaction for gc, and a new backup format. The
per-blob cost is cut instead (stage: open, write, close, and a rename later) and durability is one
filesystem sync per batch."""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import BinaryIO, NamedTuple

from kiln.core.atomic import sync_filesystem
from kiln.core.errors import InvalidArgument, ResourceExhausted
from kiln.core.hashing import BlobCheck, is_digest
from kiln.core.units import format_bytes
from kiln.core.verified import VerifiedWriter, place, write_whole


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
        """A writer whose `finish()` verifies the blob but leaves it invisible until `place()`."""
        return VerifiedWriter(
            digest,
            self.path(digest),
            tmp_dir=self.tmp,
            limit=max_bytes,
            durable=False,
            defer=True,
            too_large=functools.partial(self._too_large, digest, max_bytes),
            mismatch=functools.partial(self._mismatch, digest),
        )

    def stage(self, digest: str, data: bytes, max_bytes: int) -> Staged:
        """A blob received whole (in one part): verified and written to a temp file, invisible until
        `place()`; three system calls where a writer takes five, and no writer's state."""
        final = self.path(digest)
        check = BlobCheck(
            digest,
            limit=max_bytes,
            too_large=functools.partial(self._too_large, digest, max_bytes),
            mismatch=functools.partial(self._mismatch, digest),
        )
        return Staged(digest, len(data), write_whole(data, check, final, os.fspath(self.tmp)), final)

    def sync(self) -> None:
        """Makes everything written so far durable, data and names: one filesystem sync for a batch of
        blobs instead of an fsync per file (see snapshots.Upload for how a stream uses it)."""
        sync_filesystem(self.root)

    @staticmethod
    def _too_large(digest: str, max_bytes: int) -> ResourceExhausted:
        return ResourceExhausted(
            f"blob {digest[:12]} is larger than this coordinator's upload limit of {format_bytes(max_bytes)}"
        )

    @staticmethod
    def _mismatch(digest: str, actual: str) -> InvalidArgument:
        return InvalidArgument(
            f"blob {digest} does not match its content, which hashes to {actual}; "
            "the file changed during upload or was corrupted in transit: push again"
        )


class Staged(NamedTuple):
    """A verified blob in a temp file, waiting to be made durable and placed under its digest."""

    digest: str
    size: int
    tmp: str
    final: str

    def place(self) -> None:
        place(self.tmp, self.final)

    def abort(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)
