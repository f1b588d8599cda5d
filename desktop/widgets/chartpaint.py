"""Drawing a Chart (chart.py) with QPainter: title, note, legend, grid and tick labels, the lines (the raw
line faint behind its smoothed one) and the hovered point. Everything it draws, the chart computed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln.desktop.qt import QColor, QFontMetrics, QPainter, QPen, QPointF, QRectF, Qt

if TYPE_CHECKING:
    from kiln.desktop.widgets.chart import Chart

PAD = 8
GRID = "#e6e6e6"
AXIS = "#9a9a9a"
TEXT = "#333333"
NOTE = "#a05a00"
RAW_ALPHA = 70
LINE_WIDTH = 1.0  # Qt's fast path: wider antialiased lines cost ten times more to draw


def pen(color: QColor | str, width: float = 1.0, alpha: int = 255) -> QPen:
    shade = QColor(color)
    shade.setAlpha(alpha)
    out = QPen(shade, width)
    out.setCosmetic(True)
    return out


def paint_chart(chart: Chart, painter: QPainter) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.fillRect(chart.rect(), QColor("white"))
    rect = chart.plot_rect()
    _header(chart, painter)
    _grid(chart, painter, rect)
    painter.save()
    painter.setClipRect(rect.adjusted(-2, -2, 2, 2))
    for placed, raw, drawn in chart.polygons():
        if raw is not None:
            painter.setPen(pen(placed.color, LINE_WIDTH, RAW_ALPHA))
            painter.drawPolyline(raw)
        painter.setPen(pen(placed.color, LINE_WIDTH))
        if len(placed.xs) == 1:
            painter.setBrush(QColor(placed.color))
            painter.drawEllipse(drawn.at(0), 3.0, 3.0)
        else:
            painter.drawPolyline(drawn)
    painter.restore()
    _hovered(chart, painter)
    if not chart.placed():
        painter.setPen(QColor(AXIS))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no points to draw")


def _header(chart: Chart, painter: QPainter) -> None:
    """Title, then the note (what could not be drawn as asked), then the legend when lines overlay."""
    metrics = QFontMetrics(chart.font())
    height, y = metrics.height(), PAD
    font = chart.font()
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor(TEXT))
    painter.drawText(QRectF(PAD, y, chart.width() - 2 * PAD, height), Qt.AlignmentFlag.AlignLeft, chart.title())
    painter.setFont(chart.font())
    y += height
    if chart.note():
        painter.setPen(QColor(NOTE))
        text = metrics.elidedText(chart.note(), Qt.TextElideMode.ElideRight, chart.width() - 2 * PAD)
        painter.drawText(QRectF(PAD, y, chart.width() - 2 * PAD, height), Qt.AlignmentFlag.AlignLeft, text)
        y += height
    if len(chart.placed()) > 1:
        x = float(PAD)
        for placed in chart.placed():
            label = metrics.elidedText(placed.line.label, Qt.TextElideMode.ElideMiddle, 160)
            width = metrics.horizontalAdvance(label) + 24
            if x + width > chart.width():
                break  # the rest are named on hover
            painter.setPen(pen(placed.color, 3.0))
            painter.drawLine(QPointF(x, y + height / 2), QPointF(x + 14, y + height / 2))
            painter.setPen(QColor(TEXT))
            painter.drawText(QPointF(x + 18, y + metrics.ascent()), label)
            x += width


def _grid(chart: Chart, painter: QPainter, rect: QRectF) -> None:
    metrics = QFontMetrics(chart.font())
    painter.setPen(QColor(TEXT))
    for value, label in chart.y_ticks():
        y = chart.pixel(chart.x_range()[0], value).y()
        painter.setPen(pen(GRID))
        painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
        painter.setPen(QColor(TEXT))
        box = QRectF(0, y - metrics.height() / 2, rect.left() - PAD, metrics.height())
        painter.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
    for value, label in chart.x_ticks():
        x = chart.pixel(value, chart.y_range()[0]).x()
        painter.setPen(pen(GRID))
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        painter.setPen(QColor(TEXT))
        width = metrics.horizontalAdvance(label)
        left = min(max(0.0, x - width / 2), chart.width() - width - 2.0)
        painter.drawText(QPointF(left, rect.bottom() + metrics.ascent() + 4), label)
    painter.setPen(pen(AXIS))
    painter.drawRect(rect)
    painter.setPen(QColor(AXIS))
    title_box = QRectF(rect.left(), rect.bottom() + metrics.height() + 4, rect.width(), metrics.height())
    painter.drawText(title_box, Qt.AlignmentFlag.AlignCenter, chart.x_title())


def _hovered(chart: Chart, painter: QPainter) -> None:
    hovered = chart.hovered()
    if hovered is None:
        return
    placed = chart.placed()[hovered[0]]
    point = chart.pixel(placed.xs[hovered[1]], placed.drawn[hovered[1]])
    rect = chart.plot_rect()
    painter.setPen(pen(AXIS, 1.0, 160))
    painter.drawLine(QPointF(point.x(), rect.top()), QPointF(point.x(), rect.bottom()))
    painter.setPen(pen(placed.color, 2.0))
    painter.setBrush(QColor("white"))
    painter.drawEllipse(point, 4.0, 4.0)
