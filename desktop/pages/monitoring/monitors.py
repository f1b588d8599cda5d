"""The picked monitor on the Monitoring page: what it watches, the health score of its latest window (big,
in the colour of how close it is to alerting) with the reasons behind it, drift per feature over its
recent windows as a heat map (kiln.desktop.pages.monitoring.heatmap), and its windows over time: requests,
health, drift share and the main version's quality (accuracy or rmse, on how many labels)."""

from __future__ import annotations

from kiln.core.monitoring import Monitor
from kiln.desktop.pages.monitoring.heatmap import DriftHeatMap, HeatMap, heat_map
from kiln.desktop.pages.monitoring.rows import (
    headline_text,
    health_below,
    health_colours,
    latest,
    monitor_text,
    reasons,
    window_headers,
    window_rows,
)
from kiln.desktop.qt import QFont, QHBoxLayout, QLabel, QSplitter, Qt, QVBoxLayout, QWidget
from kiln.desktop.widgets.common import Table

LEGEND = (
    "Drift per feature, oldest window left: green well under its threshold, yellow at it, red twice past it; "
    "a dark frame and dot: drifted; grey: no verdict in that window. Hover a cell for the figures."
)
SCORE_POINTS = 30


class MonitorPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.monitor: Monitor | None = None
        self.details = QLabel("", self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.score = QLabel("-", self)
        font = QFont(self.score.font())
        font.setPointSize(SCORE_POINTS)
        font.setBold(True)
        self.score.setFont(font)
        self.score.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.score.setMinimumWidth(110)
        self.score_caption = QLabel("", self)
        self.reasons = QLabel("", self)
        self.reasons.setWordWrap(True)
        self.reasons.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.heat = DriftHeatMap(self)
        self.legend = QLabel(LEGEND, self)
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("color: #555555;")
        self.windows = Table(window_headers(), parent=self)
        self.windows.setToolTip("highlighted: a window that drifted")
        self._lay_out()
        self.set_monitor(None)

    def _lay_out(self) -> None:
        words = QVBoxLayout()
        words.addWidget(self.score_caption)
        words.addWidget(self.reasons, 1)
        head = QHBoxLayout()
        head.addWidget(self.score)
        head.addLayout(words, 1)
        drift = QWidget(self)
        column = QVBoxLayout(drift)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("<b>Drift per feature over time</b>", drift))
        column.addWidget(self.heat, 1)
        column.addWidget(self.legend)
        over_time = QWidget(self)
        column = QVBoxLayout(over_time)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("<b>Windows: health and quality over time</b> (newest first)", over_time))
        column.addWidget(self.windows, 1)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(drift)
        split.addWidget(over_time)
        split.setStretchFactor(0, 0)  # the heat map as tall as its features need; the windows take the rest
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.details)
        layout.addLayout(head)
        layout.addWidget(split, 1)

    def set_monitor(self, m: Monitor | None) -> None:
        """Shows `m` with its recent windows (None: nothing picked); the same monitor read again keeps the
        window picked in the table."""
        same = m is not None and self.monitor is not None and m.name == self.monitor.name
        self.monitor = m
        if m is None:
            self.details.setText("Pick a monitor to see its health, drift and quality over time.")
            self._headline("-", "", None, 0.0)
            self.reasons.setText("")
            self.heat.set_map(HeatMap())
            self.windows.set_rows([])
            return
        self.details.setText(monitor_text(m))
        score, caption = headline_text(m)
        r = latest(m)
        self._headline(score, caption, r.health if r else None, health_below(m))
        said = reasons(r) if r else []
        self.reasons.setText("\n".join(f"• {s}" for s in said) if said else ("nothing to remark" if r else ""))
        self.heat.set_map(heat_map(m.results))
        rows = window_rows(m)
        if same:
            self.windows.update_rows(rows)
        else:
            self.windows.set_rows(rows)

    def _headline(self, score: str, caption: str, value: float | None, below: float) -> None:
        fill, text = health_colours(value, below)
        self.score.setText(score)
        self.score.setStyleSheet(f"background: {fill}; color: {text}; border-radius: 8px; padding: 6px 14px;")
        self.score_caption.setText(caption)
