"""The run page's metric charts: a key picker (checkable, every key on at first), the shared chart
settings (x mode, smoothing, log-y), and either one chart per chosen key, two a row, or all chosen keys
overlaid on one chart.

The histories live in a MetricHistory (metricdata.py): the first read is whole and downsampled by the
coordinator, later ones bring only the points after the last step held, so a live run's page does not
re-read everything every second. Charts are updated in place rather than rebuilt, so they do not
flicker."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.core.models import MetricSeries
from kiln.desktop.pages.run.metricdata import KeyHistory, MetricHistory, shown_keys
from kiln.desktop.qt import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    Qt,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.widgets.chart import Chart
from kiln.desktop.widgets.chartcontrols import ChartControls

COLUMNS = 2
CHART_HEIGHT = 240
PICKER_WIDTH = 190
NO_METRICS = "no metrics logged: inside the run, kiln.track.log_metric('loss', value) records one"


def caption(history: KeyHistory) -> str:
    """A chart's title: the key, and how many of its points are drawn when not all of them are."""
    if history.downsampled:
        return f"{history.key}  ({len(history.steps):,} of {history.total:,} points drawn)"
    return history.key


class MetricsPanel(QWidget):
    """Every metric of a run; `after_steps()` is what the next read asks for, `set_metrics` takes it."""

    def __init__(self, bound: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = MetricHistory(bound)
        self.charts: dict[str, Chart] = {}
        self.overlay = Chart(self)
        self.overlay.hide()
        self.summary = QLabel("reading the run's metrics…", self)
        self.summary.setWordWrap(True)
        self.controls = ChartControls(self)
        self.overlaid = QCheckBox("overlay the chosen keys on one chart", self)
        self.picker = QListWidget(self)
        self.picker.setMaximumWidth(PICKER_WIDTH)
        self.picker.setToolTip("the keys to chart: tick the ones to see")
        self.grid = QGridLayout()
        self._build()
        self.controls.changed.connect(self._settings_changed)
        self.overlaid.toggled.connect(self._arrange)
        self.picker.itemChanged.connect(self._arrange)

    def _build(self) -> None:
        inner = QWidget(self)
        column = QVBoxLayout(inner)
        column.addWidget(self.overlay, 1)  # overlaid: the one chart takes the height
        column.addLayout(self.grid)
        column.addStretch(0)  # one chart a key: they stay their height at the top
        self.area = QScrollArea(self)
        self.area.setWidget(inner)
        self.area.setWidgetResizable(True)
        every, none = QPushButton("All", self), QPushButton("None", self)
        every.clicked.connect(lambda: self.choose(list(self.history.keys)))
        none.clicked.connect(lambda: self.choose([]))
        buttons = QHBoxLayout()
        buttons.addWidget(every)
        buttons.addWidget(none)
        side = QVBoxLayout()
        side.addWidget(QLabel("<b>Keys</b>", self))
        side.addWidget(self.picker, 1)
        side.addLayout(buttons)
        body = QHBoxLayout()
        body.addLayout(side)
        body.addWidget(self.area, 1)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.overlaid)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.controls)
        layout.addLayout(body, 1)

    # -- reading ---------------------------------------------------------------------------------------

    def after_steps(self) -> dict[str, int]:
        return self.history.after_steps()

    def set_metrics(self, series: Sequence[MetricSeries]) -> None:
        changed = self.history.apply(series)
        new_keys = [k for k in sorted(self.history.keys) if not self._item(k)]
        self.picker.blockSignals(True)
        for key in new_keys:
            item = QListWidgetItem(key, self.picker)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
        self.picker.sortItems()
        self.picker.blockSignals(False)
        if new_keys:
            self._arrange()
        else:
            for key in changed:
                if key in self.charts:
                    self.charts[key].set_lines(caption(self.history.keys[key]), [self.history.keys[key].line()])
            if changed and self.overlaid.isChecked():
                self._draw_overlay()
        self._summarise()

    def failed(self, text: str) -> None:
        self.summary.setText(text)

    # -- choosing ---------------------------------------------------------------------------------------

    def chosen(self) -> list[str]:
        items = [self.picker.item(i) for i in range(self.picker.count())]
        return shown_keys(
            [i.text() for i in items], {i.text() for i in items if i.checkState() == Qt.CheckState.Checked}
        )

    def choose(self, keys: Sequence[str]) -> None:
        """Ticks exactly `keys` in the picker (as a person would, one re-arrangement)."""
        self.picker.blockSignals(True)
        for i in range(self.picker.count()):
            item = self.picker.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in keys else Qt.CheckState.Unchecked)
        self.picker.blockSignals(False)
        self._arrange()

    def _item(self, key: str) -> QListWidgetItem | None:
        found = self.picker.findItems(key, Qt.MatchFlag.MatchExactly)
        return found[0] if found else None

    # -- laying out ------------------------------------------------------------------------------------

    def _arrange(self) -> None:
        """One chart per chosen key, two a row; or, overlaid, one chart holding every chosen key."""
        keys = self.chosen()
        overlaid = self.overlaid.isChecked()
        for key in [k for k in self.charts if overlaid or k not in keys]:
            chart = self.charts.pop(key)
            self.grid.removeWidget(chart)
            chart.hide()
            chart.deleteLater()
        for i, key in enumerate([] if overlaid else keys):
            if key not in self.charts:
                chart = self.charts[key] = Chart(self)
                chart.setMinimumHeight(CHART_HEIGHT)
                self.controls.apply(chart)
                chart.set_lines(caption(self.history.keys[key]), [self.history.keys[key].line()])
            self.grid.addWidget(self.charts[key], i // COLUMNS, i % COLUMNS)
        self.overlay.setVisible(overlaid)
        if overlaid:
            self.overlay.setMinimumHeight(CHART_HEIGHT * 2)
            self._draw_overlay()

    def _draw_overlay(self) -> None:
        keys = self.chosen()
        title = ", ".join(keys) if len(keys) <= 3 else f"{len(keys)} metrics"
        self.controls.apply(self.overlay)
        self.overlay.set_lines(title, [self.history.keys[k].line() for k in keys])

    def _settings_changed(self) -> None:
        self.controls.apply_all([*self.charts.values(), self.overlay])

    def _summarise(self) -> None:
        keys = self.history.keys
        if not keys:
            self.summary.setText(NO_METRICS)
            return
        last = max((h.steps[-1] for h in keys.values() if h.steps), default=0)
        self.summary.setText(f"{len(keys)} metric{'s' if len(keys) != 1 else ''} logged, up to step {last:,}")
