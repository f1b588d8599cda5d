"""What the Files page asks of a linked folder and of snapshots, as plain functions run off the GUI thread.

The changes shown are computed with the code `kiln push` uses (its scan and stat cache, and the core
manifest diff), so what the page says would be pushed is what a push sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiln.client import Client
from kiln.core.errors import InvalidArgument, NotFound
from kiln.core.manifest import Diff, Entry, diff
from kiln.core.models import Snapshot
from kiln.sync.progress import Silent
from kiln.sync.push import scan
from kiln.sync.statcache import StatCache


@dataclass(frozen=True)
class LocalChanges:
    folder: Path
    last: Snapshot | None  # the last snapshot pushed from this folder to the project, if any
    diff: Diff


def local_changes(client: Client, folder: Path, project: str, cache_dir: Path) -> LocalChanges:
    """The folder against the last snapshot pushed from it. The stat cache is read but never written:
    `scan` replaces its state in memory, and the next push must still see the state its last push left."""
    if not folder.is_dir():
        raise InvalidArgument(f"the linked folder {folder} does not exist (any more); link another one")
    cache = StatCache.for_folder(cache_dir, folder)
    last_id = cache.last_snapshot.get(project, "")
    found = scan(folder, cache, Silent())  # `cache` is dropped unwritten
    last: Snapshot | None = None
    before: list[Entry] = []
    if last_id:
        try:
            last, before = client.get_snapshot(last_id, project)
        except NotFound:  # pushed to a project of that name on another coordinator, or removed
            last = None
    return LocalChanges(folder, last, diff(before, found.entries))


@dataclass(frozen=True)
class SnapshotDiff:
    old: Snapshot
    new: Snapshot
    diff: Diff


def diff_snapshots(client: Client, project: str, first: str, second: str) -> SnapshotDiff:
    """Two snapshots compared from the older to the newer, whichever order they were picked in."""
    a, a_entries = client.get_snapshot(first, project)
    b, b_entries = client.get_snapshot(second, project)
    if b.created_at < a.created_at:
        (a, a_entries), (b, b_entries) = (b, b_entries), (a, a_entries)
    return SnapshotDiff(a, b, diff(a_entries, b_entries))


def check_empty_folder(text: str) -> Path:
    """Refuses early, in words, what pull would refuse after fetching the manifest."""
    if not text.strip():
        raise InvalidArgument("choose a folder to pull into")
    dest = Path(text.strip()).expanduser().resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidArgument(f"{dest} is not empty; pull into a new or empty folder")
    return dest
