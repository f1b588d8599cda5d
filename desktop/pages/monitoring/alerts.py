"""The project's alerts on the Monitoring page: firing first, then acknowledged, then resolved (state as a
pill, severity, title, monitor, since, last, how many windows breached, who acknowledged), what the picked
one says, and Acknowledge… for a firing one (the page asks first and does it)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from kiln.core.monitoring import Alert
from kiln.desktop.pages.monitoring.rows import ALERT_HEADERS, ALERT_STATE_COLUMN, FIRING, alert_colours, alert_rows
from kiln.desktop.pages.monitoring.rows import alert_text as describe
from kiln.desktop.pages.runs.chips import StateChips
from kiln.desktop.qt import QHBoxLayout, QLabel, QPushButton, Qt, QVBoxLayout, QWidget
from kiln.desktop.widgets.common import Table


class AlertsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.found: dict[str, Alert] = {}
        self.table = Table(ALERT_HEADERS, parent=self)
        self.table.setItemDelegateForColumn(ALERT_STATE_COLUMN, StateChips(self.table, alert_colours))
        self.details = QLabel("", self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.acknowledge = QPushButton("Acknowledge…", self)
        self.acknowledge.setToolTip("someone is on it: the alert stops counting as firing until it resolves")
        row = QHBoxLayout()
        row.addWidget(self.details, 1)
        row.addWidget(self.acknowledge, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        self.table.selection_changed.connect(self._picked)
        self._picked()

    def set_alerts(self, alerts: Sequence[Alert], names: Mapping[str, str], now: float | None = None) -> None:
        """Shows `alerts` (`names`: monitor id -> name), keeping the picked one picked."""
        self.found = {a.id: a for a in alerts}
        self.table.update_rows(alert_rows(alerts, time.time() if now is None else now, names))
        self._picked()

    def selected(self) -> Alert | None:
        return self.found.get(self.table.selected_key() or "")

    def _picked(self) -> None:
        a = self.selected()
        self.details.setText(describe(a))
        self.acknowledge.setEnabled(a is not None and a.state == FIRING)
