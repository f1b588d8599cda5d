"""The compare view's Parallel coordinates tab (three or more runs): one vertical axis per param that
differs and per chosen metric, one polyline per run through its values, coloured by a chosen metric
(low to high along a viridis ramp; grey for a run without it), and hovering a line names its run and
its values. Drawn with QPainter; where each line goes is a plain method the tests read."""

from __future__ import annotations

import math

from kiln.core.metrics import better
from kiln.desktop.pages.compare.axes import Axis, metric_axis, parallel_axes, ramp
from kiln.desktop.pages.compare.rows import Compared, run_label
from kiln.desktop.qt import (
    QColor,
    QComboBox,
    QEvent,
    QFontMetrics,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPointF,
    QSize,
    Qt,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.widgets.canvas import hover_moved, paint_safely

MARGIN = 24
HOVER_PX = 6  # a line is named when the mouse is this close to it
MISSING_COLOUR = "#9e9e9e"
Polyline = list[QPointF | None]  # one point per axis; None where the run has no value


def _segment_distance(p: QPointF, a: QPointF, b: QPointF) -> float:
    dx, dy = b.x() - a.x(), b.y() - a.y()
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((p.x() - a.x()) * dx + (p.y() - a.y()) * dy) / length))
    return math.hypot(p.x() - (a.x() + t * dx), p.y() - (a.y() + t * dy))


class ParallelCoordinates(QWidget):
    """Axes left to right, a polyline per run; `run_at(pos)` says which run's line is under `pos`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []
        self.axes: list[Axis] = []
        self.colours: list[str] = []
        self._hover: int | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(360, 260)

    def set_data(self, labels: list[str], axes: list[Axis], colours: list[str]) -> None:
        self.labels, self.axes, self.colours = labels, axes, colours
        self._hover = None
        self.update()

    # -- geometry (the tests read these) --------------------------------------------------------------

    def _plot(self) -> tuple[float, float, float, float]:
        """left, top, width, height of the area the axes span."""
        height = QFontMetrics(self.font()).height()
        left, top = MARGIN + 40, MARGIN + 2 * height
        return left, top, max(10.0, self.width() - 2 * left), max(10.0, self.height() - top - MARGIN - height)

    def axis_x(self, n: int) -> float:
        left, _, width, _ = self._plot()
        return left + (width / 2 if len(self.axes) == 1 else width * n / (len(self.axes) - 1))

    def _y(self, fraction: float) -> float:
        _, top, _, height = self._plot()
        return top + (1.0 - fraction) * height

    def polyline(self, run: int) -> Polyline:
        found: Polyline = []
        for n, axis in enumerate(self.axes):
            at = axis.position(run)
            found.append(None if at is None else QPointF(self.axis_x(n), self._y(at)))
        return found

    def polylines(self) -> dict[str, Polyline]:
        """Each run's line, by its label: a point per axis (None where the run has no value)."""
        return {label: self.polyline(i) for i, label in enumerate(self.labels)}

    def run_at(self, pos: QPointF) -> int | None:
        """The run whose line passes nearest `pos`, if within a few pixels."""
        best: tuple[float, int] | None = None
        for run in range(len(self.labels)):
            points = self.polyline(run)
            for a, b in zip(points, points[1:], strict=False):
                if a is not None and b is not None:
                    d = _segment_distance(pos, a, b)
                    if d <= HOVER_PX and (best is None or d < best[0]):
                        best = (d, run)
        return None if best is None else best[1]

    def describe(self, run: int) -> str:
        return "\n".join([self.labels[run], *(f"{a.name}: {a.value_text(run)}" for a in self.axes)])

    def hovered(self) -> str | None:
        return None if self._hover is None else self.labels[self._hover]

    # -- events ---------------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(140 * max(2, len(self.axes)), 360)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._hover = hover_moved(self, event, self._hover, self.run_at(event.position()), self.describe)

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_safely(self, self._paint)

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_lines(painter)
        self._paint_axes(painter)

    def _paint_lines(self, painter: QPainter) -> None:
        order = [r for r in range(len(self.labels)) if r != self._hover]
        if self._hover is not None:
            order.append(self._hover)  # drawn last: on top
        for run in order:
            pen = QPen(QColor(self.colours[run] if run < len(self.colours) else MISSING_COLOUR))
            pen.setWidthF(4.0 if run == self._hover else 2.0)
            painter.setPen(pen)
            points = self.polyline(run)
            for a, b in zip(points, points[1:], strict=False):
                if a is not None and b is not None:
                    painter.drawLine(a, b)

    def _paint_axes(self, painter: QPainter) -> None:
        metrics = QFontMetrics(self.font())
        _, top, _, height = self._plot()
        text = self.palette().windowText().color()
        for n, axis in enumerate(self.axes):
            x = self.axis_x(n)
            painter.setPen(QPen(text, 1.0))
            painter.drawLine(QPointF(x, top), QPointF(x, top + height))
            title = axis.name if axis.kind == "param" else f"{axis.name} (last)"
            painter.drawText(QPointF(x - metrics.horizontalAdvance(title) / 2, top - metrics.height()), title)
            for at, label in axis.ticks():
                y = self._y(at)
                painter.drawLine(QPointF(x - 3, y), QPointF(x + 3, y))
                painter.drawText(QPointF(x + 5, y + metrics.ascent() / 2), label)


