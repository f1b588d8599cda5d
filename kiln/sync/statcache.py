"""Remembers each file's digest by (size, mtime_ns, inode) so unchanged files are not read again."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kiln.core.atomic import atomic_write
from kiln.core.hashing import sha256_bytes

# A file modified this close to the scan may change again within the clock's resolution without its
# mtime moving; such entries are not trusted next time (git's "racily clean" rule).
RACY_WINDOW_NS = 1_000_000_000  # far above ext4's ~4 ms tick; FAT-like 2 s clocks are rare


@dataclass
class StatCache:
    path: Path
    entries: dict[str, list[int | str]] = field(default_factory=dict)  # rel -> [size, mtime_ns, ino, digest]
    last_snapshot: dict[str, str] = field(default_factory=dict)  # project -> snapshot id pushed from here

    @classmethod
    def for_folder(cls, cache_dir: Path, root: Path) -> StatCache:
        path = cache_dir / f"{sha256_bytes(str(root.resolve()).encode())[:24]}.json"
        try:
            data = json.loads(path.read_text())
            return cls(path, data.get("entries", {}), data.get("last_snapshot", {}))
        except (OSError, ValueError):
            return cls(path)

    def lookup(self, rel: str, size: int, mtime_ns: int, ino: int) -> str | None:
        hit = self.entries.get(rel)
        if hit and hit[0] == size and hit[1] == mtime_ns and hit[2] == ino:
            return str(hit[3])
        return None

    def remember(self, found: dict[str, tuple[int, int, int, str]], scan_started_ns: int) -> None:
        """Replaces the entries with this scan's (rel -> size, mtime_ns, inode, digest), minus racy ones."""
        self.entries = {
            rel: [size, mtime, ino, digest]
            for rel, (size, mtime, ino, digest) in found.items()
            if mtime < scan_started_ns - RACY_WINDOW_NS
        }

    def write(self) -> None:
        data = {"entries": self.entries, "last_snapshot": self.last_snapshot}
        atomic_write(self.path, json.dumps(data, separators=(",", ":")).encode(), 0o600)
