"""Small widgets every page uses: a read-only table over plain rows, and an inline message line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from kiln.desktop.qt import (
    QAbstractItemView,
    QAbstractTableModel,
    QHeaderView,
    QLabel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTableView,
    QWidget,
    Signal,
)
from kiln.desktop.rows import Row

Index: TypeAlias = QModelIndex | QPersistentModelIndex


class RowsModel(QAbstractTableModel):
    """A table model over a list of Rows: the page computes rows from domain values, the model shows them."""

    def __init__(self, headers: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.headers = tuple(headers)
        self.rows: list[Row] = []

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) and index.isValid():
            return self.rows[index.row()].cells[index.column()]
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None


class Table(QTableView):
    """A read-only, row-selecting table whose selection is reported as the rows' keys."""

    selection_changed = Signal()

    def __init__(self, headers: Sequence[str], multi: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows_model = RowsModel(headers, self)
        self.setModel(self.rows_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        mode = QAbstractItemView.SelectionMode
        self.setSelectionMode(mode.ExtendedSelection if multi else mode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.horizontalHeader().setStretchLastSection(True)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())

    def set_rows(self, rows: list[Row], keep: Any = None) -> None:
        """Shows `rows`, selecting the one whose key is `keep` (what was selected before a refresh)."""
        self.rows_model.set_rows(rows)
        self.resizeColumnsToContents()
        for i, row in enumerate(rows):
            if keep is not None and row.key == keep:
                self.selectRow(i)
        self.selection_changed.emit()

    def row_keys(self) -> list[Any]:
        return [r.key for r in self.rows_model.rows]

    def selected_keys(self) -> list[Any]:
        rows = sorted(index.row() for index in self.selectionModel().selectedRows())
        return [self.rows_model.rows[r].key for r in rows]

    def selected_key(self) -> Any:
        keys = self.selected_keys()
        return keys[0] if keys else None

    def row_of(self, key: Any) -> int:
        return self.row_keys().index(key)


class Message(QLabel):
    """An inline line under a form: errors in red, anything else plain; empty, it takes no room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.clear()

    def error(self, text: str) -> None:
        self.setStyleSheet("color: #b00020;")
        self._show(text)

    def info(self, text: str) -> None:
        self.setStyleSheet("")
        self._show(text)

    def warning(self, text: str) -> None:
        self.setStyleSheet("color: #8a5a00;")
        self._show(text)

    def clear(self) -> None:
        super().clear()
        self.setVisible(False)

    def _show(self, text: str) -> None:
        self.setText(text)
        self.setVisible(bool(text))
