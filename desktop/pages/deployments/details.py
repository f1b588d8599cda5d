"""The picked endpoint on the Deployments page: what it is (model, what it follows, state, URL), its versions
with their weights serving and asked, its replicas and their health, and three tabs: the per-version card
over the page's window, the state history, and the newest predictions.

Each prediction row opens the lineage of the model version that answered it (Lineage, or a double-click):
`model:PROJECT/MODEL@VERSION`, the same entity the Models page's Lineage opens. A replica's run opens on a
double-click (its run page: logs, state, node)."""

from __future__ import annotations

import time

from kiln.client import Client
from kiln.core.deployments import Prediction
from kiln.core.lineage import model_id
from kiln.desktop.pages.deployments.rows import (
    CARD_HEADERS,
    EVENT_HEADERS,
    PREDICTION_HEADERS,
    PREDICTIONS_SHOWN,
    REPLICA_HEADERS,
    REPLICA_STATE_COLUMN,
    VERSION_HEADERS,
    EndpointView,
    card_rows,
    cards_title,
    details_text,
    event_rows,
    prediction_rows,
    replica_rows,
    version_rows,
)
from kiln.desktop.pages.runs.chips import StateChips
from kiln.desktop.qt import (
    QHBoxLayout,
    QLabel,
    QModelIndex,
    QPushButton,
    QSplitter,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import Row
from kiln.desktop.widgets.common import Table


def load_view(client: Client, name: str, since: float) -> EndpointView:
    """The endpoint with its replicas and history, its card since `since`, and its newest predictions."""
    d = client.get_deployment(name)
    cards = client.deployment_stats(name, since)
    found = client.list_predictions(name, since=since, bodies=False, limit=PREDICTIONS_SHOWN)
    return EndpointView(d, tuple(cards), tuple(found), since)


def _titled(parent: QWidget, title: str, table: Table) -> QWidget:
    box = QWidget(parent)
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(QLabel(title, box))
    column.addWidget(table, 1)
    return box


class EndpointPanel(QWidget):
    """Emits `lineage_wanted(entity id)` for a prediction's model version, `run_wanted(run id)` for a replica."""

    lineage_wanted = Signal(str)
    run_wanted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view: EndpointView | None = None
        self.predictions: dict[str, Prediction] = {}
        self.details = QLabel("", self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.versions = Table(VERSION_HEADERS, parent=self)
        self.versions.setToolTip("highlighted: a version whose share is changing (asked, not served yet)")
        self.replicas = Table(REPLICA_HEADERS, parent=self)
        self.replicas.setItemDelegateForColumn(REPLICA_STATE_COLUMN, StateChips(self.replicas))
        self.replicas.setToolTip("double-click a replica to open its run")
        self.cards_title = QLabel("", self)
        self.cards = Table(CARD_HEADERS, parent=self)
        self.events = Table(EVENT_HEADERS, parent=self)
        self.prediction_table = Table(PREDICTION_HEADERS, parent=self)
        self.prediction_table.setToolTip("double-click a prediction to see the lineage of the version that answered")
        self.lineage = QPushButton("Lineage of its version", self)
        self.predictions_title = QLabel("", self)
        self.tabs = QTabWidget(self)
        self._lay_out()
        self.prediction_table.selection_changed.connect(self._picked)
        self.prediction_table.doubleClicked.connect(self._prediction_clicked)
        self.replicas.doubleClicked.connect(self._replica_clicked)
        self.lineage.clicked.connect(self.open_lineage)
        self.set_view(None)

    def _lay_out(self) -> None:
        upper = QSplitter(Qt.Orientation.Horizontal, self)
        upper.addWidget(_titled(self, "<b>Versions and weights</b>", self.versions))
        upper.addWidget(_titled(self, "<b>Replicas</b>", self.replicas))
        upper.setStretchFactor(0, 2)
        upper.setStretchFactor(1, 5)
        card = QWidget(self)
        column = QVBoxLayout(card)
        column.addWidget(self.cards_title)
        column.addWidget(self.cards, 1)
        predictions = QWidget(self)
        column = QVBoxLayout(predictions)
        row = QHBoxLayout()
        row.addWidget(self.predictions_title, 1)
        row.addWidget(self.lineage)
        column.addLayout(row)
        column.addWidget(self.prediction_table, 1)
        self.tabs.addTab(card, "Card")
        self.tabs.addTab(self.events, "History")
        self.tabs.addTab(predictions, "Predictions")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(upper)
        split.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.details)
        layout.addWidget(split, 1)

    def set_view(self, view: EndpointView | None) -> None:
        """Shows `view` (None: nothing picked); the same endpoint read again keeps what is selected."""
        same = view is not None and self.view is not None and view.deployment.name == self.view.deployment.name
        self.view = view
        now = time.time()
        d = view.deployment if view else None
        self.details.setText(details_text(d) if d else "Pick an endpoint to see its versions and replicas.")
        self.predictions = {p.record.id: p for p in view.predictions} if view else {}
        shown: list[tuple[Table, list[Row]]] = [
            (self.versions, version_rows(d) if d else []),
            (self.replicas, replica_rows(d, now) if d else []),
            (self.cards, card_rows(view.cards) if view else []),
            (self.events, event_rows(d) if d else []),
            (self.prediction_table, prediction_rows(view.predictions, now) if view else []),
        ]
        for table, rows in shown:
            if same:
                table.update_rows(rows)
            else:
                table.set_rows(rows)
        self.cards_title.setText(cards_title(view))
        n = len(self.predictions)
        self.predictions_title.setText(
            "" if view is None else f"the newest {n} in this window" if n else "no predictions in this window"
        )
        self._picked()

    def selected_prediction(self) -> Prediction | None:
        return self.predictions.get(self.prediction_table.selected_key() or "")

    def _picked(self) -> None:
        self.lineage.setEnabled(self.selected_prediction() is not None)

    def lineage_of(self, prediction: Prediction) -> str:
        """The entity whose lineage explains `prediction`: the model version that answered it."""
        return model_id(prediction.project, prediction.model, prediction.record.version)

    def open_lineage(self) -> None:
        p = self.selected_prediction()
        if p is not None:
            self.lineage_wanted.emit(self.lineage_of(p))

    def _prediction_clicked(self, index: QModelIndex) -> None:
        keys = self.prediction_table.row_keys()
        p = self.predictions.get(keys[index.row()]) if 0 <= index.row() < len(keys) else None
        if p is not None:
            self.lineage_wanted.emit(self.lineage_of(p))

    def _replica_clicked(self, index: QModelIndex) -> None:
        keys = self.replicas.row_keys()
        if 0 <= index.row() < len(keys):
            self.run_wanted.emit(keys[index.row()])