class ParallelTab(QWidget):
    """The view with its choices: which metrics get an axis (all to begin with) and which colours the lines."""

    def __init__(self, compared: Compared, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.compared = compared
        self.comparisons = compared.metrics()
        self.view = ParallelCoordinates(self)
        self.colour_by = QComboBox(self)
        self.colour_by.addItems([c.key for c in self.comparisons] + ["(one colour)"])
        directed = [i for i, c in enumerate(self.comparisons) if better(c.key) is not None]
        self.colour_by.setCurrentIndex(directed[0] if directed else 0)  # a metric that says which is best
        self.metric_list = QListWidget(self)
        self.metric_list.setMaximumWidth(220)
        for c in self.comparisons:
            item = QListWidgetItem(c.key, self.metric_list)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
        self.legend = QLabel("", self)
        self.note = QLabel("", self)
        self._lay_out()
        self.colour_by.currentIndexChanged.connect(self.redraw)
        self.metric_list.itemChanged.connect(self.redraw)
        self.redraw()

    def _lay_out(self) -> None:
        side = QVBoxLayout()
        side.addWidget(QLabel("Colour by", self))
        side.addWidget(self.colour_by)
        side.addWidget(QLabel("Metric axes", self))
        side.addWidget(self.metric_list, 1)
        main = QVBoxLayout()
        main.addWidget(self.view, 1)
        main.addWidget(self.legend)
        main.addWidget(self.note)
        layout = QHBoxLayout(self)
        layout.addLayout(main, 1)
        layout.addLayout(side)

    def chosen_metrics(self) -> list[str]:
        items = [self.metric_list.item(i) for i in range(self.metric_list.count())]
        return [item.text() for item in items if item.checkState() == Qt.CheckState.Checked]

    def redraw(self) -> None:
        chosen = set(self.chosen_metrics())
        axes = parallel_axes(self.compared.records, [c for c in self.comparisons if c.key in chosen])
        labels = [run_label(r) for r in self.compared.records]
        self.view.set_data(labels, axes, self._colours())
        self.note.setText("" if axes else "No parameter differs between these runs: tick a metric to draw an axis.")
        self.note.setVisible(not axes)

    def _colours(self) -> list[str]:
        n = len(self.compared.records)
        index = self.colour_by.currentIndex()
        if not 0 <= index < len(self.comparisons):
            self.legend.setText("")
            return ["#1f77b4"] * n
        axis = metric_axis(self.comparisons[index])
        colours = []
        for run in range(n):
            at = axis.position(run)
            colours.append(MISSING_COLOUR if at is None else QColor(*ramp(at)).name())
        ticks = axis.ticks()
        low, high = ticks[0][1], ticks[-1][1]
        self.legend.setText(f"Coloured by {axis.name} (last value): {low} purple → {high} yellow; grey: not logged")
        return colours
