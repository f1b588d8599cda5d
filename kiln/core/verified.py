"""The one verified writer: a blob's bytes written to a temp file while they are checked, and moved to their
place only once they match, so a file at a blob's path is always complete and correct, and a blob that
fails (wrong digest, wrong size, over a limit, a broken stream) leaves nothing behind.

The coordinator's blob store, the agent's cache, pull and backup all write blobs through it; what differs
between them is a few parameters: where the temp file lives, a size limit or an expected size, the mode,
whether each file is made durable on its own or the caller syncs a batch, and the error wording.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO

from kiln.core.atomic import fsync_dir
from kiln.core.errors import KilnError
from kiln.core.hashing import READ_BYTES, BlobCheck


class VerifiedWriter:
    """Receives one blob's bytes in order. `finish()` verifies them and moves the file to `final`, or, with
    `defer`, leaves that to `place()`, so a caller can make a batch durable with one sync before any of it
    becomes visible. Any failure in `write`, `copy_from`, `finish` or `place` removes the temp file first.

    `tmp_dir` (default: beside `final`) must be on the same filesystem as `final`. `durable` fsyncs the
    file and, once it is placed, its folder; pass False where the caller syncs a batch itself or the
    file lives in a folder that is itself only renamed into place later."""

    def __init__(
        self,
        digest: str,
        final: str | os.PathLike[str],
        *,
        tmp_dir: str | os.PathLike[str] | None = None,
        expected_size: int | None = None,
        limit: int | None = None,
        mode: int = 0o644,
        durable: bool = True,
        defer: bool = False,
        mismatch: Callable[[str], KilnError] | None = None,
        too_large: Callable[[], KilnError] | None = None,
    ) -> None:
        self.digest = digest
        self.final = os.fspath(final)
        self.check = BlobCheck(digest, expected_size=expected_size, limit=limit, mismatch=mismatch, too_large=too_large)
        self.mode, self.durable, self.defer = mode, durable, defer
        folder = os.fspath(tmp_dir) if tmp_dir is not None else os.path.dirname(self.final)
        # the temporary name adds 14 bytes to the final one: cut a long name (up to 255 bytes, as file
        # systems take and manifests allow) so the temporary one still fits; 50 characters are <= 200 bytes
        name = os.path.basename(self.final)
        prefix = f".{name if len(os.fsencode(name)) <= 200 else name[:50]}."
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        except FileNotFoundError:  # the first blob in a new folder; cheaper than a mkdir for every blob
            os.makedirs(folder, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._placed = False

    @property
    def size(self) -> int:
        """Bytes received so far (all of them, once finished)."""
        return self.check.size

    def write(self, data: bytes) -> None:
        """The next bytes; refused before they are stored when they pass the limit or the expected size."""
        with self._aborting():
            self.check.update(data)
            assert self._file is not None, "write after finish or abort"
            self._file.write(data)

    def copy_from(self, source: BinaryIO) -> int:
        """Writes everything left in `source`, then finishes; returns the size."""
        with self._aborting():
            while chunk := source.read(READ_BYTES):
                self.write(chunk)
        return self.finish()

    def finish(self) -> int:
        """Verifies the bytes against the digest (and expected size), closes the temp file and, unless
        `defer`, moves it into place; returns the size."""
        with self._aborting():
            self.check.verify()
            assert self._file is not None, "finish after finish or abort"
            self._file.flush()
            os.fchmod(self._file.fileno(), self.mode)
            if self.durable:
                os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        if not self.defer:
            self.place()
        return self.size

    def place(self) -> None:
        """Moves the finished file to `final` (replacing a copy another writer placed first: the same
        bytes), making `final`'s folder if it is the first blob there."""
        with self._aborting():
            try:
                os.replace(self.tmp, self.final)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(self.final), exist_ok=True)
                os.replace(self.tmp, self.final)
        self._placed = True
        if self.durable:
            fsync_dir(os.path.dirname(self.final) or ".")

    @contextlib.contextmanager
    def _aborting(self) -> Iterator[None]:
        """Whatever fails inside removes the temp file before the error goes on."""
        try:
            yield
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drops whatever was received; safe to call more than once, and after a failure."""
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # a write-back error on bytes being thrown away
                file.close()
        if not self._placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)
