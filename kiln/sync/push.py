"""Pushing a folder: walk, hash what changed, upload only the blobs the project lacks, record the snapshot."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kiln.client import Client
from kiln.core.blobparts import BlobPart, pack
from kiln.core.hashing import sha256_bytes, sha256_file
from kiln.core.manifest import Entry, manifest_id, totals
from kiln.core.models import Snapshot
from kiln.sync.progress import Reporter, Silent
from kiln.sync.statcache import StatCache
from kiln.sync.walk import LocalEntry, walk

HASH_WORKERS = min(8, (os.cpu_count() or 1) * 2)


@dataclass(frozen=True)
class PushResult:
    snapshot: Snapshot
    files: int
    bytes_total: int
    bytes_uploaded: int

    def as_dict(self) -> dict[str, object]:
        return {
            "snapshot": self.snapshot.id,
            "project": self.snapshot.project,
            "files": self.files,
            "bytes_total": self.bytes_total,
            "bytes_uploaded": self.bytes_uploaded,
        }


@dataclass(frozen=True)
class Scan:
    entries: list[Entry]
    sources: dict[str, Callable[[], BinaryIO]]  # digest -> opener of local bytes


def _hash_local(root: Path, e: LocalEntry) -> str:
    if e.kind == "symlink":
        return sha256_bytes(e.link_target.encode("utf-8", "surrogateescape"))
    with open(root / e.path, "rb") as f:
        return sha256_file(f)[0]


def scan(root: Path, cache: StatCache, reporter: Reporter) -> Scan:
    """The folder's manifest, reading only files whose (size, mtime, inode) the cache does not know."""
    started = time.time_ns()
    local = walk(root)
    digests: dict[str, str] = {}
    todo: list[LocalEntry] = []
    for e in local:
        if e.kind == "dir":
            continue
        cached = cache.lookup(e.path, e.size, e.mtime_ns, e.ino)
        if cached:
            digests[e.path] = cached
        else:
            todo.append(e)
    reporter.phase("hashing", sum(e.size for e in todo))

    def hash_one(e: LocalEntry) -> tuple[str, str]:
        digest = _hash_local(root, e)
        reporter.advance(e.size)
        return e.path, digest

    if todo:
        with ThreadPoolExecutor(HASH_WORKERS) as pool:
            digests.update(pool.map(hash_one, todo))
    entries: list[Entry] = []
    sources: dict[str, Callable[[], BinaryIO]] = {}
    for e in local:
        if e.kind == "dir":
            entries.append(Entry(e.path, e.mode))
            continue
        digest = digests[e.path]
        entries.append(Entry(e.path, e.mode, e.size, digest))
        if digest not in sources:
            sources[digest] = _opener(root, e)
    cache.remember(
        {e.path: (e.size, e.mtime_ns, e.ino, digests[e.path]) for e in local if e.kind != "dir"}, started
    )
    cache.write()
    return Scan(entries, sources)


def _opener(root: Path, e: LocalEntry) -> Callable[[], BinaryIO]:
    if e.kind == "symlink":
        target = e.link_target.encode("utf-8", "surrogateescape")
        return lambda: io.BytesIO(target)
    path = root / e.path
    return lambda: open(path, "rb")


def _counted(messages: Iterator[list[BlobPart]], reporter: Reporter) -> Iterator[list[BlobPart]]:
    for m in messages:
        yield m
        reporter.advance(sum(len(p.data) for p in m))


def push(
    client: Client, root: Path, project: str, message: str, cache_dir: Path, reporter: Reporter | None = None
) -> PushResult:
    reporter = reporter or Silent()
    try:
        cache = StatCache.for_folder(cache_dir, root)
        found = scan(root, cache, reporter)
        blobs = {e.digest: e.size for e in found.entries if e.has_blob}
        missing = client.find_missing_blobs(project, blobs.items())
        uploaded = 0
        if missing:
            reporter.phase("uploading", sum(blobs[d] for d in missing))
            messages = pack((d, found.sources[d]) for d in missing)
            _, uploaded = client.upload_blobs(project, _counted(messages, reporter))
        snap = client.create_snapshot(
            project, found.entries, cache.last_snapshot.get(project, ""), message, manifest_id(found.entries)
        )
        cache.last_snapshot[project] = snap.id
        cache.write()
        files, size = totals(found.entries)
        return PushResult(snap, files, size, uploaded)
    finally:
        reporter.done()
