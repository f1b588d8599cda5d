"""The folder as it was last scanned: each path's (mode, size, mtime_ns, inode, digest), and the id of the
manifest that state makes. Unchanged files are not read again, an unchanged folder is recognised without
building its manifest, and a changed one can be described to the coordinator as changes to that state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kiln.core.atomic import atomic_write
from kiln.core.hashing import sha256_bytes

# A file modified this close to the scan may change again within the clock's resolution without its
# mtime moving; such entries keep their digest for the manifest but are read again next time (git's
# "racily clean" rule). Far above ext4's ~4 ms timestamp tick.
RACY_WINDOW_NS = 1_000_000_000
UNTRUSTED = -1

State = dict[str, list[int | str]]  # rel -> [mode, size, mtime_ns, inode, digest]; dirs: [mode, 0, 0, 0, ""]


@dataclass
class StatCache:
    path: Path
    state: State = field(default_factory=dict)
    state_id: str = ""  # manifest id of `state`, once the coordinator has confirmed it
    last_snapshot: dict[str, str] = field(default_factory=dict)  # project -> snapshot id pushed from here
    dirty: bool = False

    @classmethod
    def for_folder(cls, cache_dir: Path, root: Path) -> StatCache:
        path = cache_dir / f"{sha256_bytes(str(root.resolve()).encode())[:24]}.json"
        try:
            data = json.loads(path.read_text())
            return cls(path, data["state"], data["state_id"], data["last_snapshot"])
        except (OSError, ValueError, KeyError):
            return cls(path)

    def replace(self, state: State, scan_started_ns: int, same_manifest: bool) -> None:
        """Takes a new scan's state; entries modified too close to the scan will be read again. The
        confirmed manifest id stays only if the manifest is the same (just stat keys moved)."""
        horizon = scan_started_ns - RACY_WINDOW_NS
        for row in state.values():
            if row[4] and int(row[2]) >= horizon:
                row[2] = UNTRUSTED
        self.state, self.dirty = state, True
        if not same_manifest:
            self.state_id = ""

    def confirm(self, manifest_id: str, project: str) -> None:
        """The coordinator recorded the current state as `manifest_id` in `project`."""
        if self.state_id != manifest_id or self.last_snapshot.get(project) != manifest_id:
            self.state_id = manifest_id
            self.last_snapshot[project] = manifest_id
            self.dirty = True

    def write(self) -> None:
        """Saves the cache if it changed (atomically, but without fsync: losing it costs only re-reading)."""
        if not self.dirty:
            return
        self.dirty = False
        data = {"state": self.state, "state_id": self.state_id, "last_snapshot": self.last_snapshot}
        atomic_write(self.path, json.dumps(data, separators=(",", ":")).encode(), 0o600, durable=False)
