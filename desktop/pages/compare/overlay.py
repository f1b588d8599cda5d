"""The compare view's Overlay tab: one chart per metric, one line per run (in the run's colour, the same
as its column in the tables), with smoothing, log-y and x as step, wall time or time since each run's
start applied to every chart at once."""

from __future__ import annotations

from kiln.core.models import MetricSeries
from kiln.desktop.pages.compare.rows import Compared, run_label
from kiln.desktop.qt import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    Qt,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.widgets.chart import X_MODES, X_TITLES, Chart, Line

COLUMNS = 2  # charts side by side
CHART_HEIGHT = 280


def run_line(label: str, series: MetricSeries | None) -> Line:
    """One run's history of a metric as a chart line; an empty line where the run did not log it (so
    every run keeps its colour, which goes by its position)."""
    if series is None:
        return Line(label, (), ())
    points = sorted(series.points)
    return Line(label, [p[0] for p in points], [p[1] for p in points], [p[2] for p in points])


def chart_title(key: str, series: list[MetricSeries | None]) -> str:
    found = [s for s in series if s is not None]
    downsampled = any(s.total_points > len(s.points) for s in found)
    runs = f"{len(found)} of {len(series)} runs" if len(found) < len(series) else f"{len(found)} runs"
    return f"{key}: {runs}" + (" (downsampled on the coordinator)" if downsampled else "")


class OverlayTab(QWidget):
    """A chart per metric key any run logged, in key order; `charts` maps each key to its chart."""

    def __init__(self, compared: Compared, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.charts: dict[str, Chart] = {}
        self.smoothing = QSlider(Qt.Orientation.Horizontal, self)
        self.smoothing.setRange(0, 95)
        self.smoothing.setToolTip("smoothing (an exponential moving average, the raw line faint behind)")
        self.log_y = QCheckBox("Log y", self)
        self.x_mode = QComboBox(self)
        self.x_mode.addItems([X_TITLES[m] for m in X_MODES])
        body = QWidget(self)
        grid = QGridLayout(body)
        labels = [run_label(r) for r in compared.records]
        keys = sorted({k for per_run in compared.series for k in per_run})
        for n, key in enumerate(keys):
            series = [per_run.get(key) for per_run in compared.series]
            chart = Chart(body)
            chart.setMinimumHeight(CHART_HEIGHT)
            lines = [run_line(label, s) for label, s in zip(labels, series, strict=True)]
            chart.set_lines(chart_title(key, series), lines)
            grid.addWidget(chart, n // COLUMNS, n % COLUMNS)
            self.charts[key] = chart
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addLayout(self._controls())
        if keys:
            layout.addWidget(scroll, 1)
        else:
            scroll.hide()
            layout.addWidget(QLabel("None of these runs logged metrics to chart.", self), 1)
        self.smoothing.valueChanged.connect(self._smooth)
        self.log_y.toggled.connect(self._log_y)
        self.x_mode.currentIndexChanged.connect(self._x_mode)

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Smoothing", self))
        row.addWidget(self.smoothing)
        row.addWidget(self.log_y)
        row.addWidget(QLabel("x axis", self))
        row.addWidget(self.x_mode)
        row.addStretch(1)
        return row

    def _smooth(self, value: int) -> None:
        for chart in self.charts.values():
            chart.set_smoothing(value / 100)

    def _log_y(self, on: bool) -> None:
        for chart in self.charts.values():
            chart.set_log_y(on)

    def _x_mode(self, index: int) -> None:
        for chart in self.charts.values():
            chart.set_x_mode(X_MODES[index])
