"""Domain values turned into the rows the tables show: plain data, so what a page displays is decided (and
tested) without a widget in sight."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.core.manifest import Diff, Entry
from kiln.core.models import Project, Snapshot
from kiln.core.overview import ProjectSummary
from kiln.core.permissions import Role
from kiln.core.runs import RunState
from kiln.core.units import format_bytes
from kiln.desktop import times

PROJECT_HEADERS = ("Name", "Your role", "Members", "Runs", "Last activity", "Created", "Description")
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
    tips: tuple[str, ...] = ()  # per cell, what hovering shows ("" or missing: the cell's own text)
    # per cell, what a sortable table orders it by (seconds, a timestamp, a float; None: empty, sorted
    # last); missing: the cell's text, read as a number where it is one (kiln.desktop.widgets.common)
    sort: tuple[Any, ...] = ()

    def tip(self, column: int) -> str:
        """What hovering over a cell shows: its tip (the exact time behind "3 min ago"), else its text."""
        return (self.tips[column] if column < len(self.tips) else "") or self.cells[column]


def when(ts: float) -> str:
    """A timestamp as people read it in a table: to the minute, local time (kiln.desktop.times)."""
    return times.local(ts)


def when_s(ts: float) -> str:
    """To the second: state changes of a short run happen within the same minute."""
    return times.local_s(ts)


def zoned(header: str, ts: float | None = None) -> str:
    """A column header naming the zone its times are in: "Time (CET)"."""
    return f"{header} ({times.zone(ts)})"


def with_zone(headers: Sequence[str], timed: str = "Time") -> tuple[str, ...]:
    """`headers` with the zone named over the column of local times: ("Time", "By") -> ("Time (CET)", "By")."""
    return tuple(zoned(h) if h == timed else h for h in headers)


def ago(ts: float, now: float) -> tuple[str, str]:
    """(cell, tip) for a time in a list, where recency is what is scanned for: "3 min ago", and the exact
    local time with its zone on hover ("", "" for no time)."""
    return times.ago(ts, now), times.exact(ts)


def ordered_states(runs_by_state: Mapping[str, int]) -> list[tuple[str, int]]:
    """(state, runs) in the order a run goes through them: queued … succeeded, failed, cancelled, lost."""
    order = [str(s) for s in RunState]
    return sorted(runs_by_state.items(), key=lambda item: (order.index(item[0]) if item[0] in order else 99, item[0]))


def runs_text(summary: ProjectSummary | None) -> str:
    """A project's runs in one line: "14 runs: 2 running, 11 succeeded, 1 failed" ("" before it is known)."""
    if summary is None:
        return ""
    if not summary.runs:
        return "no runs yet"
    states = ", ".join(f"{n} {state}" for state, n in ordered_states(summary.runs_by_state))
    return f"{summary.runs} run{'s' if summary.runs != 1 else ''}: {states}"


def project_rows(
    projects: Iterable[Project],
    is_admin: bool = False,
    summaries: Mapping[str, ProjectSummary] | None = None,
    now: float | None = None,
) -> list[Row]:
    """One line a project: its runs and latest activity once `summaries` has it, times relative to `now`."""
    now = time.time() if now is None else now
    summaries = summaries or {}
    rows = []
    for p in sorted(projects, key=lambda p: p.name):
        role = p.my_role or ("admin" if is_admin else "")
        summary = summaries.get(p.name)
        active = summary.last_activity if summary else 0.0
        (active_text, active_tip) = ago(active, now) if active else ("nothing yet" if summary else "", "")
        created, created_tip = ago(p.created_at, now)
        cells = (p.name, role, str(len(p.members)), runs_text(summary), active_text, created, p.description)
        tips = ("", "", "", "", active_tip, created_tip, "")
        runs = summary.runs if summary else None
        sort = (p.name, role, len(p.members), runs, active or None, p.created_at, p.description)
        rows.append(Row(cells, p.name, tips=tips, sort=sort))
    return rows


def member_rows(project: Project) -> list[Row]:
    ordered = sorted(project.members.items(), key=lambda item: (-int(item[1]), item[0]))
    return [Row((user, str(Role(role))), user) for user, role in ordered]


def snapshot_rows(snapshots: Iterable[Snapshot], now: float | None = None) -> list[Row]:
    """Newest first; "Created" relative to `now`, the exact time and the full id on hover."""
    now = time.time() if now is None else now
    rows = []
    for s in sorted(snapshots, key=lambda s: s.created_at, reverse=True):
        created, exact = ago(s.created_at, now)
        cells = (s.id[:12], created, s.author, str(s.files), format_bytes(s.bytes), s.message)
        sort = (s.id, s.created_at, s.author, s.files, s.bytes, s.message)
        rows.append(Row(cells, s.id, tips=(s.id, exact), sort=sort))
    return rows


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
    return [Row((CHANGE_WORDS[mark], path), (mark, path)) for mark, path in sorted(marked, key=lambda m: m[1])]


def change_summary(d: Diff) -> str:
    if d.is_empty():
        return "no changes"
    return f"{len(d.added)} added, {len(d.changed)} modified, {len(d.removed)} deleted"
