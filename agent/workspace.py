"""The node's workspace: a content-addressed blob cache, run folders materialised from it (fetching only the
blobs it lacks), and the run's output snapshot made from what changed in its folder."""

from __future__ import annotations

import os
import shutil
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from kiln.client import Client
from kiln.core.errors import InvalidArgument
from kiln.core.manifest import Entry, validate
from kiln.core.paths import check_symlink_target
from kiln.core.verified import VerifiedWriter
from kiln.sync.push import Outputs, push
from kiln.sync.statcache import StatCache, State

# Materialised files get this mtime: a run that writes one moves its mtime, so the output scan sees it.
PRISTINE_MTIME_NS = 1_000_000_000 * 10**9
MANIFEST_CACHE_ENTRIES = 200_000  # manifest entries held in memory, all snapshots together (~40 MB at most)


class Manifests:
    """Validated manifests by (project, snapshot id), the most recently used kept up to `max_entries` in
    all: a snapshot never changes (its id is its manifest's digest), so a node running the same snapshot
    again starts without asking for it."""

    def __init__(self, max_entries: int = MANIFEST_CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._held: OrderedDict[tuple[str, str], list[Entry]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> list[Entry] | None:
        with self._lock:
            found = self._held.get(key)
            if found is not None:
                self._held.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], entries: list[Entry]) -> None:
        if len(entries) > self.max_entries:
            return
        with self._lock:
            if key in self._held:
                return
            self._held[key] = entries
            self._count += len(entries)
            while self._count > self.max_entries:
                self._count -= len(self._held.popitem(last=False)[1])


class BlobCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifests = Manifests()
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def missing(self, digests: set[str]) -> list[str]:
        return sorted(d for d in digests if not self.path(d).exists())

    def fetch(self, client: Client, project: str, digests: list[str]) -> int:
        """Downloads blobs into the cache, each verified before it is kept; returns the bytes fetched."""
        fetched = 0
        incoming: VerifiedWriter | None = None
        try:
            for part in client.read_blobs(project, digests):
                if incoming is None or incoming.digest != part.digest:
                    if incoming is not None:
                        incoming.abort()  # the stream moved on before that blob ended
                    incoming = self._incoming(part.digest)
                incoming.write(part.data)
                fetched += len(part.data)
                if part.last:
                    incoming.finish()
                    incoming = None
        finally:
            if incoming is not None:
                incoming.abort()
        return fetched

    def _incoming(self, digest: str) -> VerifiedWriter:
        """Each blob gets its own temp file, so jobs fetching the same blob at once do not collide."""
        return VerifiedWriter(
            digest,
            self.path(digest),
            tmp_dir=self.root / "tmp",
            mode=0o600,
            durable=False,
            mismatch=lambda _: InvalidArgument(f"blob {digest[:12]} arrived corrupted; fetch again"),
        )


def materialize(
    client: Client, cache: BlobCache, project: str, snapshot_id: str, dest: Path, statcache_dir: Path
) -> list[Entry]:
    """Writes the snapshot into the empty folder `dest` from the cache (copies, so a run that edits a file
    cannot damage the cache), and records the folder's state so outputs are found by what changed."""
    entries = cache.manifests.get((project, snapshot_id))
    if entries is None:
        entries = validate(client.get_snapshot(snapshot_id, project)[1])
        cache.manifests.put((project, snapshot_id), entries)
    missing = cache.missing({e.digest for e in entries if e.has_blob})
    if missing:
        cache.fetch(client, project, missing)
    dest.mkdir(parents=True, exist_ok=True)
    state: State = {}
    for e in entries:
        target = dest / e.path
        if e.kind == "dir":
            target.mkdir(exist_ok=True)
            os.chmod(target, stat.S_IMODE(e.mode))
            state[e.path] = [e.mode, 0, 0, 0, ""]
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if e.kind == "symlink":
            text = cache.path(e.digest).read_bytes().decode("utf-8", "surrogateescape")
            os.symlink(check_symlink_target(e.path, text), target)
        else:
            shutil.copyfile(cache.path(e.digest), target)
            os.chmod(target, stat.S_IMODE(e.mode))
        os.utime(target, ns=(PRISTINE_MTIME_NS, PRISTINE_MTIME_NS), follow_symlinks=False)
        st = target.lstat()
        state[e.path] = [e.mode, e.size, st.st_mtime_ns, st.st_ino, e.digest]
    cache_file = StatCache.for_folder(statcache_dir, dest)
    cache_file.state, cache_file.state_id, cache_file.dirty = state, snapshot_id, True
    cache_file.last_snapshot[project] = snapshot_id
    cache_file.write()
    return entries


def collect_outputs(
    client: Client,
    project: str,
    dest: Path,
    statcache_dir: Path,
    message: str,
    *,
    started_from: str,
    logged: Iterable[str] = (),
    max_bytes: int | None = None,
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The run's output snapshot: what is in its folder at the end, by the output rules (whatever
    .gitignore says; caches and .kilnoutputignore left out; the `logged` paths always in), pushed as
    changes to the snapshot it `started_from`, so only new and changed blobs travel. "" when the run
    changed nothing: its output would be its input, which is no output (and no lineage edge). Also what
    was left out because a snapshot cannot hold it (a link out of the folder...), as (path, why). Raises
    OutputsTooLarge over `max_bytes` of created or changed files, before anything is uploaded."""
    result = push(client, dest, project, message, statcache_dir, outputs=Outputs(frozenset(logged), max_bytes))
    if result.snapshot.id == started_from or (not started_from and result.files == 0):
        return "", result.left_out
    return result.snapshot.id, result.left_out
