"""A run's state drawn as a coloured pill ("chip"): blue while queued or going, green when it succeeded,
red when it failed or was lost, grey when cancelled, amber when preempted, so a column of states is read
at a glance. The text stays what the cell says ("failed (exit 3)"); colour only adds to it. These are the
state colours of the whole desktop (the run page's state line, the Projects overview's chips); the pill
itself is painted by kiln.desktop.widgets.pills."""

from __future__ import annotations

from collections.abc import Callable

from kiln.core.runs import RunState
from kiln.desktop.qt import (
    QModelIndex,
    QObject,
    QPainter,
    QPersistentModelIndex,
    QRectF,
    QSize,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    Qt,
)
from kiln.desktop.widgets.pills import paint_cell_background, paint_pill

BLUE = ("#dbe8fb", "#0b4a9e")  # (fill, text)
GREEN = ("#d5f0db", "#17602c")
RED = ("#fbdcdc", "#9e1616")
GREY = ("#e4e4e4", "#4a4a4a")
AMBER = ("#fdebc8", "#7a4b00")
CHIP_COLOURS: dict[RunState, tuple[str, str]] = {
    RunState.QUEUED: BLUE,
    RunState.ASSIGNED: BLUE,
    RunState.PREPARING: BLUE,
    RunState.RUNNING: BLUE,
    RunState.SUCCEEDED: GREEN,
    RunState.FAILED: RED,
    RunState.LOST: RED,
    RunState.CANCELLED: GREY,
    RunState.PREEMPTED: AMBER,
}
PAD = 8  # pixels of fill either side of the text
MARGIN = 3  # pixels between the chip and the cell's edges


def chip_colours(text: str) -> tuple[str, str]:
    """(fill, text colour) of the chip for a state cell ("failed (exit 3)" is a failure); grey if unknown."""
    word = text.split(" ", 1)[0]
    try:
        return CHIP_COLOURS[RunState(word)]
    except ValueError:
        return GREY


class StateChips(QStyledItemDelegate):
    """Paints a state cell as a rounded pill in its state's colours, over the row's usual background;
    `colours` gives them for a cell's text (a run's state by default; an environment's build state…)."""

    def __init__(self, parent: QObject | None = None, colours: Callable[[str], tuple[str, str]] = chip_colours) -> None:
        super().__init__(parent)
        self.colours = colours

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        paint_cell_background(self, painter, option, index)  # the text goes in the chip
        if not text:
            return
        cell = QRectF(option.rect).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        width = min(cell.width(), option.fontMetrics.horizontalAdvance(text) + 2 * PAD)
        chip = QRectF(cell.x(), cell.y(), width, cell.height())
        shown = option.fontMetrics.elidedText(text, Qt.TextElideMode.ElideRight, int(chip.width()) - 2 * PAD + 2)
        paint_pill(painter, chip, self.colours(text), shown)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + 2 * (PAD + MARGIN), size.height())
