"""Small widgets every page uses: a read-only table over plain rows, and an inline message line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from kiln.desktop.qt import (
    QAbstractItemView,
    QAbstractTableModel,
    QBrush,
    QColor,
    QHeaderView,
    QItemSelectionModel,
    QLabel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QShowEvent,
    Qt,
    QTableView,
    QWidget,
    Signal,
)
from kiln.desktop.rows import Row

Index: TypeAlias = QModelIndex | QPersistentModelIndex
MARKED = "#fff1c2"  # a soft amber that reads on light and alternating rows alike


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

    def replace_rows(self, rows: list[Row]) -> None:
        """New cells for the same rows in the same order: views keep their selection and scroll."""
        self.rows = list(rows)
        if rows:
            last = self.index(len(rows) - 1, len(self.headers) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row.cells[index.column()]
        if role == Qt.ItemDataRole.BackgroundRole and row.marked:
            return QBrush(QColor(MARKED))
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
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
        self._dragged = self._fitting = False
        self.horizontalHeader().sectionResized.connect(self._resized)

    def _resized(self, section: int, *_: int) -> None:
        """A column the person dragged keeps its width from then on (the stretching last one aside)."""
        if not self._fitting and section != self.rows_model.columnCount() - 1:
            self._dragged = True

    def fit_columns(self) -> None:
        """Columns as wide as what they show, until the person sizes one by hand."""
        if not self._dragged:
            self._fit()

    def _fit(self) -> None:
        self._fitting = True
        try:  # the last column stretches to the edge; sizing it to its contents would undo that
            for column in range(self.rows_model.columnCount() - 1):
                self.resizeColumnToContents(column)
        finally:
            self._fitting = False

    def set_rows(self, rows: list[Row], keep: Any = None) -> None:
        """Shows `rows`, selecting the one whose key is `keep` (what was selected before a refresh)."""
        self.rows_model.set_rows(rows)
        self._fit()
        for i, row in enumerate(rows):
            if keep is not None and row.key == keep:
                self.selectRow(i)
        self.selection_changed.emit()

    def update_rows(self, rows: list[Row]) -> None:
        """For tables refreshed on a timer: the same rows are updated in place; otherwise the rows are
        replaced and every row selected before stays selected, so a refresh never drops what was picked."""
        if rows and [r.key for r in rows] == self.row_keys():
            self.rows_model.replace_rows(rows)
            self.fit_columns()  # a state grown longer ("running" -> "failed (exit 3)") stays readable
            return
        before = self.selected_keys()
        self.rows_model.set_rows(rows)
        self.fit_columns()
        self.select_keys(before)
        if self.selected_keys() != before:
            self.selection_changed.emit()

    def select_keys(self, keys: Sequence[Any]) -> None:
        """Selects the rows showing `keys` (and only those), without moving the keyboard focus."""
        flags = QItemSelectionModel.SelectionFlag
        model = self.selectionModel()
        model.clearSelection()
        for i, row in enumerate(self.rows_model.rows):
            if row.key in keys:
                model.select(self.rows_model.index(i, 0), flags.Select | flags.Rows)

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


class LazyTab(QWidget):
    """A tab that asks the coordinator for its content the first time it is shown, not when it is built:
    an admin window opens at once, and only the tabs someone looks at cost a call."""

    loaded = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.loaded:
            self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError
