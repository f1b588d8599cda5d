"""A model's alias history: every move (who, when, through which request) — the model's activity — and
the question an auditor asks, "which version was production at time T", answered by the coordinator
from its records (`alias_history(at=T)`) rather than worked out here. T is picked in local time."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.client import Client
from kiln.core.models import AliasMove
from kiln.desktop import times
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.models.rows import at_headers, at_rows, at_text, move_headers, move_rows
from kiln.desktop.qt import (
    QDateTime,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.widgets.common import Message, Table

TIME_FORMAT = "yyyy-MM-dd HH:mm:ss"


class HistoryPanel(QWidget):
    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.model: tuple[str, str] | None = None
        self.moves = Table(move_headers(), parent=self)
        self.at = QDateTimeEdit(QDateTime.currentDateTime(), self)
        self.at.setDisplayFormat(TIME_FORMAT)
        self.at.setCalendarPopup(True)
        self.ask = QPushButton("Show aliases then", self)
        self.answer = Message(self)
        self.then = Table(at_headers(), parent=self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Which version held each alias at", self))
        row.addWidget(self.at)
        row.addWidget(QLabel(f"(local time, {times.zone()})", self))
        row.addWidget(self.ask)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Every alias move</b>, newest first", self))
        layout.addWidget(self.moves, 3)
        layout.addLayout(row)
        layout.addWidget(self.answer)
        layout.addWidget(self.then, 1)
        self.ask.clicked.connect(self._ask)
        self.set_model(None, [])

    def set_model(self, model: tuple[str, str] | None, moves: Sequence[AliasMove]) -> None:
        if model != self.model:
            self.answer.clear()
            self.then.set_rows([])
            self.at.setDateTime(QDateTime.currentDateTime())  # a new model: ask about now, to begin with
        self.model = model
        self.moves.update_rows(move_rows(moves))
        self.ask.setEnabled(model is not None)

    def at_seconds(self) -> float:
        """The picked time as seconds since the epoch (the picker shows local time)."""
        return max(1.0, self.at.dateTime().toMSecsSinceEpoch() / 1000)

    def _ask(self) -> None:
        if self.model is None:
            return
        project, name = self.model
        at, shown = self.at_seconds(), self.at.dateTime().toString(TIME_FORMAT)
        self.answer.info(f"reading where the aliases pointed at {shown}…")
        self.runner.run(
            f"history of {name} at {shown}",
            lambda: self.client.alias_history(project, name, at),
            lambda moves: self._answered(shown, moves),
            lambda e: self.answer.error(f"could not read the history: {brief(e)}"),
        )

    def _answered(self, shown: str, moves: Sequence[AliasMove]) -> None:
        self.then.set_rows(at_rows(moves))
        self.answer.info(at_text(moves, shown))
