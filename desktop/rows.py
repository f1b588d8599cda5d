"""Domain values turned into the rows the tables show: plain data, so what a page displays is decided (and
tested) without a widget in sight."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kiln.core.manifest import Diff, Entry
from kiln.core.models import Project, Snapshot
from kiln.core.permissions import Role
from kiln.core.units import format_bytes
from kiln.desktop import times

PROJECT_HEADERS = ("Name", "Your role", "Members", "Created", "Description")
MEMBER_HEADERS = ("User", "Role")
SNAPSHOT_HEADERS = ("ID", "Created", "Author", "Files", "Size", "Message")
ENTRY_HEADERS = ("Path", "Kind", "Mode", "Size")
CHANGE_HEADERS = ("Change", "Path")
CHANGE_WORDS = {"A": "added", "M": "modified", "D": "deleted"}


@dataclass(frozen=True)
class Row:
    """What one table line shows, and the value it stands for (handed back on selection)."""

    cells: tuple[str, ...]
    key: Any = None
    marked: bool = False  # drawn highlighted: e.g. a compared field whose values differ


def when(ts: float) -> str:
    """A timestamp as people read it in a table: to the minute, local time (kiln.desktop.times)."""
    return times.local(ts)


def when_s(ts: float) -> str:
    """To the second: state changes of a short run happen within the same minute."""
    return times.local_s(ts)


def project_rows(projects: Iterable[Project], is_admin: bool = False) -> list[Row]:
    rows = []
    for p in sorted(projects, key=lambda p: p.name):
        role = p.my_role or ("admin" if is_admin else "")
        rows.append(Row((p.name, role, str(len(p.members)), when(p.created_at), p.description), p.name))
    return rows


def member_rows(project: Project) -> list[Row]:
    ordered = sorted(project.members.items(), key=lambda item: (-int(item[1]), item[0]))
    return [Row((user, str(Role(role))), user) for user, role in ordered]


def snapshot_rows(snapshots: Iterable[Snapshot]) -> list[Row]:
    ordered = sorted(snapshots, key=lambda s: s.created_at, reverse=True)
    return [
        Row((s.id[:12], when(s.created_at), s.author, str(s.files), format_bytes(s.bytes), s.message), s.id)
        for s in ordered
    ]


def entry_rows(entries: Iterable[Entry]) -> list[Row]:
    return [
        Row(
            (e.path, e.kind, oct(stat.S_IMODE(e.mode))[2:], format_bytes(e.size) if e.has_blob else ""),
            e.path,
        )
        for e in sorted(entries)
    ]


def change_rows(d: Diff) -> list[Row]:
    """Added, modified and deleted paths, in path order, as `kiln diff` lists them (A/M/D)."""
    marked = [("A", p) for p in d.added] + [("M", p) for p in d.changed] + [("D", p) for p in d.removed]
    return [
        Row((CHANGE_WORDS[mark], path), (mark, path)) for mark, path in sorted(marked, key=lambda m: m[1])
    ]


def change_summary(d: Diff) -> str:
    if d.is_empty():
        return "no changes"
    return f"{len(d.added)} added, {len(d.changed)} modified, {len(d.removed)} deleted"
