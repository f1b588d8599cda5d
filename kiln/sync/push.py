"""Pushing a folder: walk, hash what changed, upload only the blobs the project lacks, record the snapshot."""

from __future__ import annotations

import functools
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kiln.client import Client
from kiln.core.blobparts import BlobPart, pack
from kiln.core.errors import FailedPrecondition, KilnError, NotFound, ResourceExhausted
from kiln.core.hashing import BlobCheck, sha256_bytes, sha256_file
from kiln.core.manifest import Entry, manifest_id
from kiln.core.models import Snapshot
from kiln.core.units import format_bytes
from kiln.sync.progress import Reporter, Silent
from kiln.sync.statcache import StatCache, State
from kiln.sync.upload import Uploader
from kiln.sync.walk import PUSH_RULES, LocalEntry, output_rules, walk

HASH_WORKERS = min(8, (os.cpu_count() or 1) * 2)
KEEP_BYTES = 1024**2  # files up to this size are uploaded from the bytes read to hash them (see _hash_local)


@dataclass(frozen=True)
class Outputs:
    """Push a run's folder as its outputs, as changes to the snapshot it was materialised from: by the
    output rules (walk.output_rules) instead of the push rules, always with the `keep` paths (what the run
    logged), and only if what it created or changed totals at most `max_bytes`. A path the output rules
    leave out stays as the folder's last state had it: excluding a path never makes a run look as if it
    had deleted or changed what it started with."""

    keep: frozenset[str] = frozenset()
    max_bytes: int | None = None


