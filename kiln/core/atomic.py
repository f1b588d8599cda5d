"""Atomic writes: a file as a temp file in the same folder, fsync, rename, fsync the folder; a folder built
aside under a temp name and renamed into place (`building`)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

# The C library the interpreter is linked with (CDLL(None)): find_library("c") would run ldconfig at import.
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SYNC_FILE_RANGE_WRITE = 2
if _libc is not None:
    _libc.sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)


def start_writeback(fd: int, offset: int, nbytes: int) -> None:
    """Asks the kernel to start writing a range of an open file to the disk, without waiting for it
    (sync_file_range(2), Linux; elsewhere nothing): a later fsync or syncfs then waits for what is left
    rather than for everything. Durability still comes only from that later sync."""
    if _libc is not None:
        _libc.sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


def sync_filesystem(path: Path) -> None:
    """Makes everything written to the filesystem holding `path` durable: one syncfs(2) for a batch of
    files is far cheaper than an fsync per file (falls back to sync(2) where syncfs is unavailable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc is not None and _libc.syncfs(fd) == 0:
            return
        os.sync()
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Replaces `path` with `data` so a reader sees the old or the new content, never a part; `durable`
    also makes the new content survive a power cut once this returns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


@contextlib.contextmanager
def building(final: Path, *, exist_ok: bool = False, durable: bool = False, tag: str = "partial") -> Iterator[Path]:
    """A new temp folder beside `final` (named `.<final>.<tag>-…`) to build into; renamed to `final` when the
    block succeeds, so nobody ever sees a half-made `final`, and removed when it fails, so a failure leaves
    nothing. The rename replaces an empty folder at `final`, and fails where `final` holds anything.

    `exist_ok` is for folders named by their content (a dataset version, an SDK build): when another
    builder renamed theirs into place first, theirs is kept and this one discarded. `durable` makes the
    folder's contents and its new name survive a power cut before this returns."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{tag}-", dir=final.parent))
    try:
        yield tmp
        if durable:
            sync_filesystem(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (exist_ok and final.is_dir()):
                raise
            remove_tree(tmp)  # another builder won, with the same content
            return
    except BaseException:
        remove_tree(tmp)
        raise
    if durable:
        fsync_dir(final.parent)


def remove_tree(path: Path) -> None:
    """Removes a folder that may hold read-only folders (a pulled tree, a dataset) as far as it can: a
    clean-up that runs while an error is on its way must not replace that error with its own."""

    def make_writable(func: Callable[..., object], p: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            parent = os.path.dirname(p)
            os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
            func(p)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable)
    else:
        shutil.rmtree(path, onerror=make_writable)
