"""Rounded labels ("pills") painted in table cells: the one painter behind the Runs table's state chips
(pages/runs/chips.py) and the Models page's alias pills (pages/models/pills.py), so both draw alike. The
callers decide the words, the colours and where each pill goes; the cell's text stays what it says."""

from __future__ import annotations

from kiln.desktop.qt import (
    QColor,
    QModelIndex,
    QPainter,
    QPersistentModelIndex,
    QRectF,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    Qt,
)


def paint_cell_background(
    delegate: QStyledItemDelegate,
    painter: QPainter,
    option: QStyleOptionViewItem,
    index: QModelIndex | QPersistentModelIndex,
) -> None:
    """The cell as any other (its background, selection, alternating rows), without its text: the pills go
    there instead."""
    look = QStyleOptionViewItem(option)
    delegate.initStyleOption(look, index)
    look.text = ""
    style = look.widget.style() if look.widget is not None else None
    if style is not None:
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, look, painter, look.widget)


def paint_pill(painter: QPainter, pill: QRectF, colours: tuple[str, str], text: str) -> None:
    """`text` centred in a rounded rectangle of `colours` (fill, text colour); the painter is left as it was."""
    fill, ink = colours
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(fill))
    painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
    painter.setPen(QColor(ink))
    painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), text)
    painter.restore()
