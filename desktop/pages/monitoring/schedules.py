"""The project's schedules on the Monitoring page: name, state, timing, next fire (local time, the zone in
the header) and how many fires; the picked one's next fire times and its recent fires with their outcome
and run. A fire's run opens on a double-click or Open run (`run_wanted`, for the window to act on)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from kiln.core.schedules import Schedule
from kiln.desktop.pages.monitoring.rows import (
    fire_headers,
    fire_key,
    fire_rows,
    fires_title,
    schedule_headers,
    schedule_rows,
    schedule_text,
)
from kiln.desktop.qt import QHBoxLayout, QLabel, QModelIndex, QPushButton, QSplitter, Qt, QVBoxLayout, QWidget, Signal
from kiln.desktop.widgets.common import Table


class SchedulesPanel(QWidget):
    """Emits `run_wanted(run id)` for a fire's run."""

    run_wanted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.found: dict[str, Schedule] = {}  # as last read, with their recent fires
        self.shown: Schedule | None = None  # the picked one, whose fires are shown
        self.table = Table(schedule_headers(), parent=self)
        self.details = QLabel("", self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fires_title = QLabel("", self)
        self.fires = Table(fire_headers(), parent=self)
        self.fires.setToolTip("double-click a fire to open its run")
        self.open_run = QPushButton("Open run", self)
        self._lay_out()
        self.table.selection_changed.connect(self._picked)
        self.fires.selection_changed.connect(self._fire_picked)
        self.fires.doubleClicked.connect(self._fire_clicked)
        self.open_run.clicked.connect(self._open_picked_run)
        self.set_detail(None)

    def _lay_out(self) -> None:
        lower = QWidget(self)
        column = QVBoxLayout(lower)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.details)
        row = QHBoxLayout()
        row.addWidget(self.fires_title, 1)
        row.addWidget(self.open_run)
        column.addLayout(row)
        column.addWidget(self.fires, 1)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(lower)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)

    def set_schedules(self, schedules: Sequence[Schedule], now: float | None = None) -> None:
        """The schedules read with their fires, keeping the picked one picked (the first, when none was)."""
        self.found = {s.name: s for s in schedules}
        rows = schedule_rows(schedules, time.time() if now is None else now)
        self.table.update_rows(rows)
        if rows and not self.selected_name():
            self.table.select_keys([rows[0].key])
        self._picked()

    def _picked(self) -> None:
        self.set_detail(self.found.get(self.selected_name()))

    def selected_name(self) -> str:
        return str(self.table.selected_key() or "")

    def set_detail(self, s: Schedule | None, now: float | None = None) -> None:
        """Shows the schedule's next fire times and fires (None: nothing picked)."""
        same = s is not None and self.shown is not None and s.name == self.shown.name
        self.shown = s
        self.details.setText(schedule_text(s))
        self.fires_title.setText(fires_title(s))
        rows = fire_rows(s, time.time() if now is None else now) if s else []
        if same:
            self.fires.update_rows(rows)
        else:
            self.fires.set_rows(rows)
        self._fire_picked()

    def _run_of(self, key: object) -> str:
        fires = self.shown.fires if self.shown else ()
        return next((f.run_id for f in fires if fire_key(f) == key), "")

    def picked_run(self) -> str:
        return self._run_of(self.fires.selected_key())

    def _fire_picked(self) -> None:
        self.open_run.setEnabled(bool(self.picked_run()))

    def _open_picked_run(self) -> None:
        run = self.picked_run()
        if run:
            self.run_wanted.emit(run)

    def _fire_clicked(self, index: QModelIndex) -> None:
        keys = self.fires.row_keys()
        run = self._run_of(keys[index.row()]) if 0 <= index.row() < len(keys) else ""
        if run:
            self.run_wanted.emit(run)
