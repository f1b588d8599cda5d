"""Snapshot manifests: the sorted (path, mode, size, digest) list whose own digest is the snapshot id."""

from __future__ import annotations

import bisect
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from kiln.core import limits
from kiln.core.errors import InvalidArgument
from kiln.core.hashing import canonical_json, is_digest, sha256_bytes
from kiln.core.paths import check_relpath, file_kind


class Entry(NamedTuple):
    """One path in a snapshot. A symlink's blob holds its target; a directory has no blob.

    A tuple, because manifests hold tens of thousands of them and are built on every push.
    """

    path: str
    mode: int
    size: int = 0
    digest: str = ""

    @property
    def kind(self) -> str:
        return file_kind(self.path, self.mode)

    @property
    def has_blob(self) -> bool:
        return not stat.S_ISDIR(self.mode)


def canonical_manifest(entries: Iterable[Entry]) -> bytes:
    """The byte form a manifest is hashed (and stored) in: canonical JSON of the entries sorted by path."""
    return canonical_json(sorted(entries))


def manifest_id(entries: Iterable[Entry]) -> str:
    """The snapshot id: SHA-256 of the canonical manifest."""
    return sha256_bytes(canonical_manifest(entries))


def _check_entry(e: Entry) -> str:
    check_relpath(e.path)
    kind = file_kind(e.path, e.mode)
    if kind == "dir":
        if e.size or e.digest:
            raise InvalidArgument(f"directory {e.path!r} cannot carry a size or digest")
    elif not is_digest(e.digest):
        raise InvalidArgument(f"path {e.path!r} has an invalid digest {e.digest[:80]!r}")
    return kind


def _check_ancestors(path: str, mode_of: Callable[[str], int | None]) -> None:
    parent = path.rpartition("/")[0]
    while parent:
        mode = mode_of(parent)
        if mode is not None and not stat.S_ISDIR(mode):
            raise InvalidArgument(f"path {path!r} lies below {file_kind(parent, mode)} {parent!r}")
        parent = parent.rpartition("/")[0]


def validate(entries: Iterable[Entry]) -> list[Entry]:
    """The entries sorted by path, or InvalidArgument naming the first unsafe or inconsistent one.

    Checks every path, refuses devices, duplicates, and any path below a file or symlink (which a pull
    could otherwise be tricked into writing through), and more entries than a manifest may hold. Symlink
    targets live in blobs: they are checked where those are read, over the whole tree (paths.check_links).
    """
    ordered = limits.MANIFEST_ENTRIES.check(sorted(entries))
    modes: dict[str, int] = {}
    for e in ordered:
        _check_entry(e)
        if e.path in modes:
            raise InvalidArgument(f"path {e.path!r} appears twice in the manifest")
        _check_ancestors(e.path, modes.get)  # ancestors sort before their descendants
        modes[e.path] = e.mode
    return ordered


def apply_changes(base: Iterable[Entry], changes: Iterable[Entry], removed: Iterable[str]) -> list[Entry]:
    """A validated base manifest with `changes` (new or replaced entries) applied and `removed` paths gone,
    sorted; only what changed is checked, at a cost that does not grow with the size of the base."""
    merged = {e.path: e for e in base}
    changes = limits.MANIFEST_ENTRIES.check(list(changes), field="changes")
    for path in removed:
        if merged.pop(path, None) is None:
            raise InvalidArgument(f"removed path {limits.preview(path, 200)} is not in the base snapshot")
    changed: dict[str, Entry] = {}
    for e in changes:
        _check_entry(e)
        if e.path in changed:
            raise InvalidArgument(f"path {e.path!r} appears twice in the changes")
        changed[e.path] = e
    merged.update(changed)
    ordered = limits.MANIFEST_ENTRIES.check(sorted(merged.values()))
    paths = [e.path for e in ordered]
    for e in changed.values():
        _check_ancestors(e.path, lambda p: merged[p].mode if p in merged else None)
        if not stat.S_ISDIR(e.mode):
            below = bisect.bisect_left(paths, e.path + "/")
            if below < len(paths) and paths[below].startswith(e.path + "/"):
                raise InvalidArgument(f"path {paths[below]!r} lies below {file_kind(e.path, e.mode)} {e.path!r}")
    return ordered


@dataclass
class Diff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(old: Iterable[Entry], new: Iterable[Entry]) -> Diff:
    """Paths added, removed, and changed (content, type or mode) from `old` to `new`, each sorted."""
    before = {e.path: e for e in old}
    after = {e.path: e for e in new}
    result = Diff()
    for path in sorted(before.keys() | after.keys()):
        if path not in before:
            result.added.append(path)
        elif path not in after:
            result.removed.append(path)
        elif before[path] != after[path]:
            result.changed.append(path)
    return result


def totals(entries: Iterable[Entry]) -> tuple[int, int]:
    """(number of files and symlinks, their total bytes)."""
    files = size = 0
    for e in entries:
        if e.has_blob:
            files += 1
            size += e.size
    return files, size
