"""Restoring a snapshot into a folder exactly: contents, modes, empty directories, symlinks inside the tree.

The tree is built in a temporary folder beside the destination and renamed into place only when every
blob has arrived and matched its digest, so a failed pull leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import BinaryIO

from kiln.client import Client
from kiln.core.errors import AlreadyExists, InvalidArgument
from kiln.core.manifest import Entry, validate
from kiln.core.models import Snapshot
from kiln.core.paths import check_symlink_target
from kiln.sync.progress import Reporter, Silent


def pull(
    client: Client, snapshot_id: str, dest: Path, project: str = "", reporter: Reporter | None = None
) -> tuple[Snapshot, list[Entry]]:
    reporter = reporter or Silent()
    snap, entries = client.get_snapshot(snapshot_id, project)
    entries = validate(entries)  # never trust a manifest that crossed the wire
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise AlreadyExists(f"{dest} exists and is not empty; pull into a new or empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.kiln-pull-", dir=dest.parent))
    try:
        reporter.phase("downloading", sum(e.size for e in entries if e.has_blob))
        materialize(client, snap.project, entries, work, reporter)
        if dest.exists():
            dest.rmdir()
        work.rename(dest)
    except BaseException:
        _remove_tree(work)
        raise
    finally:
        reporter.done()
    return snap, entries


def materialize(
    client: Client, project: str, entries: list[Entry], root: Path, reporter: Reporter | None = None
) -> None:
    """Writes validated `entries` under the empty folder `root`, fetching their blobs from `project`."""
    reporter = reporter or Silent()
    for e in entries:
        if e.kind == "dir":
            (root / e.path).mkdir(mode=0o700)
    paths: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        if e.has_blob:
            paths[e.digest].append(e)
    writer: _BlobWriter | None = None
    for part in client.read_blobs(project, list(paths)):
        if writer is None or writer.digest != part.digest:
            writer = _BlobWriter(root, part.digest, paths[part.digest])
        writer.write(part.data)
        reporter.advance(len(part.data))
        if part.last:
            writer.finish()
            writer = None
    for e in entries:
        if e.kind == "file" and not (root / e.path).exists():
            raise InvalidArgument(f"the coordinator sent no content for {e.path!r}")
    for e in sorted((e for e in entries if e.kind == "dir"), key=lambda e: e.path.count("/"), reverse=True):
        os.chmod(root / e.path, stat.S_IMODE(e.mode))


class _BlobWriter:
    """Writes one blob to the first path that holds it, verifies it, then copies it to the others."""

    def __init__(self, root: Path, digest: str, entries: list[Entry]) -> None:
        self.root, self.digest, self.entries = root, digest, entries
        self.hash = hashlib.sha256()
        self.data: list[bytes] = []  # symlink targets are kept in memory
        first = next((e for e in entries if e.kind == "file"), None)
        for e in entries:
            (root / e.path).parent.mkdir(parents=True, exist_ok=True)
        self.file: BinaryIO | None = open(root / first.path, "xb") if first else None  # noqa: SIM115
        self.first = first

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        if self.file:
            self.file.write(data)
        else:
            self.data.append(data)

    def finish(self) -> None:
        if self.file:
            self.file.close()
        if self.hash.hexdigest() != self.digest:
            raise InvalidArgument(
                f"blob {self.digest[:12]} arrived corrupted (content hashes to "
                f"{self.hash.hexdigest()[:12]}); nothing was written, pull again"
            )
        target = b"".join(self.data)
        for e in self.entries:
            path = self.root / e.path
            if e.kind == "symlink":
                if self.first:
                    target = (self.root / self.first.path).read_bytes()
                text = target.decode("utf-8", "surrogateescape")
                check_symlink_target(e.path, text)
                os.symlink(text, path)
                continue
            if e is not self.first:
                assert self.first is not None
                shutil.copyfile(self.root / self.first.path, path)
            os.chmod(path, stat.S_IMODE(e.mode))


def _remove_tree(path: Path) -> None:
    def make_writable(func, p, _exc):  # type: ignore[no-untyped-def]
        os.chmod(os.path.dirname(p), 0o700)
        func(p)

    shutil.rmtree(path, onerror=make_writable)
