"""The lineage drawing: a QGraphicsView of entity boxes coloured by kind, in columns from sources on the
left to what came of them on the right (kiln.desktop.pages.lineage.layout), joined by arrows labelled with
their relation. A click on a box is reported as `node_clicked(id)`; what it means is the page's business."""

from __future__ import annotations

from kiln.core.lineage import Edge, Entity, LineageGraph
from kiln.desktop.pages.lineage.layout import arrange
from kiln.desktop.qt import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPoint,
    QPointF,
    QPolygonF,
    QResizeEvent,
    Qt,
    QWidget,
    Signal,
)

BOX_W, BOX_H = 220.0, 48.0
COLUMN_W, ROW_H = BOX_W + 100.0, BOX_H + 36.0  # room between columns for the relation labels
MIN_SCALE = 0.5  # a wide graph is shrunk to fit, but not past reading: beyond that it scrolls
KIND_COLOURS = {
    "run": "#cfe3ff",
    "snapshot": "#e8e8e8",
    "dataset": "#d3f0cc",
    "model": "#ffe0b0",
    "environment": "#eadcf8",
}
KIND_BORDERS = {"run": "#4a78b5", "snapshot": "#8c8c8c", "dataset": "#4f9a45", "model": "#c98a2b"}
EDGE_COLOUR = "#6b6b6b"


def legend_html() -> str:
    """The kinds and their colours, for a label beside the drawing."""
    chips = (
        f'<span style="background:{colour};">&nbsp;{kind}&nbsp;</span>'
        for kind, colour in KIND_COLOURS.items()
    )
    return "&nbsp; ".join(chips)


