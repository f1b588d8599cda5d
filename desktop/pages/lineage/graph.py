"""The lineage drawing: a QGraphicsView of entity boxes coloured by kind, in columns from sources on the
left to what came of them on the right (kiln.desktop.pages.lineage.layout), joined by arrows labelled with
their relation. A click on a box is reported as `node_clicked(id)`; what it means is the page's business.

Boxes are labelled for people (`box_lines`): a snapshot by its message, a dataset or model by name and
version (a model with its aliases), a run by its name or id and state; the full id is in the tooltip. A
relation's name sits in the gap just before the box its arrow enters, on a patch of background, moved
down where another name already sits there, so it never covers a box or another name. Ctrl+wheel and
`zoom_by` zoom, `fit` shows the whole graph; a graph is fitted when drawn and when first shown, and
refitted on resize until the person zooms.
"""

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
    QRectF,
    QResizeEvent,
    QShowEvent,
    Qt,
    QWheelEvent,
    QWidget,
    Signal,
)

BOX_W, BOX_H = 230.0, 52.0
GAP = 120.0  # between columns: room for the relation names, which sit in it
COLUMN_W, ROW_H = BOX_W + GAP, BOX_H + 36.0
MIN_SCALE = 0.5  # a graph fitted when drawn is shrunk to fit, but not past reading: beyond that it scrolls
ZOOM_STEP = 1.25  # one wheel notch or one +/– press
ZOOM_RANGE = (0.1, 4.0)
SHORT_ID = 12  # hex digits of a snapshot or environment id shown in its box
KIND_COLOURS = {
    "run": "#cfe3ff",
    "snapshot": "#e8e8e8",
    "dataset": "#d3f0cc",
    "model": "#ffe0b0",
    "environment": "#eadcf8",
    "monitor": "#fbd3d3",
    "deployment": "#d6f1f5",
}
KIND_BORDERS = {"run": "#4a78b5", "snapshot": "#8c8c8c", "dataset": "#4f9a45", "model": "#c98a2b", "monitor": "#b54a4a"}
EDGE_COLOUR = "#6b6b6b"
BACKGROUND = "#fbfbfb"


def legend_html() -> str:
    """The kinds and their colours, for a label beside the drawing."""
    chips = (f'<span style="background:{colour};">&nbsp;{kind}&nbsp;</span>' for kind, colour in KIND_COLOURS.items())
    return "&nbsp; ".join(chips)


def box_lines(node: Entity) -> tuple[str, str]:
    """(the small line: kind and short id or project; the title: what people call it) for one box.

    The coordinator's label says what the entity is called (kiln/coordinator/entities.py): "snapshot add
    churn features", "dataset customers v3", "model churn v2 · production", "run baseline (succeeded)"."""
    title = node.label.removeprefix(f"{node.kind} ") or node.id
    rest = node.id.partition(":")[2]
    if node.kind in ("snapshot", "environment"):
        short = rest[:SHORT_ID]
        return f"{node.kind} · {short}", title
    if node.kind == "run":
        return ("run" if title.startswith(rest) else f"run · {rest}"), title
    return (f"{node.kind} · {node.project}" if node.project else node.kind), title


def tooltip(node: Entity) -> str:
    lines = [node.label, node.id]
    if node.project:
        lines.append(f"project {node.project}")
    return "\n".join(lines)


