"""A line chart people can read: any number of lines overlaid (metric keys of one run, or one metric of
several runs), axes bound to the data (chartscale), hover naming the nearest point's step, value and
time, TensorBoard-style smoothing with the raw line faint behind, a log-y scale, and x as step, wall
time or time since each line's start.

Drawn with QPainter rather than QtCharts: QtCharts' "nice numbers" widen the axes past the data (2,085
steps become 4,000), its log and date-time axes are separate objects to swap in and out per mode, and its
hover and smoothing would be hand-made anyway. Here the whole chart is one widget whose ranges, ticks
and hover text are plain methods the tests read."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kiln.desktop import times
from kiln.desktop.qt import (
    QEvent,
    QFontMetrics,
    QMouseEvent,
    QPaintEvent,
    QPointF,
    QPolygonF,
    QRectF,
    QResizeEvent,
    QSize,
    QWidget,
)
from kiln.desktop.widgets import chartscale as scale
from kiln.desktop.widgets.canvas import hover_moved, paint_safely
from kiln.desktop.widgets.chartpaint import PAD, paint_chart

XMode = Literal["step", "wall", "relative"]
X_MODES: tuple[XMode, ...] = ("step", "wall", "relative")
X_TITLES = {"step": "step", "wall": "wall time", "relative": "time since start"}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
HOVER_PX = 40  # the nearest point is named only when the mouse is this close to it


@dataclass(frozen=True)
class Line:
    """One line: its legend label (a metric key or a run id) and its points in step order."""

    label: str
    steps: Sequence[float]
    values: Sequence[float]
    times: Sequence[float] = ()  # wall-clock seconds since epoch per point, may be empty


@dataclass(frozen=True)
class Placed:
    """A line as drawn in the current mode: finite points only, x per the mode, y raw and smoothed."""

    line: Line
    color: str
    index: list[int]  # into line.steps/values/times
    xs: list[float]
    raw: list[float]
    drawn: list[float]


class Chart(QWidget):
    """One chart, any number of lines overlaid; axes bound to the data; hover; smoothing; log-y; x mode."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = ""
        self._lines: list[Line] = []
        self._smoothing = 0.0
        self._log_y = False
        self._x_mode: XMode = "step"
        self._placed: list[Placed] = []
        self._note = ""
        self._xr, self._yr = (0.0, 1.0), (0.0, 1.0)
        self._log_used = False
        self._hover: tuple[int, int] | None = None  # (placed line, point)
        self._rect: QRectF | None = None
        self._polygons: list[tuple[Placed, QPolygonF | None, QPolygonF]] | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(260, 200)

    # -- data and settings ----------------------------------------------------------------------------

    def set_lines(self, title: str, lines: list[Line]) -> None:
        self._title, self._lines = title, list(lines)
        self._place()

    def lines(self) -> list[Line]:
        return list(self._lines)

    @property
    def smoothing(self) -> float:
        return self._smoothing

    @smoothing.setter
    def smoothing(self, weight: float) -> None:
        self.set_smoothing(weight)

    def set_smoothing(self, weight: float) -> None:
        self._smoothing = min(0.99, max(0.0, float(weight)))
        self._place()

    @property
    def log_y(self) -> bool:
        return self._log_y

    @log_y.setter
    def log_y(self, on: bool) -> None:
        self.set_log_y(on)

    def set_log_y(self, on: bool) -> None:
        self._log_y = bool(on)
        self._place()

    @property
    def x_mode(self) -> XMode:
        return self._x_mode

    @x_mode.setter
    def x_mode(self, mode: XMode) -> None:
        self.set_x_mode(mode)

    def set_x_mode(self, mode: str) -> None:
        self.configure(mode, self._smoothing, self._log_y)

    def configure(self, x_mode: str, smoothing: float, log_y: bool) -> None:
        """All three settings at once (one re-placing of the lines rather than three)."""
        if x_mode not in X_MODES:
            raise ValueError(f"x mode must be one of {', '.join(X_MODES)}, not {x_mode!r}")
        self._x_mode = x_mode  # narrowed by the check just above
        self._smoothing = min(0.99, max(0.0, float(smoothing)))
        self._log_y = bool(log_y)
        self._place()

    # -- what the chart shows (the tests read these) --------------------------------------------------

    def title(self) -> str:
        return self._title

    def x_range(self) -> tuple[float, float]:
        return self._xr

    def y_range(self) -> tuple[float, float]:
        return self._yr

    def log_scale_used(self) -> bool:
        """Whether y is drawn on a log scale now (log-y asked for and every value above 0)."""
        return self._log_used

    def note(self) -> str:
        """A line under the title saying what could not be drawn as asked ("" when all is as asked)."""
        return self._note

    def series_count(self) -> int:
        return len(self._placed)

    def labels(self) -> list[str]:
        return [p.line.label for p in self._placed]

    def drawn_values(self, label: str) -> list[float]:
        """The values of the line as drawn (smoothed when smoothing is on)."""
        return next((list(p.drawn) for p in self._placed if p.line.label == label), [])

    def raw_values(self, label: str) -> list[float]:
        return next((list(p.raw) for p in self._placed if p.line.label == label), [])

    def x_ticks(self) -> list[tuple[float, str]]:
        low, high = self._xr
        if self._x_mode == "wall":
            return [(t, scale.wall_label(t, high - low)) for t in scale.wall_ticks(low, high)]
        if self._x_mode == "relative":
            return [(t, scale.duration_label(t)) for t in scale.duration_ticks(low, high)]
        found = scale.ticks(low, high, whole=True)
        step = found[1] - found[0] if len(found) > 1 else 1.0
        return [(t, scale.number_label(t, step)) for t in found]

    def y_ticks(self) -> list[tuple[float, str]]:
        low, high = self._yr
        if self._log_used:
            return [(t, f"{t:g}") for t in scale.log_ticks(low, high)]
        found = scale.ticks(low, high)
        step = found[1] - found[0] if len(found) > 1 else (high - low) or 1.0
        return [(t, scale.number_label(t, step)) for t in found]

    def point_position(self, label: str, index: int) -> QPointF:
        """Where the line's `index`-th drawn point is on the widget (for hovering it in a test)."""
        placed = next(p for p in self._placed if p.line.label == label)
        return self._to_pixel(placed.xs[index], placed.drawn[index])

    def hover_text_at(self, pos: QPointF) -> str:
        """What hovering at `pos` says: the nearest point's line, step, value and time ("" if none near)."""
        found = self._nearest(pos)
        return self._describe(*found) if found else ""

    # -- placing the lines ----------------------------------------------------------------------------

    def _place(self) -> None:
        notes: list[str] = []
        placed: list[Placed] = []
        for n, line in enumerate(self._lines):
            color = PALETTE[n % len(PALETTE)]
            item = self._placed_line(line, color)
            if item is None:
                notes.append(f"{line.label}: no wall-clock times to place it by")
            elif item.xs:
                placed.append(item)
        raw = [v for p in placed for v in p.raw]
        lowest = min(raw, default=1.0)
        self._log_used = self._log_y and lowest > 0
        if self._log_y and not self._log_used:
            notes.append(f"log scale needs values above 0 (lowest is {scale.number_label(lowest, 1e-6)}): linear")
        self._yr = scale.log_range(raw) if self._log_used else scale.y_range(raw)
        self._xr = scale.x_range([x for p in placed for x in p.xs])
        hover = self._hover  # kept across a live update while it still names a point
        if hover and not (hover[0] < len(placed) and hover[1] < len(placed[hover[0]].xs)):
            hover = None
        self._placed, self._note, self._hover = placed, "; ".join(notes), hover
        self._rect, self._polygons = None, None
        self.update()

    def _placed_line(self, line: Line, color: str) -> Placed | None:
        wants_time = self._x_mode != "step"
        if wants_time and len(line.times) != len(line.values):
            return None
        keep = [i for i, v in enumerate(line.values) if math.isfinite(v)]
        if wants_time:
            keep = [i for i in keep if math.isfinite(line.times[i]) and line.times[i] > 0]
        raw = [float(line.values[i]) for i in keep]
        if self._x_mode == "step":
            xs = [float(line.steps[i]) for i in keep]
        else:
            start = line.times[keep[0]] if keep and self._x_mode == "relative" else 0.0
            xs = [float(line.times[i]) - start for i in keep]
        return Placed(line, color, keep, xs, raw, scale.smooth(raw, self._smoothing))

    # -- geometry -------------------------------------------------------------------------------------

    def _header_height(self) -> int:
        lines = 1 + (1 if self._note else 0) + (1 if len(self._placed) > 1 else 0)
        return PAD + QFontMetrics(self.font()).height() * lines

    def _plot_rect(self) -> QRectF:
        """The plotting area inside the labels, kept until the lines, settings or size change."""
        if self._rect is None:
            metrics = QFontMetrics(self.font())
            left = max((metrics.horizontalAdvance(text) for _, text in self.y_ticks()), default=20) + 2 * PAD
            top = self._header_height() + PAD
            bottom = 2 * metrics.height() + PAD
            width, height = max(10, self.width() - left - 2 * PAD), max(10, self.height() - top - bottom)
            self._rect = QRectF(left, top, width, height)
        return self._rect

    def _to_pixel(self, x: float, y: float) -> QPointF:
        rect = self._plot_rect()
        (x0, x1), (y0, y1) = self._xr, self._yr
        fx = (x - x0) / (x1 - x0) if x1 > x0 else 0.5
        if self._log_used:
            fy = (math.log10(y) - math.log10(y0)) / (math.log10(y1) - math.log10(y0))
        else:
            fy = (y - y0) / (y1 - y0) if y1 > y0 else 0.5
        return QPointF(rect.left() + fx * rect.width(), rect.bottom() - fy * rect.height())

    def _nearest(self, pos: QPointF) -> tuple[int, int] | None:
        """The point nearest `pos` on screen, looked up by x in each line (points are in x order)."""
        (x0, x1), rect = self._xr, self._plot_rect()
        data_x = x0 + (pos.x() - rect.left()) / max(1.0, rect.width()) * (x1 - x0)
        best: tuple[float, int, int] | None = None
        for n, placed in enumerate(self._placed):
            at = bisect.bisect_left(placed.xs, data_x)
            for i in (at - 1, at):
                if 0 <= i < len(placed.xs):
                    point = self._to_pixel(placed.xs[i], placed.drawn[i])
                    distance = math.hypot(point.x() - pos.x(), point.y() - pos.y())
                    if best is None or distance < best[0]:
                        best = (distance, n, i)
        return (best[1], best[2]) if best and best[0] <= HOVER_PX else None

    def _describe(self, n: int, i: int) -> str:
        placed = self._placed[n]
        line, at = placed.line, placed.index[i]
        text = f"{line.label}\nstep {scale.number_label(float(line.steps[at]), 1.0)}"
        text += f"\nvalue {line.values[at]:.6g}"
        if self._smoothing > 0:
            text += f" (smoothed {placed.drawn[i]:.6g})"
        if len(line.times) == len(line.values) and line.times[at]:
            text += f"\ntime {times.exact(float(line.times[at]))}"
            if placed.xs and self._x_mode == "relative":
                text += f" ({scale.duration_label(placed.xs[i])} after start)"
        return text

    # -- events ---------------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(480, 260)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._rect, self._polygons = None, None
        super().resizeEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        found = self._nearest(event.position())
        self._hover = hover_moved(self, event, self._hover, found, lambda at: self._describe(*at))

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_safely(self, lambda painter: paint_chart(self, painter))

    # -- for the painter ------------------------------------------------------------------------------

    def placed(self) -> list[Placed]:
        return list(self._placed)

    def hovered(self) -> tuple[int, int] | None:
        return self._hover

    def pixel(self, x: float, y: float) -> QPointF:
        return self._to_pixel(x, y)

    def plot_rect(self) -> QRectF:
        return self._plot_rect()

    def x_title(self) -> str:
        if self._x_mode == "wall":  # the ticks are local clock times: the title names their zone
            return scale.wall_title(X_TITLES["wall"], *self._xr)
        return X_TITLES[self._x_mode]

    def polygons(self) -> list[tuple[Placed, QPolygonF | None, QPolygonF]]:
        """Each line as drawn: (line, its raw polygon when smoothed, the drawn polygon), kept until the
        lines, settings or size change (a hover repaints without re-placing every point)."""
        if self._polygons is None:
            smoothed = self._smoothing > 0
            self._polygons = [
                (p, self._polygon(p.xs, p.raw) if smoothed else None, self._polygon(p.xs, p.drawn))
                for p in self._placed
            ]
        return self._polygons

    def _polygon(self, xs: Sequence[float], ys: Sequence[float]) -> QPolygonF:
        """_to_pixel for a whole line at once (a line is up to a few thousand points, every repaint)."""
        rect = self._plot_rect()
        (x0, x1), (y0, y1) = self._xr, self._yr
        if self._log_used:
            ys, y0, y1 = [math.log10(y) for y in ys], math.log10(y0), math.log10(y1)
        sx = rect.width() / (x1 - x0) if x1 > x0 else 0.0
        ox = rect.left() - x0 * sx if x1 > x0 else rect.center().x()
        sy = rect.height() / (y1 - y0) if y1 > y0 else 0.0
        oy = rect.bottom() + y0 * sy if y1 > y0 else rect.center().y()
        return QPolygonF([QPointF(ox + x * sx, oy - y * sy) for x, y in zip(xs, ys, strict=True)])
