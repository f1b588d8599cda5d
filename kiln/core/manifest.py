"""Snapshot manifests: the sorted (path, mode, size, digest) list whose own digest is the snapshot id."""

from __future__ import annotations

import bisect
import re
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
    sorted; only what changed is checked (Manifest.changed)."""
    return Manifest(sorted(base)).changed(changes, removed).entries


# Paths whose canonical JSON is the path itself between quotes: no quote, backslash, control character or
# lone surrogate (which json.dumps would escape, or which cannot be encoded).
_NEEDS_JSON = re.compile(r'[\\"\x00-\x1f\ud800-\udfff]')
# Above this many changes, a new manifest is merged in one pass rather than spliced entry by entry.
SPLICE_MOST = 256


def entry_json(e: Entry) -> str:
    """One entry's part of the canonical manifest, the same text canonical_json gives, made without the
    json module for the usual path (a tenth of the time, on a manifest of 100,000 entries)."""
    if _NEEDS_JSON.search(e.path) is None and type(e.mode) is int and type(e.size) is int:
        return f'["{e.path}",{e.mode},{e.size},"{e.digest}"]'
    return canonical_json(list(e)).decode()


class Manifest:
    """A validated manifest, sorted, with each entry's canonical JSON kept: a manifest described as changes
    to it is checked, built and hashed at a cost that grows with the changes (and a join and a hash of its
    bytes, in C), not with its size. The coordinator keeps the forms of the last snapshots it read or
    recorded, so the next push of a folder, described as changes to its last snapshot, costs that."""

    def __init__(self, ordered: list[Entry], paths: list[str] | None = None, parts: list[str] | None = None) -> None:
        self.entries = ordered  # sorted by path, validated
        self._paths, self._parts = paths, parts

    @property
    def paths(self) -> list[str]:
        if self._paths is None:
            self._paths = [e.path for e in self.entries]
        return self._paths

    @property
    def parts(self) -> list[str]:
        if self._parts is None:
            self._parts = [entry_json(e) for e in self.entries]
        return self._parts

    def body(self) -> bytes:
        """The canonical manifest: the bytes canonical_manifest gives for the same entries."""
        return ("[" + ",".join(self.parts) + "]").encode()

    def mode_of(self, path: str) -> int | None:
        i = bisect.bisect_left(self.paths, path)
        return self.entries[i].mode if i < len(self.paths) and self.paths[i] == path else None

    def changed(self, changes: Iterable[Entry], removed: Iterable[str]) -> Manifest:
        """This manifest with `changes` (new or replaced entries) applied and `removed` paths gone; only what
        changed is checked: the paths, duplicates, nothing left below a new file or link, nothing new below
        one, and the manifest's size."""
        changes = limits.MANIFEST_ENTRIES.check(list(changes), field="changes")
        removed = list(removed)
        changed: dict[str, Entry] = {}
        for e in changes:
            _check_entry(e)
            if e.path in changed:
                raise InvalidArgument(f"path {e.path!r} appears twice in the changes")
            changed[e.path] = e
        if len(changed) + len(removed) > SPLICE_MOST:
            new = self._merged(changed, removed)
        else:
            new = self._spliced(changed, removed)
        limits.MANIFEST_ENTRIES.check(new.entries)
        paths = new.paths
        for e in changed.values():
            _check_ancestors(e.path, new.mode_of)
            if not stat.S_ISDIR(e.mode):
                below = bisect.bisect_left(paths, e.path + "/")
                if below < len(paths) and paths[below].startswith(e.path + "/"):
                    raise InvalidArgument(f"path {paths[below]!r} lies below {file_kind(e.path, e.mode)} {e.path!r}")
        return new

    def _spliced(self, changed: dict[str, Entry], removed: list[str]) -> Manifest:
        """A copy with a few entries deleted, replaced or inserted in place (each a move of pointers)."""
        entries, paths, parts = list(self.entries), list(self.paths), list(self.parts)
        for path in removed:
            i = bisect.bisect_left(paths, path)
            if i == len(paths) or paths[i] != path:
                raise InvalidArgument(f"removed path {limits.preview(path, 200)} is not in the base snapshot")
            del entries[i], paths[i], parts[i]
        for path, e in changed.items():
            i = bisect.bisect_left(paths, path)
            if i < len(paths) and paths[i] == path:
                entries[i], parts[i] = e, entry_json(e)
            else:
                entries.insert(i, e)
                paths.insert(i, path)
                parts.insert(i, entry_json(e))
        return Manifest(entries, paths, parts)

    def _merged(self, changed: dict[str, Entry], removed: list[str]) -> Manifest:
        """The same as _spliced for many changes: one pass over the base, then one sort."""
        gone = set()
        for path in removed:
            if path in gone or self.mode_of(path) is None:
                raise InvalidArgument(f"removed path {limits.preview(path, 200)} is not in the base snapshot")
            gone.add(path)
        kept = [
            (p, e, j)
            for p, e, j in zip(self.paths, self.entries, self.parts, strict=True)
            if p not in gone and p not in changed
        ]
        kept += [(p, e, entry_json(e)) for p, e in changed.items()]
        kept.sort(key=lambda row: row[0])
        return Manifest([r[1] for r in kept], [r[0] for r in kept], [r[2] for r in kept])


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
