"""The settings a row of charts shares: x as step, wall time or time since start; smoothing (a slider
from 0 to 0.99, TensorBoard's weight); log-y. `apply(chart)` sets them on a Chart; `changed` says when a
person moved one. Used by the run page's Metrics tab and the compare view's overlay."""

from __future__ import annotations

from collections.abc import Iterable

from kiln.desktop.qt import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, Qt, QWidget, Signal
from kiln.desktop.widgets.chart import X_MODES, X_TITLES, Chart

SLIDER_STEPS = 99  # smoothing 0.00 to 0.99


class ChartControls(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x_mode = QComboBox(self)
        for mode in X_MODES:
            self.x_mode.addItem(f"x: {X_TITLES[mode]}", mode)
        self.x_mode.setToolTip("what the x axis counts: the step logged, the clock, or time since the start")
        self.smoothing = QSlider(Qt.Orientation.Horizontal, self)
        self.smoothing.setRange(0, SLIDER_STEPS)
        self.smoothing.setMaximumWidth(160)
        self.smoothing.setToolTip("exponential moving average, as TensorBoard's; the raw line stays faint")
        self.smoothing_label = QLabel("", self)
        self.log_y = QCheckBox("log y", self)
        self.log_y.setToolTip("a log scale for y; a chart with values at or below 0 stays linear and says so")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.x_mode)
        layout.addSpacing(12)
        layout.addWidget(QLabel("smoothing", self))
        layout.addWidget(self.smoothing)
        layout.addWidget(self.smoothing_label)
        layout.addSpacing(12)
        layout.addWidget(self.log_y)
        layout.addStretch(1)
        self.x_mode.currentIndexChanged.connect(self._moved)
        self.smoothing.valueChanged.connect(self._moved)
        self.log_y.toggled.connect(self._moved)
        self._label()

    def weight(self) -> float:
        return self.smoothing.value() / 100

    def mode(self) -> str:
        return str(self.x_mode.currentData())

    def apply(self, chart: Chart) -> None:
        chart.configure(self.mode(), self.weight(), self.log_y.isChecked())

    def apply_all(self, charts: Iterable[Chart]) -> None:
        for chart in charts:
            self.apply(chart)

    def _label(self) -> None:
        self.smoothing_label.setText(f"{self.weight():.2f}" if self.weight() else "off")

    def _moved(self) -> None:
        self._label()
        self.changed.emit()
