"""Metric charts: one QtCharts line chart per metric key, over the history the coordinator downsampled
(`client.metrics(..., max_points)`), so a run that logged a million points costs the desktop a few hundred.
Charts are updated in place while a run goes on, rather than rebuilt, so they do not flicker."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.core.models import MetricSeries
from kiln.desktop.pages.run.recordrows import chart_caption, chart_points, value_range
from kiln.desktop.qt import (
    QChart,
    QChartView,
    QColor,
    QGridLayout,
    QLabel,
    QLineSeries,
    QPainter,
    QPointF,
    QScrollArea,
    Qt,
    QValueAxis,
    QVBoxLayout,
    QWidget,
)

COLUMNS = 2
CHART_HEIGHT = 230
LINE = "#1f5fa8"


class MetricChart(QChartView):
    """One metric's history: steps across, values up."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.series = QLineSeries()
        self.series.setName(key)
        self.series.setColor(QColor(LINE))
        self.x_axis, self.y_axis = QValueAxis(), QValueAxis()
        self.x_axis.setTitleText("step")
        self.x_axis.setLabelFormat("%g")
        self.y_axis.setLabelFormat("%.4g")
        chart = QChart()
        chart.addSeries(self.series)
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        self.series.attachAxis(self.x_axis)
        self.series.attachAxis(self.y_axis)
        chart.legend().hide()
        self.setChart(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(CHART_HEIGHT)

    def set_history(self, total: int, points: Sequence[tuple[int, float, float]]) -> None:
        xy = chart_points(points)
        self.series.replace([QPointF(x, y) for x, y in xy])
        self.chart().setTitle(chart_caption(self.key, total, len(xy)))
        low, high = value_range([y for _, y in xy])
        self.y_axis.setRange(low, high)
        steps = [x for x, _ in xy] or [0.0, 1.0]
        self.x_axis.setRange(min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1)
        for axis in (self.x_axis, self.y_axis):
            axis.applyNiceNumbers()  # ticks at 0, 50, 100 rather than at 62.25

    def points_shown(self) -> int:
        return int(self.series.count())


class MetricsPanel(QScrollArea):
    """Every metric of a run, two charts a row, in key order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.charts: dict[str, MetricChart] = {}
        self.summary = QLabel("reading the run's metrics…", self)
        self.summary.setWordWrap(True)
        self.grid = QGridLayout()
        inner = QWidget(self)
        layout = QVBoxLayout(inner)
        layout.addWidget(self.summary)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.setWidget(inner)
        self.setWidgetResizable(True)

    def set_metrics(self, series: Sequence[MetricSeries]) -> None:
        keys = sorted(s.key for s in series)
        if keys != sorted(self.charts):
            self._rebuild(keys)
        for s in series:
            self.charts[s.key].set_history(s.total_points, s.points)
        self.summary.setText(
            f"{len(keys)} metric{'s' if len(keys) != 1 else ''} logged"
            if keys
            else "no metrics logged: inside the run, kiln.track.log_metric('loss', value) records one"
        )

    def _rebuild(self, keys: list[str]) -> None:
        for chart in self.charts.values():
            self.grid.removeWidget(chart)
            chart.deleteLater()
        self.charts = {}
        for i, key in enumerate(keys):
            chart = MetricChart(key, self)
            self.charts[key] = chart
            self.grid.addWidget(chart, i // COLUMNS, i % COLUMNS)

    def failed(self, text: str) -> None:
        self.summary.setText(text)
