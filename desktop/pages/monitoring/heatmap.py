"""Drift per feature over time as a heat map: a row per feature, a column per recent window (oldest left),
each cell coloured by how far the feature's statistic went against its threshold, green far below, yellow
at it, red twice past it; a drifted cell gets a dark frame and a dot, a window with no verdict for the
feature (too few rows, no reference) stays grey. Hovering a cell names the statistic, its value, the
threshold and the p-value.

How far, as `HeatCell.ratio` in [0, 2] (1: on the line):
- a distance (psi, jensenshannon, wasserstein: drifted at value >= threshold): value / threshold;
- a test (ks, chisquare: drifted at p-value < threshold, where the threshold is held against the p-value
  and not the statistic): ln(p) / ln(threshold), so p = threshold is 1 and each further factor of the
  threshold (p = 0.05² for a 0.05 test) one more; value / threshold would compare unlike things there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kiln.core.monitoring import MonitorResult
from kiln.desktop import times
from kiln.desktop.pages.monitoring.rows import oldest_first
from kiln.desktop.qt import (
    QColor,
    QEvent,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QWidget,
)
from kiln.desktop.widgets.canvas import hover_moved, paint_safely

HEAT_WINDOWS = 12  # columns: the coordinator keeps this many recent windows per monitor in its answer
MAX_RATIO = 2.0
CELL_MIN_W, CELL_MAX_W = 26, 64
PAD = 6
NO_VERDICT = "#ececec"
FRAME = "#1b1b1b"
TEXT = "#333333"
GRID = "#ffffff"


@dataclass(frozen=True)
class HeatCell:
    """One feature in one window, as the coordinator's drift report gave it."""

    column: str
    statistic: str
    value: float
    threshold: float
    drifted: bool
    p_value: float | None = None

    @property
    def ratio(self) -> float:
        """How far past its line the statistic went, clipped to [0, MAX_RATIO] (see the module's docstring)."""
        if self.p_value is not None and 0.0 < self.threshold < 1.0:
            raw = math.log(max(self.p_value, 1e-300)) / math.log(self.threshold)
        elif self.threshold > 0:
            raw = self.value / self.threshold
        else:
            raw = MAX_RATIO if self.value > 0 else 0.0
        return min(MAX_RATIO, max(0.0, raw))

    def tip(self) -> str:
        p = "-" if self.p_value is None else f"{self.p_value:.3g}"
        against = "p-value" if self.p_value is not None else "value"
        verdict = "drifted" if self.drifted else "not drifted"
        return (
            f"{self.statistic} {self.value:.4g}, threshold {self.threshold:g} (held against the {against}), "
            f"p-value {p}: {verdict}"
        )


@dataclass(frozen=True)
class HeatWindow:
    seq: int
    window_end: float
    requests: int


@dataclass(frozen=True)
class HeatMap:
    """features: the rows, top down; windows: the columns, oldest left; cells[(row, column)], missing where
    the window has no verdict for the feature."""

    features: tuple[str, ...] = ()
    windows: tuple[HeatWindow, ...] = ()
    cells: dict[tuple[int, int], HeatCell] = field(default_factory=dict)

    def drifted(self) -> list[tuple[int, int]]:
        """The (row, column) of every drifted cell."""
        return sorted(at for at, c in self.cells.items() if c.drifted)

    def tip(self, row: int, column: int) -> str:
        w = self.windows[column]
        head = f"{self.features[row]} in window #{w.seq} (ending {times.local_zoned(w.window_end)})"
        cell = self.cells.get((row, column))
        if cell is None:
            return f"{head}\nno drift verdict in this window ({w.requests} requests)"
        return f"{head}\n{cell.tip()}"


def _cell(c: dict[str, Any]) -> HeatCell:
    p = c.get("p_value")
    return HeatCell(
        str(c.get("column", "")),
        str(c.get("statistic", "")),
        float(c.get("value") or 0.0),
        float(c.get("threshold") or 0.0),
        bool(c.get("drifted")),
        float(p) if isinstance(p, int | float) else None,
    )


def heat_map(results: Sequence[MonitorResult], last: int = HEAT_WINDOWS) -> HeatMap:
    """The last `last` windows of `results`; the features in the order the windows first name them."""
    shown = oldest_first(results)[-last:] if last else []
    features: list[str] = []
    per_window: list[dict[str, HeatCell]] = []
    for r in shown:
        columns = (r.result.get("drift") or {}).get("columns") or []
        found = {cell.column: cell for cell in map(_cell, columns)}
        features += [name for name in found if name not in features]
        per_window.append(found)
    index = {name: i for i, name in enumerate(features)}
    cells = {(index[name], j): cell for j, found in enumerate(per_window) for name, cell in found.items()}
    windows = tuple(HeatWindow(r.seq, r.window_end, r.requests) for r in shown)
    return HeatMap(tuple(features), windows, cells)