class LineageView(QGraphicsView):
    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setBackgroundBrush(QBrush(QColor("#fbfbfb")))
        self.graph: LineageGraph | None = None
        self.boxes: dict[str, QGraphicsRectItem] = {}
        self.edge_labels: dict[Edge, QGraphicsSimpleTextItem] = {}

    def draw(self, graph: LineageGraph) -> None:
        scene = self.scene()
        scene.clear()
        self.graph, self.boxes, self.edge_labels = graph, {}, {}
        place = arrange(graph.nodes, graph.edges)
        heights: dict[int, int] = {}
        for column, _ in place.values():
            heights[column] = heights.get(column, 0) + 1
        for node in graph.nodes:
            column, row = place[node.id]
            y = (row - (heights[column] - 1) / 2) * ROW_H
            self.boxes[node.id] = self._box(node, QPointF(column * COLUMN_W, y), node.id == graph.root)
        for edge in graph.edges:
            if edge.src in self.boxes and edge.dst in self.boxes:
                self._edge(edge)
        self.setSceneRect(scene.itemsBoundingRect().adjusted(-20, -20, 20, 20))
        self.fit()

    def fit(self) -> None:
        """Shows the whole graph where it fits (never enlarged), else as much as fits around the root."""
        rect, room = self.sceneRect(), self.viewport().rect()
        if rect.isEmpty() or room.isEmpty():
            return
        scale = min(1.0, room.width() / rect.width(), room.height() / rect.height())
        self.resetTransform()
        self.scale(max(scale, MIN_SCALE), max(scale, MIN_SCALE))
        if self.graph is not None and self.graph.root in self.boxes:
            self.centerOn(self.boxes[self.graph.root])

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit()

    def _box(self, node: Entity, at: QPointF, root: bool) -> QGraphicsRectItem:
        box = QGraphicsRectItem(0, 0, BOX_W, BOX_H)
        box.setPos(at)
        box.setBrush(QBrush(QColor(KIND_COLOURS.get(node.kind, "#ffffff"))))
        pen = QPen(QColor("#202020" if root else KIND_BORDERS.get(node.kind, "#808080")))
        pen.setWidthF(3.0 if root else 1.2)
        box.setPen(pen)
        box.setData(0, node.id)
        box.setToolTip(f"{node.id}\nproject {node.project}" if node.project else node.id)
        box.setCursor(Qt.CursorShape.PointingHandCursor)
        kind = QGraphicsSimpleTextItem(node.kind + ("  (root)" if root else ""), box)
        small = QFont()
        small.setPointSizeF(small.pointSizeF() * 0.85)
        kind.setFont(small)
        kind.setBrush(QBrush(QColor("#555555")))
        kind.setPos(8, 4)
        words = node.label.removeprefix(f"{node.kind} ")  # the kind has its own line above
        font = QFont()
        font.setBold(root)
        elided = QFontMetrics(font).elidedText(words, Qt.TextElideMode.ElideMiddle, int(BOX_W - 16))
        label = QGraphicsSimpleTextItem(elided, box)
        label.setFont(font)
        label.setPos(8, BOX_H - label.boundingRect().height() - 6)
        self.scene().addItem(box)
        return box

    def _edge(self, edge: Edge) -> None:
        src, dst = self.boxes[edge.src].sceneBoundingRect(), self.boxes[edge.dst].sceneBoundingRect()
        start, end = QPointF(src.right(), src.center().y()), QPointF(dst.left(), dst.center().y())
        path = QPainterPath(start)
        if end.x() > start.x():
            bend = (end.x() - start.x()) / 2
            path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
        else:  # backwards, closing a loop: from under the source round to under the target's right
            start, end = QPointF(src.left(), src.bottom() - 8), QPointF(dst.right(), dst.bottom() - 8)
            path = QPainterPath(start)
            drop = BOX_H * 0.9
            path.cubicTo(
                QPointF(start.x() - 40, start.y() + drop), QPointF(end.x() + 40, end.y() + drop), end
            )
        pen = QPen(QColor(EDGE_COLOUR))
        pen.setWidthF(1.4)
        line = QGraphicsPathItem(path)
        line.setPen(pen)
        line.setZValue(-1)
        self.scene().addItem(line)
        direction = 1 if end.x() > start.x() else -1
        head = QPolygonF(
            [
                end,
                QPointF(end.x() - 9 * direction, end.y() - 5),
                QPointF(end.x() - 9 * direction, end.y() + 5),
            ]
        )
        arrow = QGraphicsPolygonItem(head)
        arrow.setBrush(QBrush(QColor(EDGE_COLOUR)))
        arrow.setPen(QPen(Qt.PenStyle.NoPen))
        self.scene().addItem(arrow)
        self.edge_labels[edge] = self._relation(edge.relation, path.pointAtPercent(0.5))

    def _relation(self, relation: str, at: QPointF) -> QGraphicsSimpleTextItem:
        """The relation's name on a white patch, so it reads over the line it names."""
        text = QGraphicsSimpleTextItem(relation)
        rect = text.boundingRect()
        patch = QGraphicsRectItem(rect.adjusted(-3, -1, 3, 1))
        patch.setBrush(QBrush(QColor("#fbfbfb")))
        patch.setPen(QPen(Qt.PenStyle.NoPen))
        patch.setPos(at.x() - rect.width() / 2, at.y() - rect.height() / 2)
        text.setParentItem(patch)
        text.setBrush(QBrush(QColor("#404040")))
        patch.setZValue(-0.5)  # above its line, under the boxes: a long edge's name never hides an entity
        self.scene().addItem(patch)
        return text

    def node_at(self, pos: QPoint) -> str:
        """The entity drawn at a viewport position ("" for none), whatever else is drawn there too."""
        for found in self.items(pos):
            item: QGraphicsItem | None = found
            while item is not None and item.data(0) is None:
                item = item.parentItem()
            if item is not None:
                return str(item.data(0))
        return ""

    def centre_of(self, node_id: str) -> QPoint:
        """Where the entity's box is on the screen (the viewport), to click it."""
        return self.mapFromScene(self.boxes[node_id].sceneBoundingRect().center())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        node = self.node_at(event.position().toPoint())
        if node and event.button() == Qt.MouseButton.LeftButton:
            event.accept()
            self.node_clicked.emit(node)
            return
        super().mousePressEvent(event)
