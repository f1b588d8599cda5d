"""Snapshot manifests: the sorted (path, mode, size, digest) list whose own digest is the snapshot id."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass, field

from kiln.core.errors import InvalidArgument
from kiln.core.hashing import canonical_json, is_digest, sha256_bytes
from kiln.core.paths import check_relpath, file_kind

DIR_MODE = stat.S_IFDIR | 0o755


@dataclass(frozen=True, order=True)
class Entry:
    """One path in a snapshot. A symlink's blob holds its target; a directory has no blob."""

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


def manifest_id(entries: Iterable[Entry]) -> str:
    """The snapshot id: SHA-256 of the canonical JSON of the sorted entries."""
    rows = sorted((e.path, e.mode, e.size, e.digest) for e in entries)
    return sha256_bytes(canonical_json(rows))


def validate(entries: Iterable[Entry]) -> list[Entry]:
    """The entries sorted by path, or InvalidArgument naming the first unsafe or inconsistent one.

    Checks every path, refuses devices, duplicates, and any path below a file or symlink (which a pull
    could otherwise be tricked into writing through). Symlink targets are checked where the blobs are read.
    """
    ordered = sorted(entries, key=lambda e: e.path)
    kinds: dict[str, str] = {}
    for e in ordered:
        check_relpath(e.path)
        kind = file_kind(e.path, e.mode)
        if e.path in kinds:
            raise InvalidArgument(f"path {e.path!r} appears twice in the manifest")
        if kind == "dir":
            if e.size or e.digest:
                raise InvalidArgument(f"directory {e.path!r} cannot carry a size or digest")
        elif not is_digest(e.digest):
            raise InvalidArgument(f"path {e.path!r} has an invalid digest {e.digest[:80]!r}")
        parent = e.path.rpartition("/")[0]
        while parent:
            if kinds.get(parent, "dir") != "dir":
                raise InvalidArgument(f"path {e.path!r} lies below {kinds[parent]} {parent!r}")
            parent = parent.rpartition("/")[0]
        kinds[e.path] = kind
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
