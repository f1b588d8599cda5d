"""Restoring a snapshot into a folder exactly: contents, modes, empty directories, symlinks inside the tree.

The tree is built in a temporary folder beside the destination and renamed into place only when every
blob has arrived and matched its digest, so a failed pull leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections import defaultdict
from pathlib import Path

from kiln.client import Client
from kiln.core.atomic import building
from kiln.core.errors import AlreadyExists, InvalidArgument
from kiln.core.hashing import BlobCheck
from kiln.core.manifest import Entry, validate
from kiln.core.models import Snapshot
from kiln.core.paths import check_symlink_target
from kiln.core.verified import VerifiedWriter
from kiln.sync.progress import Reporter, Silent


def pull(
    client: Client, snapshot_id: str, dest: Path, project: str = "", reporter: Reporter | None = None
) -> tuple[Snapshot, list[Entry]]:
    reporter = reporter or Silent()
    snap, entries = client.get_snapshot(snapshot_id, project)
    entries = validate(entries)  # never trust a manifest that crossed the wire
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise AlreadyExists(f"{dest} exists and is not empty; pull into a new or empty folder")
    try:
        with building(dest, tag="kiln-pull") as work:
            reporter.phase("downloading", sum(e.size for e in entries if e.has_blob))
            materialize(client, snap.project, entries, work, reporter)
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
    """Writes one blob to the first file that holds it (or keeps it in memory when only symlinks do),
    verified as it arrives, then copies it to the other files and makes the links."""

    def __init__(self, root: Path, digest: str, entries: list[Entry]) -> None:
        self.root, self.digest, self.entries = root, digest, entries
        for e in entries:
            (root / e.path).parent.mkdir(parents=True, exist_ok=True)

        def corrupted(actual: str) -> InvalidArgument:
            return InvalidArgument(
                f"blob {digest[:12]} arrived corrupted (content hashes to {actual[:12]}); nothing was written, "
                "pull again"
            )

        self.first = next((e for e in entries if e.kind == "file"), None)
        self.file = (
            VerifiedWriter(digest, root / self.first.path, durable=False, mismatch=corrupted) if self.first else None
        )
        self.check = BlobCheck(digest, mismatch=corrupted)  # for symlink targets, kept in memory
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        if self.file:
            self.file.write(data)
        else:
            self.check.update(data)
            self.data.append(data)

    def finish(self) -> None:
        if self.file:
            self.file.finish()
        else:
            self.check.verify()
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
