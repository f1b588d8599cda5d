"""The Lineage page: what an entity came from and what came of it, as the coordinator recorded it. An
entity id (typed, or handed over by a run page or a model version), a direction and a depth; the graph
drawn left to right; the chosen entity's details and comments below it.

Clicking a run opens its run page (and shows its details here); clicking anything else re-roots the
graph on it, and Back returns to the previous root, so one can walk the lineage without typing ids."""

from __future__ import annotations

import html

from kiln.client import Client
from kiln.core.lineage import LineageGraph, split
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.lineage.graph import LineageView, legend_html
from kiln.desktop.qt import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.comments import CommentsPanel
from kiln.desktop.widgets.common import Message

DIRECTIONS = {"both": "", "up": "up", "down": "down"}  # shown -> what the coordinator is asked
DEFAULT_DEPTH = 5
MAX_DEPTH = 50  # kiln.core.lineage.MAX_DEPTH: the spin box cannot ask for what would be refused
DETAILS_HEIGHT = 190
PLACEHOLDER = "run:r-…, snapshot:<id>, dataset:PROJECT/NAME@V or model:PROJECT/NAME@V"


class LineagePage(QWidget):
    """Emits `run_wanted(run id)` when a run's box is clicked (the window opens its run page)."""

    run_wanted = Signal(str)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.graph: LineageGraph | None = None
        self.previous: list[str] = []  # the roots walked through, for Back
        self.entity = QLineEdit(self, placeholderText=PLACEHOLDER)
        self.direction = QComboBox(self)
        self.direction.addItems(list(DIRECTIONS))
        self.depth_box = QSpinBox(self, minimum=1, maximum=MAX_DEPTH, value=DEFAULT_DEPTH)
        self.show_button = QPushButton("Show", self)
        self.back = QPushButton("Back", self)
        self.summary = Message(self)
        self.view = LineageView(self)
        self.zoom_out, self.zoom_in, self.fit = (QPushButton(t, self) for t in ("−", "+", "Fit"))
        self.zoom_out.setToolTip("Zoom out (Ctrl+wheel)")
        self.zoom_in.setToolTip("Zoom in (Ctrl+wheel)")
        self.fit.setToolTip("Show the whole graph")
        for button in (self.zoom_out, self.zoom_in):
            button.setFixedWidth(button.fontMetrics().horizontalAdvance("+") * 4 + 12)
        self.details = QLabel("", self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.open_run = QPushButton("Open run page", self)
        self.comments = CommentsPanel(client, runner, self)
        self.comments.setFixedHeight(DETAILS_HEIGHT)
        self._lay_out()
        self.show_button.clicked.connect(self.load)
        self.entity.returnPressed.connect(self.load)
        self.back.clicked.connect(self._back)
        self.view.node_clicked.connect(self._clicked)
        self.open_run.clicked.connect(self._open_run)
        self.zoom_in.clicked.connect(self.view.zoom_in)
        self.zoom_out.clicked.connect(self.view.zoom_out)
        self.fit.clicked.connect(self.view.fit_whole)
        self._select("")

    def _lay_out(self) -> None:
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Entity", self))
        controls.addWidget(self.entity, 1)
        controls.addWidget(QLabel("Direction", self))
        controls.addWidget(self.direction)
        controls.addWidget(QLabel("Depth", self))
        controls.addWidget(self.depth_box)
        controls.addWidget(self.show_button)
        controls.addWidget(self.back)
        side = QGroupBox("Selected entity", self)
        column = QVBoxLayout(side)
        column.addWidget(self.details, 1)
        column.addWidget(self.open_run)
        below = QHBoxLayout()  # under the drawing, which keeps the whole width for itself
        below.addWidget(side, 1)
        below.addWidget(self.comments, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.summary)
        drawing = QHBoxLayout()  # the legend, and the view's zoom beside it
        drawing.addWidget(QLabel(legend_html(), self), 1)
        for button in (self.zoom_out, self.zoom_in, self.fit):
            drawing.addWidget(button)
        layout.addLayout(drawing)
        layout.addWidget(self.view, 1)
        layout.addLayout(below)

    def show_entity(self, entity: str) -> None:
        """Roots the graph on `entity` (from a run page, a model version, or a click here)."""
        if self.graph is not None and self.graph.root != entity:
            self.previous.append(self.graph.root)
        self.entity.setText(entity)
        self.load()

    def load(self) -> None:
        entity = self.entity.text().strip()
        if not entity:
            self.summary.error("enter an entity id: " + PLACEHOLDER)
            return
        direction, depth = DIRECTIONS[self.direction.currentText()], self.depth_box.value()
        self.summary.info(f"reading the lineage of {entity}…")
        self.runner.run(
            f"lineage of {entity}",
            lambda: self.client.lineage(entity, direction, depth),
            self._drawn,
            lambda e: self.summary.error(f"could not read the lineage of {entity}: {brief(e)}"),
        )

    def _drawn(self, graph: LineageGraph) -> None:
        self.graph = graph
        self.entity.setText(graph.root)  # the canonical id, whatever form was typed
        self.view.draw(graph)
        n, m = len(graph.nodes), len(graph.edges)
        root = graph.node(graph.root)
        self.summary.info(
            f"{n} entit{'ies' if n != 1 else 'y'} and {m} link{'s' if m != 1 else ''} around "
            f"{root.label if root else graph.root}; "
            "click a run to open it, anything else to centre the graph on it"
        )
        self.back.setEnabled(bool(self.previous))
        self._select(graph.root)

    def _select(self, node_id: str) -> None:
        """Shows an entity's details and comments below the graph."""
        node = self.graph.node(node_id) if self.graph is not None else None
        if node is None:
            self.details.setText("Nothing shown yet: enter an entity id, or open Lineage from a run page.")
            self.open_run.setEnabled(False)
            self.back.setEnabled(bool(self.previous))
            self.comments.set_entity("")
            return
        label, project, ident = (html.escape(t) for t in (node.label, node.project or "—", node.id))
        self.details.setText(f"<b>{label}</b><br>kind: {node.kind}<br>project: {project}<br>id: {ident}")
        self.open_run.setEnabled(node.kind == "run")
        self.comments.set_entity(node.id, node.project)

    def _clicked(self, node_id: str) -> None:
        node = self.graph.node(node_id) if self.graph is not None else None
        if node is None:
            return
        if node.kind == "run":
            self._select(node_id)
            self._open_run()
        elif self.graph is not None and node_id != self.graph.root:
            self.show_entity(node_id)

    def _open_run(self) -> None:
        entity = self.comments.entity
        if entity:
            kind, rest = split(entity)
            if kind == "run":
                self.run_wanted.emit(rest)

    def _back(self) -> None:
        if self.previous:
            self.entity.setText(self.previous.pop())
            self.load()
