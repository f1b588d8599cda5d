"""Alias pills: the Aliases column of the versions table painted as rounded labels ("production" in green,
"staging" in blue, any other alias grey), so where production points is seen at a glance. The cell's
text stays the plain list ("production, staging"): it is what a tooltip, a copy and a test read. The pills
are painted as the Runs table's state chips are (kiln.desktop.widgets.pills)."""

from __future__ import annotations

from kiln.desktop.qt import (
    QFontMetrics,
    QModelIndex,
    QPainter,
    QPersistentModelIndex,
    QRectF,
    QSize,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    Qt,
)
from kiln.desktop.widgets.pills import paint_cell_background, paint_pill

PILL_COLOURS = {"production": ("#d7f0de", "#1b6e35"), "staging": ("#dbe8f7", "#1f5fa8")}
OTHER_COLOURS = ("#e8e8e8", "#444444")
PAD_X, PAD_Y, GAP = 7, 2, 4  # inside a pill, above and below it, between pills


def aliases_in(text: str) -> list[str]:
    return [a for a in (part.strip() for part in text.split(",")) if a]


def pill_colours(alias: str) -> tuple[str, str]:
    """(fill, text) for an alias's pill."""
    return PILL_COLOURS.get(alias, OTHER_COLOURS)


class PillDelegate(QStyledItemDelegate):
    """Paints each alias of a cell as a pill over the row's own background (selection, highlight)."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        aliases = aliases_in(str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        paint_cell_background(self, painter, option, index)  # the pills instead of the text
        metrics = QFontMetrics(option.font)
        height = min(option.rect.height() - 2 * PAD_Y, metrics.height() + 2)
        x = option.rect.left() + GAP
        top = option.rect.top() + (option.rect.height() - height) / 2
        for alias in aliases:
            width = metrics.horizontalAdvance(alias) + 2 * PAD_X
            if x + width > option.rect.right():
                break  # no room left: the tooltip still lists every alias
            paint_pill(painter, QRectF(x, top, width, height), pill_colours(alias), alias)
            x += width + GAP

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        base = super().sizeHint(option, index)
        metrics = QFontMetrics(option.font)
        aliases = aliases_in(str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        width = sum(metrics.horizontalAdvance(a) + 2 * PAD_X + GAP for a in aliases) + GAP
        return QSize(max(base.width(), width), base.height())
