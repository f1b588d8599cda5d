"""Small widgets every page uses: a read-only table over plain rows (sortable by its header where a page
asks: numbers as numbers, empty cells last), and an inline message line."""

from __future__ import annotations

import math
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
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # a cell's sort_key: what a sortable table orders it by


def sort_key(value: Any) -> tuple[int, Any] | None:
    """How a cell orders: numbers as numbers (9 before 10, also when they come as text), text by its
    letters ignoring case, numbers before text in a column holding both; None for an empty cell (or NaN),
    which a sortable table puts last in either direction."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return None if math.isnan(value) else (0, float(value))
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return (1, text.casefold())
    return (1, text.casefold()) if math.isnan(number) else (0, number)


def _spans(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs of neighbours: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    spans: list[tuple[int, int]] = []
    for r in rows:
        if spans and spans[-1][1] == r - 1:
            spans[-1] = (spans[-1][0], r)
        else:
            spans.append((r, r))
    return spans


class RowsModel(QAbstractTableModel):
    """A table model over a list of Rows: the page computes rows from domain values, the model shows them."""

    def __init__(self, headers: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.headers = tuple(headers)
        self.rows: list[Row] = []
        self.sort_column = -1  # none: rows in the order given
        self.sort_order = Qt.SortOrder.AscendingOrder
        self.given: list[Row] = []  # the rows in the order the page gave them (shown when not sorted)

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.given = list(rows)
        self.rows = self._ordered(rows)
        self.endResetModel()

    def set_headers(self, headers: Sequence[str]) -> None:
        """Other columns (the rows are set again after): a sort by a column that is gone is dropped."""
        self.beginResetModel()
        self.headers, self.rows, self.given = tuple(headers), [], []
        if self.sort_column >= len(self.headers):
            self.sort_column = -1
        self.endResetModel()

    def cell_sort_key(self, row: Row, column: int) -> tuple[int, Any] | None:
        return sort_key(row.sort[column] if column < len(row.sort) else row.cells[column])

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Orders the rows by `column` (-1: as given), keeping the selection on the same rows."""
        self.sort_column, self.sort_order = column, order
        self._reorder(self._ordered(self.given))

    def _ordered(self, rows: Sequence[Row]) -> list[Row]:
        column = self.sort_column
        if not 0 <= column < len(self.headers):
            return list(rows)
        keyed = [(self.cell_sort_key(r, column), r) for r in rows]
        full = [(k, r) for k, r in keyed if k is not None]
        full.sort(key=lambda kr: kr[0], reverse=self.sort_order == Qt.SortOrder.DescendingOrder)  # stable
        return [r for _, r in full] + [r for k, r in keyed if k is None]

    def _reorder(self, order: list[Row]) -> None:
        """Shows the same rows in another order; selections and other persistent indexes move along."""
        if [r.key for r in order] == [r.key for r in self.rows]:
            self.rows = order
            return
        self.layoutAboutToBeChanged.emit()
        moved = self.persistentIndexList()
        keys = [(self.rows[i.row()].key, i.column()) for i in moved]
        self.rows = order
        where = {r.key: i for i, r in enumerate(order)}
        self.changePersistentIndexList(moved, [self.index(where[k], c) for k, c in keys])
        self.layoutChanged.emit()

    def merge_rows(self, rows: list[Row]) -> None:
        """Shows exactly `rows` (keys unique), told as removals, changed cells, insertions and a reorder, so
        views keep their selection and scroll rather than start again as after a reset."""
        wanted = {r.key: r for r in rows}
        self.given = list(rows)
        for first, last in reversed(_spans([i for i, r in enumerate(self.rows) if r.key not in wanted])):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self.rows[first : last + 1]
            self.endRemoveRows()
        changed = [i for i, r in enumerate(self.rows) if wanted[r.key] != r]
        self.rows = [wanted[r.key] for r in self.rows]
        if changed:
            self.dataChanged.emit(self.index(changed[0], 0), self.index(changed[-1], len(self.headers) - 1))
        shown = {r.key for r in self.rows}
        new = [r for r in rows if r.key not in shown]
        if new:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(new) - 1)
            self.rows.extend(new)
            self.endInsertRows()
        self._reorder(self._ordered(rows))

    def replace_rows(self, rows: list[Row]) -> None:
        """New cells for the same rows in the same order: views keep their selection and scroll."""
        self.rows, self.given = list(rows), list(rows)
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
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tip(index.column())
        if role == Qt.ItemDataRole.BackgroundRole and row.marked:
            return QBrush(QColor(MARKED))
        if role == SORT_ROLE:
            return self.cell_sort_key(row, index.column())
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None


class Table(QTableView):
    """A read-only, row-selecting table whose selection is reported as the rows' keys.

    `sortable`: a click on a header orders the rows by that column (again: the other way; a third time:
    as the page gave them), numbers as numbers and empty cells last (Row.sort says what a cell sorts by
    where its text does not: seconds behind "3m 05s", the time behind "5 min ago"). The model itself
    keeps the rows in the order shown, so `row_keys`, `row_of` and `model().index(row, ...)` are in view
    order; keys must be unique; `update_rows` merges (see there)."""

    selection_changed = Signal()

    def __init__(
        self, headers: Sequence[str], multi: bool = False, parent: QWidget | None = None, *, sortable: bool = False
    ) -> None:
        super().__init__(parent)
        self.sortable = sortable
        self.rows_model = RowsModel(headers, self)
        self.setModel(self.rows_model)
        if sortable:
            header = self.horizontalHeader()
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
            header.setSortIndicatorClearable(True)
            self.setSortingEnabled(True)
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
        for i, row in enumerate(self.rows_model.rows):  # as shown (a sortable table orders them)
            if keep is not None and row.key == keep:
                self.selectRow(i)
        self.selection_changed.emit()

    def set_headers(self, headers: Sequence[str]) -> None:
        """Other columns; the rows are empty until set again."""
        self.rows_model.set_headers(headers)
        self._dragged = False

    def sort_by(self, column: int, order: Qt.SortOrder) -> None:
        """As a click on the header does (column -1: no sort, the rows as given)."""
        self.horizontalHeader().setSortIndicator(column, order)  # the view passes it on to the model

    def update_rows(self, rows: list[Row]) -> None:
        """For tables refreshed on a timer: the same rows are updated in place; otherwise the rows are
        replaced and every row selected before stays selected, so a refresh never drops what was picked.
        A sortable table merges: rows are added, dropped and changed in place, in the current order, and
        unless it shows the top, the row at the top of the view stays there."""
        if self.sortable:
            self._merge(rows)
            return
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

    def _merge(self, rows: list[Row]) -> None:
        before = self.selected_keys()
        top = self.rowAt(0) if self.verticalScrollBar().value() > 0 else -1
        anchor = self.rows_model.rows[top].key if top >= 0 else None
        offset = self.rowViewportPosition(top) if top >= 0 else 0
        empty = not self.rows_model.rows
        self.rows_model.merge_rows(rows)
        if anchor is not None and anchor in {r.key for r in rows}:
            self._keep_at(self.row_of(anchor), offset)
        if empty:
            self.fit_columns()
        if self.selected_keys() != before:
            self.selection_changed.emit()

    def _keep_at(self, row: int, offset: int) -> None:
        """Scrolls so that `row` is where it was (`offset` pixels from the viewport's top)."""
        shift = self.rowViewportPosition(row) - offset
        if self.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem:
            shift = round(shift / max(1, self.rowHeight(row)))
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + shift)

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
