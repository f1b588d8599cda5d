"""The arithmetic behind a chart, without Qt: axis ranges bound to the data, tick positions and their
labels (numbers, clock times with their zone in the axis title, durations), TensorBoard's smoothing, and
downsampling a long line.

Ranges follow what the data can be: a metric that is never negative never gets an axis below 0, one
that lives in [0, 1] (AUC, accuracy) never an axis above 1, and the x axis starts at the first point and
ends at the last one (2,085 steps end at 2,085; ticks are nice numbers inside the range, the range itself
is not rounded outwards)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from kiln.desktop import times

MARGIN = 0.05  # of the data's span, above and below the values
TICKS = 5  # about this many ticks an axis
NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
DURATIONS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def y_range(values: Sequence[float]) -> tuple[float, float]:
    """Data min to max with a small margin; not below 0 for data ≥ 0, not above 1 for data in [0, 1]."""
    data = finite(values)
    if not data:
        return 0.0, 1.0
    low, high = min(data), max(data)
    span = high - low
    pad = span * MARGIN if span > 0 else (abs(high) * MARGIN or 0.5)
    lo, hi = low - pad, high + pad
    if low >= 0 and lo < 0:
        lo = 0.0
    if low >= 0 and high <= 1 and hi > 1:
        hi = 1.0
    return lo, hi


def log_range(values: Sequence[float]) -> tuple[float, float]:
    """The same idea on a log scale (values > 0 only): a small margin in decades."""
    data = [v for v in finite(values) if v > 0]
    if not data:
        return 1.0, 10.0
    low, high = math.log10(min(data)), math.log10(max(data))
    pad = (high - low) * MARGIN if high > low else 0.05
    return 10 ** (low - pad), 10 ** (high + pad)


def x_range(values: Sequence[float]) -> tuple[float, float]:
    """First point to last point exactly; a single point gets a unit either side (not below 0)."""
    data = finite(values)
    if not data:
        return 0.0, 1.0
    low, high = min(data), max(data)
    if high > low:
        return low, high
    return (max(0.0, low - 1.0) if low >= 0 else low - 1.0), high + 1.0


def nice_step(span: float, count: int = TICKS) -> float:
    """The tick spacing of 1, 2, 2.5 or 5 times a power of ten that gives nearest `count` ticks over
    `span` (2.5 wide: every 0.5, not every 1)."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    power = 10 ** math.floor(math.log10(span / count))
    return min((n * power for n in NICE), key=lambda step: abs(span / step - count))


def ticks(low: float, high: float, count: int = TICKS, whole: bool = False) -> list[float]:
    """Nice tick positions inside [low, high] (never outside it); whole numbers only when `whole`."""
    step = nice_step(high - low, count)
    if whole:
        step = max(1.0, math.ceil(step))
    first = math.ceil(low / step - 1e-9) * step
    out, i = [], 0
    while first + i * step <= high + step * 1e-9 and i < 100:
        out.append(round(first + i * step, 12))
        i += 1
    return out


def log_ticks(low: float, high: float) -> list[float]:
    """Decades inside the range; 2 and 5 times them too when it spans few decades; plain nice numbers
    when it spans less than that (0.9 to 0.98 on a log scale is still read at 0.90, 0.92…)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    mults = (1.0,) if math.log10(high / low) > 3 else (1.0, 2.0, 5.0)
    out = [m * 10.0**e for e in range(first, last + 1) for m in mults]
    inside = [t for t in out if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]
    return inside if len(inside) >= 2 else ticks(low, high)


def duration_ticks(low: float, high: float, count: int = TICKS) -> list[float]:
    """Ticks at round durations (10 s, 5 min, 1 h…) inside [low, high], in seconds."""
    raw = (high - low) / count
    step = next((float(d) for d in DURATIONS if d >= raw), math.ceil(raw / 86400) * 86400.0)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) // step) + 1)]


def wall_ticks(low: float, high: float, count: int = TICKS) -> list[float]:
    """Clock-time ticks at round local times (every 5 min at 10:05, 10:10…), in seconds since epoch."""
    offset = time.localtime(low).tm_gmtoff if math.isfinite(low) else 0
    return [t - offset for t in duration_ticks(low + offset, high + offset, count)]


def number_label(value: float, step: float) -> str:
    """A tick label with as many digits as the spacing needs: 0.92, 0.925, 1,000, 2e-05."""
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-4:
        return f"{value:.3g}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    while step > 0 and decimals < 8 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1  # 0.025 apart: 0.025, 0.050, not 0.03, 0.05
    return f"{value:,.{min(decimals, 8)}f}"


def duration_label(seconds: float) -> str:
    """A relative-time tick label: 0, 45s, 5m, 1h30m, 2d."""
    s = int(round(seconds))
    if s == 0:
        return "0"
    days, rest = divmod(abs(s), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return ("-" if s < 0 else "") + text


def wall_label(ts: float, span: float) -> str:
    """A clock-time tick label: HH:MM (seconds when the axis spans under 2 minutes, the date past a day)."""
    moment = time.localtime(ts)
    if span > 86400:
        return time.strftime("%d %b %H:%M", moment)
    return time.strftime("%H:%M:%S" if span < 120 else "%H:%M", moment)


def wall_title(title: str, low: float, high: float) -> str:
    """The wall-time axis' title with the zone of its (local) tick labels, named once rather than on every
    tick: "wall time (CET)"; both where the axis spans a change of zone: "wall time (CET/CEST)"."""
    zones = dict.fromkeys(times.zone(t) for t in (low, high) if math.isfinite(t))
    return f"{title} ({'/'.join(zones)})" if zones else title


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the start is not pulled to 0.
    Non-finite values pass through unsmoothed and leave the average alone."""
    if weight <= 0:
        return list(values)
    out, last, n = [], 0.0, 0
    for value in values:
        if not math.isfinite(value):
            out.append(value)
            continue
        last = last * weight + (1 - weight) * value
        n += 1
        out.append(last / (1 - weight**n))
    return out


def downsample(xs: Sequence[float], bound: int) -> list[int]:
    """Indices of at most `bound` points spread evenly along x (the first point of each of `bound - 1`
    equal stretches, and the last point), for a line that grew past what a chart needs. Even in x, not in
    index: a line read downsampled and then grown by raw points keeps its old part as dense as its new."""
    n = len(xs)
    if n <= bound or bound < 2:
        return list(range(n))
    low, high = xs[0], xs[-1]
    if not high > low:
        return sorted({round(i * (n - 1) / (bound - 1)) for i in range(bound)})
    width = (high - low) / (bound - 1)
    keep: list[int] = []
    last = -1
    for i, x in enumerate(xs[:-1]):
        stretch = int((x - low) / width)
        if stretch != last:
            keep.append(i)
            last = stretch
    return keep[: bound - 1] + [n - 1]
