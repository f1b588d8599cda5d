"""The compare view's building blocks: a table whose columns are runs (each header with the run's colour,
the same colour as its line in the overlay charts), its best cells drawn bold and green, sized to show
every row so the sections scroll together; and a section that opens and closes under a titled arrow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiln.desktop.pages.compare.rows import GridRow
from kiln.desktop.qt import (
    QBrush,
    QColor,
    QFont,
    QObject,
    QPixmap,
    QResizeEvent,
    QSizePolicy,
    Qt,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.widgets.chart import PALETTE
from kiln.desktop.widgets.common import Index, RowsModel, Table

SWATCH_PX = 10
BEST_COLOUR = "#1b7f3b"  # a green that reads on the "differs" amber as well as on white


def run_colour(position: int) -> str:
    """The colour of the run at `position`: its line's colour in every overlay chart."""
    return PALETTE[position % len(PALETTE)]


def swatch(colour: str) -> QPixmap:
    """A small square of the run's colour, beside its id in a column header."""
    pixmap = QPixmap(SWATCH_PX, SWATCH_PX)
    pixmap.fill(QColor(colour))
    return pixmap


class GridModel(RowsModel):
    """Rows as a Table shows them; a GridRow's best cells bold and green, run columns with their colour."""

    def __init__(self, headers: Sequence[str], first_run_column: int, parent: QObject | None = None) -> None:
        super().__init__(headers, parent)
        self.first_run_column = first_run_column

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role in (Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ForegroundRole):
            row = self.rows[index.row()]
            if isinstance(row, GridRow) and index.column() in row.best:
                if role == Qt.ItemDataRole.ForegroundRole:
                    return QBrush(QColor(BEST_COLOUR))
                font = QFont()
                font.setBold(True)
                return font
        return super().data(index, role)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DecorationRole and horizontal and section >= self.first_run_column:
            return swatch(run_colour(section - self.first_run_column))
        return super().headerData(section, orientation, role)


class GridTable(Table):
    """A Table over GridRows with one column per run from `first_run_column` on, as tall as its rows (the
    compare view scrolls its sections as one page rather than each table on its own)."""

    def __init__(self, headers: Sequence[str], first_run_column: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(headers, parent=parent)
        self.rows_model = GridModel(headers, first_run_column, self)
        self.setModel(self.rows_model)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def show_rows(self, rows: list[Any]) -> None:
        """Shows `rows` (the same keys in the same order: updated in place, so cell widgets stay)."""
        if rows and [r.key for r in rows] == self.row_keys():
            self.rows_model.replace_rows(rows)
        else:
            self.rows_model.set_rows(rows)
        self.fit_columns()
        self.fit_height()

    def fit_height(self) -> None:
        """Every row in sight, and the scroll bar below them when the columns are wider than the table."""
        rows = self.rows_model.rowCount()
        body = sum(self.rowHeight(i) for i in range(rows)) if rows else self.verticalHeader().defaultSectionSize()
        header = self.horizontalHeader().sizeHint().height()
        wide = self.horizontalHeader().length() > self.width() - 2 * self.frameWidth()
        scroll = self.horizontalScrollBar().sizeHint().height() if wide else 0
        self.setFixedHeight(body + header + scroll + 2 * self.frameWidth())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_height()


class Collapsible(QWidget):
    """A titled section that opens and closes with a click on its title (closed to begin with)."""

    def __init__(self, title: str, body: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body = body
        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.toggle.toggled.connect(self.set_open)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(body)
        self.set_title(title)
        self.set_open(False)

    def set_title(self, title: str) -> None:
        self.toggle.setText(title)

    def is_open(self) -> bool:
        return self.toggle.isChecked()

    def set_open(self, on: bool) -> None:
        if self.toggle.isChecked() != on:
            self.toggle.setChecked(on)  # comes back here through toggled
            return
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)
