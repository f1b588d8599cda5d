"""Choosing the Runs table's extra columns: every params.*, metrics.* and tags.* key the project's runs
logged (asked of the coordinator when the dialog opens), with a box to find one among hundreds; those
ticked become columns, in the order they were first chosen."""

from __future__ import annotations

from kiln.client import Client
from kiln.core import limits
from kiln.core.models import RunKeys
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.runs.columns import NAME_COLUMN
from kiln.desktop.qt import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message

MOST = limits.COLUMNS.most - 1  # a search asks for at most that many columns; the name tag is one


class ColumnsDialog(QDialog):
    """`chosen(columns)` when someone presses Show; nothing when they cancel."""

    chosen = Signal(list)

    def __init__(
        self, client: Client, runner: Runner, project: str, current: list[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Columns of {project}'s runs")
        self.current = list(current)
        self.summary = QLabel("reading the keys the runs logged…", self)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Find a key, e.g. loss")
        self.search.setClearButtonEnabled(True)
        self.keys = QListWidget(self)
        self.message = Message(self)
        self.buttons = QDialogButtonBox(self)
        self.show_button = self.buttons.addButton("Show", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        for widget in (self.summary, self.search, self.keys, self.message, self.buttons):
            layout.addWidget(widget)
        self.resize(420, 520)
        self.search.textChanged.connect(self._search)
        self.keys.itemChanged.connect(self._ticked)
        self.buttons.accepted.connect(self._show)
        self.buttons.rejected.connect(self.reject)
        self._fill(self.current)
        runner.run(f"list the keys of {project}'s runs", lambda: client.run_keys(project), self._listed, self._failed)

    def _fill(self, columns: list[str]) -> None:
        self.keys.blockSignals(True)
        self.keys.clear()
        for column in columns:
            if column == NAME_COLUMN:
                continue  # always shown, as Name
            item = QListWidgetItem(column, self.keys)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if column in self.current else Qt.CheckState.Unchecked)
        self.keys.blockSignals(False)
        self._search(self.search.text())

    def _listed(self, keys: RunKeys) -> None:
        found = keys.columns()
        gone = [c for c in self.current if c not in found]  # chosen once, logged by no run now: still offered
        self._fill(gone + found)
        n = len(found)
        more = " (the first ones by name: the project has more)" if keys.truncated else ""
        self.summary.setText(
            f"{n} key{'s' if n != 1 else ''} logged in this project{more}; tick those to show as columns"
            if n
            else "no run of this project logged params, metrics or tags yet"
        )

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not read the keys the runs logged: {brief(error)}")

    def _search(self, text: str) -> None:
        words = text.strip().casefold()
        for i in range(self.keys.count()):
            item = self.keys.item(i)
            item.setHidden(bool(words) and words not in item.text().casefold())

    def ticked(self) -> list[str]:
        """The columns ticked: those chosen before in their order, then the new ones in list order."""
        on = [self.keys.item(i).text() for i in range(self.keys.count())]
        on = [c for i, c in enumerate(on) if self.keys.item(i).checkState() == Qt.CheckState.Checked]
        return [c for c in self.current if c in on] + [c for c in on if c not in self.current]

    def _ticked(self, item: QListWidgetItem) -> None:
        if item.checkState() == Qt.CheckState.Checked and len(self.ticked()) > MOST:
            self.keys.blockSignals(True)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.keys.blockSignals(False)
            self.message.error(f"at most {MOST} columns: untick one to show {item.text()}")
        else:
            self.message.clear()

    def _show(self) -> None:
        self.chosen.emit(self.ticked())
        self.accept()
