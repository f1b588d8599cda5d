"""The Runs table's columns: the run's own (ID, Name, State, times, …) and the params, metrics and tags a
person chose, each saying what its cells show, what they sort by (numbers as numbers, times as times,
durations in seconds) and which search key sorts by it on the coordinator ("" where only the loaded rows
can be sorted: Duration, Command).

Plain functions of domain values: what the table shows is decided and tested without a widget."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kiln.core.models import RunValues
from kiln.core.overview import NAME_TAG
from kiln.core.runs import Run
from kiln.desktop import times
from kiln.desktop.pages.runs.rows import command_text, duration_s, format_duration, state_text
from kiln.desktop.rows import Row

NAME_COLUMN = f"tags.{NAME_TAG}"

Cell = tuple[str, Any, str]  # what it shows, what it sorts by, what hovering shows ("": its text)


@dataclass(frozen=True)
class RunColumn:
    header: str
    sort_key: str  # the search's sort field for it; "": sorted among the loaded rows only
    cell: Callable[[Run, RunValues, float], Cell]  # (run, its values, now)


def _time(ts: float, now: float) -> Cell:
    """ "5 min ago", with the exact local time and zone on hover."""
    return times.ago(ts, now), ts or None, times.exact(ts)


def _duration(run: Run, now: float) -> Cell:
    seconds = duration_s(run, now)
    return format_duration(seconds), seconds, ""


def value_text(value: str | float | None) -> str:
    """A param, tag or last metric value as a cell shows it: metrics to 6 significant digits."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.6g}"
    return value


def _value(column: str) -> Callable[[Run, RunValues, float], Cell]:
    def cell(_run: Run, values: RunValues, _now: float) -> Cell:
        value = values.get(column)
        exact = repr(value) if isinstance(value, float) else ""
        return value_text(value), value, exact

    return cell


HEAD = (
    RunColumn("ID", "id", lambda r, v, n: (r.id, r.id, "")),
    RunColumn("Name", NAME_COLUMN, _value(NAME_COLUMN)),
    RunColumn("State", "state", lambda r, v, n: (state_text(r), str(r.state), "")),
    RunColumn("Created", "created_at", lambda r, v, n: _time(r.created_at, n)),
    RunColumn("Started", "started_at", lambda r, v, n: _time(r.started_at, n)),
    RunColumn("Duration", "", lambda r, v, n: _duration(r, n)),
    RunColumn("Node", "node", lambda r, v, n: (r.node, r.node, "")),
    RunColumn("User", "user", lambda r, v, n: (r.user, r.user, "")),
)
TAIL = (RunColumn("Command", "", lambda r, v, n: (command_text(r), command_text(r), "")),)
STATE = 2  # HEAD's index of the state (drawn as a coloured chip)
CREATED = 3


def run_columns(chosen: Sequence[str]) -> list[RunColumn]:
    """The run's own columns, then the chosen params.NAME / metrics.NAME / tags.NAME, then the command."""
    return [*HEAD, *(RunColumn(c, c, _value(c)) for c in chosen), *TAIL]


def asked_columns(chosen: Sequence[str]) -> list[str]:
    """What a search asks values of: the name tag and each chosen column."""
    return list(dict.fromkeys([NAME_COLUMN, *chosen]))


def chosen_of(columns: Sequence[str]) -> list[str]:
    """The chosen columns among a search's (the name tag is always asked, shown as Name)."""
    return [c for c in dict.fromkeys(columns) if c != NAME_COLUMN]


def run_row(run: Run, values: RunValues, columns: Sequence[RunColumn], now: float) -> Row:
    """A run's row, keyed by its id."""
    cells = [column.cell(run, values, now) for column in columns]
    return Row(tuple(c[0] for c in cells), run.id, tips=tuple(c[2] for c in cells), sort=tuple(c[1] for c in cells))


def run_rows(items: Sequence[tuple[Run, RunValues]], columns: Sequence[RunColumn], now: float) -> list[Row]:
    """One row per run, in the order given."""
    return [run_row(run, values, columns, now) for run, values in items]


class RowCache:
    """The rows of thousands of runs, each built again only when its run changed or its relative times
    or duration may read differently: a refresh every few seconds then costs the few runs that move, not
    thousands of rows (a run going on: every time; made within the hour: every time, as "5 min ago"
    changes; within the day: each minute; older: each ten minutes, "yesterday" turning "2 days ago")."""

    def __init__(self, columns: Sequence[RunColumn]) -> None:
        self.columns = list(columns)
        self.kept: dict[str, tuple[tuple[Run, RunValues], float, Row]] = {}  # id -> (item, good until, row)

    def rows(self, items: Sequence[tuple[Run, RunValues]], now: float) -> list[Row]:
        kept: dict[str, tuple[tuple[Run, RunValues], float, Row]] = {}
        rows = []
        for item in items:
            run = item[0]
            hit = self.kept.get(run.id)
            if hit is None or hit[1] <= now or hit[0] != item:
                hit = (item, now + _unchanged_for(run, now), run_row(*item, self.columns, now))
            kept[run.id] = hit
            rows.append(hit[2])
        self.kept = kept
        return rows


def _unchanged_for(run: Run, now: float) -> float:
    """How long a run's row reads the same (0: build it every time). Each run's moment is its own (a few
    seconds apart), so the rows of runs made together are not all built again in one refresh."""
    age = now - max(run.created_at, run.started_at)
    if not run.state.terminal or age < 3600:
        return 0.0
    spread = zlib.crc32(run.id.encode()) % 30
    return 60.0 + spread if age < 86400 else 600.0 + spread


def search_sort(columns: Sequence[RunColumn], column: int, descending: bool) -> str:
    """The search's sort for the table sorted by `column` ("" for none, or one the search cannot sort)."""
    if not 0 <= column < len(columns) or not columns[column].sort_key:
        return ""
    return ("-" if descending else "") + columns[column].sort_key
