"""A run's metric histories as the run page holds them between reads, so a live run costs only its new
points: the first read is whole (downsampled by the coordinator), each later one asks per key for the
points after the last step held (`after_steps`) and appends them.

The coordinator answers every read with the key's total, so a gap is seen rather than drawn over: if the
points held plus the points appended do not add up to it (points logged at earlier steps, or more new
points than one read carries), the key is read whole next time. A key grown past `bound` points is
downsampled here, evenly along the steps, as the coordinator would have. Plain data, no Qt."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kiln.core import limits
from kiln.core.metrics import Direction, better
from kiln.core.models import MetricSeries
from kiln.desktop.widgets.chart import Line
from kiln.desktop.widgets.chartscale import downsample


@dataclass
class KeyHistory:
    """What the page holds of one metric: points in step order and what they stand for."""

    key: str
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    total: int = 0  # points the coordinator holds for the key, as of the last read
    known: int = 0  # of those, the points the held ones stand for (whole read's total + appended since)
    lowest: tuple[int, float] | None = None  # (earliest step, value) over every point
    highest: tuple[int, float] | None = None

    @property
    def in_step(self) -> bool:
        """Whether a read of only the newer points can bring it up to date."""
        return bool(self.steps) and self.known == self.total

    @property
    def downsampled(self) -> bool:
        return len(self.steps) < self.total

    def line(self) -> Line:
        return Line(self.key, self.steps, self.values, self.times)

    def best(self) -> tuple[Direction | None, tuple[int, float] | None]:
        """Which way the metric gets better (from its name), and where its best value is."""
        direction = better(self.key)
        if direction is None:
            return None, None
        return direction, self.lowest if direction == "min" else self.highest


class MetricHistory:
    """Every metric of one run, kept up to date read by read."""

    def __init__(self, bound: int) -> None:
        self.bound = bound  # points per key beyond which the held line is downsampled again
        self.keys: dict[str, KeyHistory] = {}

    def after_steps(self) -> dict[str, int]:
        """What the next read asks for: per key held in step, the last step held (a read names at most
        as many keys as the coordinator takes; any others come whole)."""
        found = {k: h.steps[-1] for k, h in sorted(self.keys.items()) if h.in_step}
        return dict(list(found.items())[: limits.METRIC_KEYS.most])

    def apply(self, series: Iterable[MetricSeries]) -> list[str]:
        """Takes one read's answer; returns the keys whose lines changed."""
        changed = []
        for s in series:
            held = self.keys.get(s.key)
            if s.after_step is None or held is None:
                self.keys[s.key] = whole(s)
                changed.append(s.key)
            elif self._append(held, s):
                changed.append(s.key)
        return changed

    def _append(self, held: KeyHistory, s: MetricSeries) -> bool:
        last = held.steps[-1] if held.steps else None
        new = [p for p in s.points if last is None or p[0] > last]
        if s.after_step == last:
            held.known += len(s.points)
        else:  # an answer to a question about another step (the key was re-read meanwhile): re-read
            held.known = -1
        held.total = s.total_points
        for step, value, ts in new:
            held.steps.append(step)
            held.values.append(value)
            held.times.append(ts)
            held.lowest, held.highest = extremes(held.lowest, held.highest, step, value)
        if len(held.steps) > self.bound:
            keep = downsample(held.steps, self.bound // 2)
            held.steps = [held.steps[i] for i in keep]
            held.values = [held.values[i] for i in keep]
            held.times = [held.times[i] for i in keep]
        return bool(new)


def whole(s: MetricSeries) -> KeyHistory:
    points = sorted(s.points)
    return KeyHistory(
        s.key,
        [p[0] for p in points],
        [p[1] for p in points],
        [p[2] for p in points],
        s.total_points,
        s.total_points,
        s.lowest,
        s.highest,
    )


def extremes(
    low: tuple[int, float] | None, high: tuple[int, float] | None, step: int, value: float
) -> tuple[tuple[int, float] | None, tuple[int, float] | None]:
    """The lowest and highest so far after one more point (ties keep the earlier step)."""
    if not math.isfinite(value):
        return low, high
    if low is None or value < low[1]:
        low = (step, value)
    if high is None or value > high[1]:
        high = (step, value)
    return low, high


def shown_keys(keys: Sequence[str], chosen: set[str] | None) -> list[str]:
    """The keys to chart: those chosen (all when nothing was chosen yet), in key order."""
    return [k for k in sorted(keys) if chosen is None or k in chosen]
