"""A project at a glance, as its overview shows it: how its runs went (counts by state), when anything last
happened in it, the storage it holds, its members, and its best run by one metric.

The best run is chosen by a metric and the way it gets better: asked for, or the metric most of the
project's succeeded runs logged, with the direction its name implies (`direction_of`). When no direction
can be told (a metric named "throughput" may go either way), the overview names the latest succeeded run
instead, and says so (`BestRun.metric` is then ""), rather than calling an arbitrary run the best.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiln.core.errors import InvalidArgument
from kiln.core.metrics import better

DIRECTIONS = ("min", "max")
NAME_TAG = "name"  # the tag a run is known by to people: kiln.track.set_tag("name", "baseline")


@dataclass(frozen=True)
class BestRun:
    """The run the overview names: the best by `metric` (its last value), or, with `metric` "", the latest
    succeeded run."""

    run_id: str
    name: str = ""  # the run's "name" tag, if it set one
    metric: str = ""
    direction: str = ""  # "min" or "max" with a metric
    value: float | None = None
    finished_at: float = 0.0


@dataclass(frozen=True)
class ProjectSummary:
    project: str
    runs_by_state: dict[str, int] = field(default_factory=dict)
    last_activity: float = 0.0  # the latest run submission, start or end, push, dataset or model version, comment
    storage_bytes: int = 0  # the distinct blobs the project holds (its snapshots' files, outputs included)
    storage_blobs: int = 0
    members: int = 0
    best: BestRun | None = None

    @property
    def runs(self) -> int:
        return sum(self.runs_by_state.values())


def check_direction(direction: str) -> str:
    if direction not in ("", *DIRECTIONS):
        raise InvalidArgument(f"direction {direction[:20]!r}: use min, max, or nothing (from the metric's name)")
    return direction


def direction_of(metric: str) -> str:
    """ "min", "max", or "" where the metric's name says neither (kiln.core.metrics.better, the one rule)."""
    return better(metric) or ""