class OutputsTooLarge(ResourceExhausted):
    """What a run created or changed is over the cap; nothing was uploaded."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"the outputs are {format_bytes(size)}, over the cap of {format_bytes(cap)}")
        self.size, self.cap = size, cap


@dataclass(frozen=True)
class PushResult:
    snapshot: Snapshot
    files: int
    bytes_total: int
    bytes_uploaded: int
    left_out: tuple[tuple[str, str], ...] = ()  # outputs only: what a snapshot cannot hold, (path, why)

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
    root: str
    local: list[LocalEntry]
    digests: dict[str, str]  # path -> digest, for files and symlinks
    fresh: set[str]  # digests of content read in this scan (the stat cache did not know it)
    changes: list[Entry]  # relative to the previous scan's state
    removed: list[str]
    base_id: str  # manifest id of the previous scan's state, if the coordinator confirmed one
    left_out: tuple[tuple[str, str], ...] = ()  # outputs a snapshot cannot hold: (path, why)

    @functools.cached_property
    def entries(self) -> list[Entry]:
        return [Entry(e.path, e.mode, e.size, self.digests.get(e.path, "")) for e in self.local]

    @functools.cached_property
    def sources(self) -> dict[str, LocalEntry]:
        """digest -> a local file or link holding that content."""
        found: dict[str, LocalEntry] = {}
        for e in self.local:
            if not e.is_dir:
                found.setdefault(self.digests[e.path], e)
        return found

    def open(self, digest: str) -> BinaryIO:
        """The content for `digest`, checked as it is read: a file changed since the scan is named."""
        return _open_checked(self.root, self.sources[digest], digest)


def _open_checked(root: str, e: LocalEntry, digest: str) -> BinaryIO:
    """What an upload reads for a file or link the scan hashed to `digest`, checked as it is read."""
    if e.is_link:
        return io.BytesIO(e.link_target.encode("utf-8", "surrogateescape"))
    return _Checked(os.path.join(root, e.path), e, digest)


class _Checked(io.FileIO):
    """A file read for upload, checked as it is read against what the scan found (its size and digest)."""

    def __init__(self, path: str, entry: LocalEntry, digest: str) -> None:
        super().__init__(path, "rb")
        self.entry = entry
        self.check = BlobCheck(digest, expected_size=entry.size, mismatch=self._changed)

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size) or b""
        self.check.update(data)
        if not data or self.check.size >= self.entry.size:
            self.check.verify()
        return data

    def _changed(self, _actual: str) -> FailedPrecondition:
        return FailedPrecondition(
            f"{self.entry.path!r} changed while it was being pushed; push again, or add it to "
            ".kilnignore if it is always being written"
        )


def _hash_local(root: str, e: LocalEntry) -> tuple[str, bytes | None]:
    """The digest of a file or link, and for one of at most KEEP_BYTES the bytes hashed, which are what is
    uploaded (so a small file is read and hashed once, and the snapshot holds exactly what was hashed);
    None for a larger one, or one whose size is not what the walk saw (read again, and checked, on upload)."""
    if e.is_link:
        data = e.link_target.encode("utf-8", "surrogateescape")
        return sha256_bytes(data), data
    path = os.path.join(root, e.path)
    if e.size > KEEP_BYTES:
        with open(path, "rb") as f:
            return sha256_file(f)[0], None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = os.read(fd, e.size + 1)  # one read past the size the walk saw tells whether it grew
        while len(data) <= e.size and (more := os.read(fd, e.size + 1 - len(data))):
            data += more
    finally:
        os.close(fd)
    if len(data) == e.size:
        return sha256_bytes(data), data
    with open(path, "rb") as f:  # it changed since the walk: hashed whole, read again (and refused) on upload
        return sha256_file(f)[0], None


def scan(
    root: Path,
    cache: StatCache,
    reporter: Reporter,
    outputs: Outputs | None = None,
    hashed: Callable[[LocalEntry, str, bytes | None], None] | None = None,
) -> Scan:
    """The folder's state, reading only files whose (size, mtime, inode) the cache does not know.

    Cheap when little changed: one pass compares each path's stat with the cached state. `hashed` is
    told of each file read, as soon as it is hashed (from the hashing threads), with the bytes hashed where
    they were kept, so its upload can start while the rest is read.
    """
    started = time.time_ns()
    top = os.fspath(root)
    previous = cache.state
    if outputs is None:
        local = walk(top, PUSH_RULES)
    else:
        excluded: list[str] = []
        left_out: list[tuple[str, str]] = []
        local = walk(top, output_rules(outputs.keep), excluded, left_out)
        local += _as_before(previous, excluded)
    digests: dict[str, str] = {}
    todo: list[LocalEntry] = []
    moved = False  # a path appeared, or changed type or mode
    for e in local:
        row = previous.get(e.path)
        if row is None or row[0] != e.mode:
            moved = True
        if e.is_dir:
            continue
        if row is not None and row[1] == e.size and row[2] == e.mtime_ns and row[3] == e.ino:
            digests[e.path] = str(row[4])
        else:
            todo.append(e)
    if outputs is not None and outputs.max_bytes is not None:
        produced = sum(e.size for e in todo)
        if produced > outputs.max_bytes:
            raise OutputsTooLarge(produced, outputs.max_bytes)
    reporter.phase("hashing", sum(e.size for e in todo))
    fresh = _hash_all(top, todo, reporter, hashed)
    digests.update(fresh)
    base_id = cache.state_id
    unheld = tuple(sorted(left_out)) if outputs is not None else ()
    if not (todo or moved or len(local) != len(previous)):
        return Scan(top, local, digests, set(), [], [], base_id, unheld)
    state: State = {}
    changes: list[Entry] = []
    for e in local:
        digest = digests.get(e.path, "")
        state[e.path] = [e.mode, e.size, e.mtime_ns, e.ino, digest] if digest else [e.mode, 0, 0, 0, ""]
        old = previous.get(e.path)
        if old is None or old[0] != e.mode or old[4] != digest:
            changes.append(Entry(e.path, e.mode, e.size, digest))
    removed = sorted(previous.keys() - state.keys())
    cache.replace(state, started, same_manifest=not (changes or removed))
    return Scan(top, local, digests, set(fresh.values()), changes, removed, base_id, unheld)


def _hash_all(
    top: str,
    todo: list[LocalEntry],
    reporter: Reporter,
    hashed: Callable[[LocalEntry, str, bytes | None], None] | None,
) -> dict[str, str]:
    """path -> digest of each entry in `todo`, read on HASH_WORKERS threads (hashlib lets go of the GIL),
    the largest first so that a big file does not start last and leave one core idle at the end."""
    if not todo:
        return {}
    work = iter(sorted(todo, key=lambda e: e.size, reverse=True))
    lock = threading.Lock()
    fresh: dict[str, str] = {}
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            while not failures:
                with lock:
                    e = next(work, None)
                if e is None:
                    return
                digest, data = _hash_local(top, e)
                fresh[e.path] = digest
                reporter.advance(e.size)
                if hashed is not None:
                    hashed(e, digest, data)
        except BaseException as exc:  # raised again in the scanning thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, name="kiln-hash") for _ in range(min(HASH_WORKERS, len(todo)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return fresh


def _as_before(previous: State, excluded: list[str]) -> list[LocalEntry]:
    """The entries of the last state at or under the paths an output walk left out, as that state has them
    (their digests come from it too, so nothing left out is read)."""
    if not excluded:
        return []
    out = set(excluded)
    found = []
    for path, row in previous.items():
        at = path
        while at not in out and "/" in at:
            at = at.rsplit("/", 1)[0]
        if at in out:
            mode, size, mtime_ns, ino = (int(v) for v in row[:4])
            found.append(LocalEntry(path, mode, size, mtime_ns, ino))
    return found


def _counted(
    messages: Iterator[list[BlobPart]], reporter: Reporter, failures: list[KilnError]
) -> Iterator[list[BlobPart]]:
    """Reports progress, and keeps the reason when reading a file fails (gRPC only sees a cancelled call)."""
    try:
        for m in messages:
            yield m
            reporter.advance(sum(len(p.data) for p in m))
    except KilnError as e:
        failures.append(e)
        raise


def _upload_missing(client: Client, project: str, found: Scan, candidates: set[str], reporter: Reporter) -> int:
    sizes = {found.digests[e.path]: e.size for e in found.local if not e.is_dir}
    offered = [(d, sizes[d]) for d in candidates]
    missing = client.find_missing_blobs(project, offered) if offered else []
    if not missing:
        return 0
    reporter.phase("uploading", sum(sizes[d] for d in missing))
    messages = pack((d, functools.partial(found.open, d)) for d in missing)
    failures: list[KilnError] = []
    try:
        return client.upload_blobs(project, _counted(messages, reporter, failures))[1]
    except KilnError:
        if failures:
            raise failures[0] from None
        raise


def _existing(probe: Callable[[], Snapshot] | None) -> Snapshot | None:
    if probe is None:
        return None
    try:
        return probe()
    except NotFound:
        return None


def _record(
    client: Client, project: str, found: Scan, last: str, message: str, reporter: Reporter, uploaded: int
) -> tuple[Snapshot, int]:
    """Records the snapshot, optimistically: only content read in this scan was offered (`uploaded` bytes
    of it sent while it was hashed), and the snapshot is described as changes to the last one pushed from
    here when the cache still holds it. Where the project lacks content the cache knew (another project,
    an earlier push cut off) the coordinator refuses, and everything is offered and described in full, so
    no blob already there is sent again."""
    try:
        if last and found.base_id == last:
            snap = client.create_snapshot(project, found.changes, last, message, base=last, removed=found.removed)
        else:
            snap = client.create_snapshot(project, found.entries, last, message, manifest_id(found.entries))
    except (FailedPrecondition, NotFound):
        uploaded += _upload_missing(client, project, found, set(found.sources), reporter)
        snap = client.create_snapshot(project, found.entries, "", message, manifest_id(found.entries))
    return snap, uploaded


def push(
    client: Client,
    root: Path,
    project: str,
    message: str,
    cache_dir: Path,
    reporter: Reporter | None = None,
    outputs: Outputs | None = None,
) -> PushResult:
    """Snapshots `root` into `project`; a folder unchanged since its last push costs one small call.
    With `outputs`, the folder is a run's, pushed as its outputs (see Outputs)."""
    reporter = reporter or Silent()
    cache = StatCache.for_folder(cache_dir, root)
    last = cache.last_snapshot.get(project, "")
    # Asked while the folder is walked, in case it is unchanged: the answer (and, in a new process, the
    # connection to the coordinator) is ready by the time the walk tells whether it is needed.
    probe = client.snapshot_info_later(last, project) if last and cache.state_id == last else None
    uploader = Uploader(client, project, functools.partial(_open_checked, os.fspath(root)))
    try:
        found = scan(root, cache, reporter, outputs, uploader.offer)
        unchanged = found.base_id and found.base_id == last and not (found.changes or found.removed)
        snap = _existing(probe) if unchanged else None
        uploaded = 0
        if snap is None:
            snap, uploaded = _record(client, project, found, last, message, reporter, uploader.finish(reporter))
        cache.confirm(snap.id, project)
        blobs = [e for e in found.local if not e.is_dir]
        return PushResult(snap, len(blobs), sum(e.size for e in blobs), uploaded, found.left_out)
    finally:
        uploader.abandon()  # ends the upload call where a failure came before it was finished
        cache.write()  # keeps the hashing done even when the upload failed
        reporter.done()