class LineageView(QGraphicsView):
    node_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(BACKGROUND)))
        self.graph: LineageGraph | None = None
        self.boxes: dict[str, QGraphicsRectItem] = {}
        self.titles: dict[str, QGraphicsSimpleTextItem] = {}  # each box's title, as drawn (elided)
        self.edge_labels: dict[Edge, QGraphicsSimpleTextItem] = {}
        self.zoomed = False  # by the person: a resize then keeps their zoom rather than refitting

    # -- drawing --------------------------------------------------------------------------------------

    def draw(self, graph: LineageGraph) -> None:
        scene = self.scene()
        scene.clear()
        self.graph, self.boxes, self.titles, self.edge_labels = graph, {}, {}, {}
        place = arrange(graph.nodes, graph.edges)
        heights: dict[int, int] = {}
        for column, _ in place.values():
            heights[column] = heights.get(column, 0) + 1
        for node in graph.nodes:
            column, row = place[node.id]
            y = (row - (heights[column] - 1) / 2) * ROW_H
            self.boxes[node.id] = self._box(node, QPointF(column * COLUMN_W, y), node.id == graph.root)
        taken: list[QRectF] = []
        for edge in graph.edges:
            if edge.src in self.boxes and edge.dst in self.boxes:
                self._edge(edge, taken)
        self.setSceneRect(scene.itemsBoundingRect().adjusted(-20, -20, 20, 20))
        self.zoomed = False
        self.fit(whole=False)

    def _box(self, node: Entity, at: QPointF, root: bool) -> QGraphicsRectItem:
        box = QGraphicsRectItem(0, 0, BOX_W, BOX_H)
        box.setPos(at)
        box.setBrush(QBrush(QColor(KIND_COLOURS.get(node.kind, "#ffffff"))))
        pen = QPen(QColor("#202020" if root else KIND_BORDERS.get(node.kind, "#808080")))
        pen.setWidthF(3.0 if root else 1.2)
        box.setPen(pen)
        box.setData(0, node.id)
        box.setToolTip(tooltip(node))
        box.setCursor(Qt.CursorShape.PointingHandCursor)
        small_line, title = box_lines(node)
        small = QFont()
        small.setPointSizeF(small.pointSizeF() * 0.85)
        kind = QGraphicsSimpleTextItem(small_line + ("  (root)" if root else ""), box)
        kind.setFont(small)
        kind.setBrush(QBrush(QColor("#555555")))
        kind.setPos(8, 5)
        font = QFont()
        font.setBold(root)
        elided = QFontMetrics(font).elidedText(title, Qt.TextElideMode.ElideRight, int(BOX_W - 16))
        label = QGraphicsSimpleTextItem(elided, box)
        label.setFont(font)
        label.setPos(8, BOX_H - label.boundingRect().height() - 7)
        self.titles[node.id] = label
        self.scene().addItem(box)
        return box

    def _edge(self, edge: Edge, taken: list[QRectF]) -> None:
        src, dst = self.boxes[edge.src].sceneBoundingRect(), self.boxes[edge.dst].sceneBoundingRect()
        start, end = QPointF(src.right(), src.center().y()), QPointF(dst.left(), dst.center().y())
        forward = end.x() > start.x()
        path = QPainterPath(start)
        if forward:
            bend = min((end.x() - start.x()) / 2, GAP)
            path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
        else:  # backwards, closing a loop: from under the source round to under the target's right
            start, end = QPointF(src.left(), src.bottom() - 8), QPointF(dst.right(), dst.bottom() - 8)
            path = QPainterPath(start)
            drop = BOX_H * 0.9
            path.cubicTo(QPointF(start.x() - 40, start.y() + drop), QPointF(end.x() + 40, end.y() + drop), end)
        pen = QPen(QColor(EDGE_COLOUR))
        pen.setWidthF(1.4)
        line = QGraphicsPathItem(path)
        line.setPen(pen)
        line.setZValue(-1)
        self.scene().addItem(line)
        direction = 1 if forward else -1
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
        at = _point_at_x(path, end.x() - GAP / 2) if forward else path.pointAtPercent(0.5)
        self.edge_labels[edge] = self._relation(edge.relation, at, taken)

    def _relation(self, relation: str, at: QPointF, taken: list[QRectF]) -> QGraphicsSimpleTextItem:
        """The relation's name on a patch of background, centred on `at` unless that covers a box or a
        name already placed: then moved down, a line at a time, to the first free place."""
        text = QGraphicsSimpleTextItem(relation)
        small = QFont()
        small.setPointSizeF(small.pointSizeF() * 0.85)
        text.setFont(small)
        rect = text.boundingRect().adjusted(-3, -1, 3, 1)
        place = QRectF(at.x() - rect.width() / 2, at.y() - rect.height() / 2, rect.width(), rect.height())
        boxes = [b.sceneBoundingRect() for b in self.boxes.values()]
        for _ in range(200):  # bounded: a neighbourhood has tens of entities
            if not any(place.intersects(r) for r in (*taken, *boxes)):
                break
            place.translate(0, rect.height() + 1)
        taken.append(place)
        patch = QGraphicsRectItem(rect)
        patch.setBrush(QBrush(QColor(BACKGROUND)))
        patch.setPen(QPen(Qt.PenStyle.NoPen))
        patch.setPos(place.x() - rect.x(), place.y() - rect.y())
        text.setParentItem(patch)
        text.setBrush(QBrush(QColor("#404040")))
        patch.setZValue(-0.5)  # above its line, under the boxes
        self.scene().addItem(patch)
        return text

    # -- zoom and fit ---------------------------------------------------------------------------------

    @property
    def scale_factor(self) -> float:
        return float(self.transform().m11())

    def zoom_by(self, factor: float) -> None:
        """Zooms in (factor > 1) or out, within ZOOM_RANGE; the person's zoom is kept on resize."""
        low, high = ZOOM_RANGE
        target = min(high, max(low, self.scale_factor * factor))
        if target != self.scale_factor:
            self.scale(target / self.scale_factor, target / self.scale_factor)
        self.zoomed = True

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def fit(self, whole: bool = True) -> None:
        """The whole graph in view, never enlarged past its natural size. Not `whole` (a graph just drawn):
        never shrunk below MIN_SCALE either, centred on the root where it does not fit."""
        rect, room = self.sceneRect(), self.viewport().rect()
        if rect.isEmpty() or room.isEmpty():
            return
        self.resetTransform()
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        fitting = self.scale_factor
        scale = min(1.0, fitting) if whole else max(min(1.0, fitting), MIN_SCALE)
        self.resetTransform()
        self.scale(scale, scale)
        if scale <= fitting:
            self.centerOn(rect.center())
        elif self.graph is not None and self.graph.root in self.boxes:
            self.centerOn(self.boxes[self.graph.root])
        self.zoomed = False

    def fit_whole(self) -> None:
        """The Fit button: the whole graph, however small that makes it."""
        self.fit(whole=True)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self.zoomed:
            self.fit(whole=False)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.zoomed:
            self.fit(whole=False)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Ctrl+wheel zooms around the pointer; the wheel alone scrolls, as everywhere else."""
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.zoom_by(ZOOM_STEP**steps)
            event.accept()
            return
        super().wheelEvent(event)

    # -- what is where --------------------------------------------------------------------------------

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


def _point_at_x(path: QPainterPath, x: float) -> QPointF:
    """The point of a left-to-right path whose x is `x` (bisection: its x grows along it)."""
    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        if path.pointAtPercent(mid).x() < x:
            low = mid
        else:
            high = mid
    return path.pointAtPercent((low + high) / 2)
