"""The axes of the parallel-coordinates view, as plain data: one per param that differs between the runs
and one per chosen metric (its last value). A param whose every value is a number gets a numeric axis
scaled to the runs' values; any other is categorical, its values evenly spaced in order. Each axis places
a run at a height from 0 (bottom) to 1 (top), or nowhere when the run has no value for it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kiln.core.compare import Field, MetricComparison, param_fields
from kiln.core.models import RunRecord
from kiln.desktop.pages.run.recordrows import number

MAX_VALUE_TICKS = 6  # up to this many runs' values are marked on a numeric axis; beyond, its ends only
# A colour ramp for the colour-by metric, low to high (viridis' ends and middle: readable for most eyes).
RAMP = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))


@dataclass(frozen=True)
class Axis:
    name: str
    kind: str  # "param" or "metric"
    values: tuple[float | str | None, ...]  # per run; None where a run has no value
    categories: tuple[str, ...] = ()  # a categorical axis' values, bottom to top; () for a numeric one
    low: float = 0.0
    high: float = 1.0

    @property
    def numeric(self) -> bool:
        return not self.categories

    def position(self, run: int) -> float | None:
        value = self.values[run]
        if value is None:
            return None
        if isinstance(value, str):
            return self._spaced(self.categories.index(value))
        return 0.5 if self.high == self.low else (value - self.low) / (self.high - self.low)

    def ticks(self) -> list[tuple[float, str]]:
        """(height, label) along the axis: every category; each run's value, or with many runs the ends."""
        if self.categories:
            return [(self._spaced(i), c) for i, c in enumerate(self.categories)]
        if self.high == self.low:
            return [(0.5, number(self.low))]
        shown = sorted({float(v) for v in self.values if v is not None and not isinstance(v, str)})
        if len(shown) > MAX_VALUE_TICKS:
            shown = [self.low, self.high]
        return [((v - self.low) / (self.high - self.low), number(v)) for v in shown]

    def _spaced(self, category: int) -> float:
        n = len(self.categories)
        return 0.5 if n == 1 else category / (n - 1)

    def value_text(self, run: int) -> str:
        value = self.values[run]
        return "—" if value is None else value if isinstance(value, str) else number(value)


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _sort_key(text: str) -> tuple[int, float, str]:
    value = _as_number(text)
    return (0, value, text) if value is not None else (1, 0.0, text.lower())


def param_axis(f: Field) -> Axis:
    present = [v for v in f.values if v is not None]
    numbers = [_as_number(v) for v in present]
    if present and all(n is not None for n in numbers):
        found = [n for n in numbers if n is not None]
        values = tuple(None if v is None else _as_number(v) for v in f.values)
        return Axis(f.name, "param", values, (), min(found), max(found))
    categories = tuple(sorted(set(present), key=_sort_key))
    return Axis(f.name, "param", f.values, categories)


def metric_axis(c: MetricComparison) -> Axis:
    values = tuple(v if v is not None and math.isfinite(v) else None for v in c.lasts())
    found = [v for v in values if v is not None]
    return Axis(c.key, "metric", values, (), min(found, default=0.0), max(found, default=1.0))


def parallel_axes(records: Sequence[RunRecord], metrics: Sequence[MetricComparison]) -> list[Axis]:
    """The params that differ (in key order), then the given metrics."""
    return [param_axis(f) for f in param_fields(records) if f.differs] + [metric_axis(c) for c in metrics]


def ramp(fraction: float) -> tuple[int, int, int]:
    """The colour at `fraction` (0: lowest, 1: highest) along the ramp."""
    at = min(1.0, max(0.0, fraction)) * (len(RAMP) - 1)
    i = min(int(at), len(RAMP) - 2)
    t = at - i
    a, b = RAMP[i], RAMP[i + 1]
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))