def ratio_colour(ratio: float) -> QColor:
    """Green at 0, yellow at 1 (the threshold), red at MAX_RATIO and past it."""
    r = min(MAX_RATIO, max(0.0, ratio)) / MAX_RATIO
    return QColor.fromHsvF((1.0 - r) / 3.0, 0.62, 0.93)  # hue 120° -> 0°


class DriftHeatMap(QWidget):
    """Painted from a HeatMap (`set_map`); the tooltip follows the mouse over the cells."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.map = HeatMap()
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setMinimumHeight(60)

    def set_map(self, heat: HeatMap) -> None:
        self.map = heat
        self._hover = None
        self.updateGeometry()
        self.update()

    # -- geometry -------------------------------------------------------------------------------------

    def _row_h(self) -> int:
        return self.fontMetrics().height() + 10

    def _gutter(self) -> int:
        metrics = QFontMetrics(self.font())
        return max([metrics.horizontalAdvance(f) for f in self.map.features] or [40]) + 2 * PAD

    def _cell_w(self) -> float:
        n = max(1, len(self.map.windows))
        room = (self.width() - self._gutter() - PAD) / n
        return float(min(CELL_MAX_W, max(CELL_MIN_W, room)))

    def cell_rect(self, row: int, column: int) -> QRectF:
        w, h = self._cell_w(), self._row_h()
        return QRectF(self._gutter() + column * w, PAD + row * h, w, h)

    def cell_at(self, point: QPointF) -> tuple[int, int] | None:
        """The (row, column) under `point`, if a cell is there."""
        w, h = self._cell_w(), self._row_h()
        column = math.floor((point.x() - self._gutter()) / w)
        row = math.floor((point.y() - PAD) / h)
        if 0 <= row < len(self.map.features) and 0 <= column < len(self.map.windows):
            return row, column
        return None

    def sizeHint(self) -> QSize:
        rows = max(1, len(self.map.features))
        width = self._gutter() + CELL_MAX_W * max(1, len(self.map.windows)) + PAD
        return QSize(width, 2 * PAD + (rows + 1) * self._row_h())

    def minimumSizeHint(self) -> QSize:
        rows = max(1, len(self.map.features))
        return QSize(self._gutter() + CELL_MIN_W * 3, 2 * PAD + (rows + 1) * self._row_h())

    # -- events ---------------------------------------------------------------------------------------

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        found = self.cell_at(event.position())
        self._hover = hover_moved(self, event, self._hover, found, lambda at: self.map.tip(*at))

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_safely(self, self._paint)

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        heat = self.map
        if not heat.windows:
            painter.setPen(QColor(TEXT))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no windows judged yet")
            return
        if not heat.features:
            painter.setPen(QColor(TEXT))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no drift verdict in these windows")
            return
        gutter, h = self._gutter(), self._row_h()
        painter.setPen(QColor(TEXT))
        for i, name in enumerate(heat.features):
            label = QRectF(PAD, PAD + i * h, gutter - 2 * PAD, h)
            painter.drawText(label, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), name)
        for i in range(len(heat.features)):
            for j in range(len(heat.windows)):
                self._paint_cell(painter, i, j)
        painter.setPen(QColor(TEXT))
        below = PAD + len(heat.features) * h
        for j, w in enumerate(heat.windows):
            rect = self.cell_rect(0, j)
            label = QRectF(rect.x(), below, rect.width(), h)
            painter.drawText(label, int(Qt.AlignmentFlag.AlignCenter), f"#{w.seq}")

    def _paint_cell(self, painter: QPainter, row: int, column: int) -> None:
        rect = self.cell_rect(row, column).adjusted(1, 1, -1, -1)
        cell = self.map.cells.get((row, column))
        painter.setPen(QPen(QColor(GRID), 1))
        painter.setBrush(QColor(NO_VERDICT) if cell is None else ratio_colour(cell.ratio))
        painter.drawRect(rect)
        if cell is not None and cell.drifted:
            painter.setPen(QPen(QColor(FRAME), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
            painter.setBrush(QColor(FRAME))
            radius = min(rect.width(), rect.height()) / 8
            painter.drawEllipse(rect.center(), radius, radius)
        if self._hover == (row, column):
            painter.setPen(QPen(QColor(FRAME), 1, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
