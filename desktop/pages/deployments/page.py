"""The Deployments page: the project's endpoints (name, model and the alias it follows, state, the versions
serving and their weights, replicas ready of all, URL), and for the picked one its versions and weights,
replicas and their health, per-version card, state history and newest predictions (kiln.desktop.pages.
deployments.details); and the actions: Deploy…, Change weights…, Promote… (for an endpoint following
production: the approval flow), Scale… and Stop….

While the page is seen it reads the endpoints, and the picked one, every few seconds (replicas start,
become ready, the gateway switches): each read is one reused operation, so a slow coordinator skips a
tick rather than piling reads up, and a hidden page asks nothing. Every change is followed by a read, so
what the coordinator made of it is what is shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiln.client import Client
from kiln.core.deployments import ACTIVE, Deployment
from kiln.core.models import Model
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.deployments.details import EndpointPanel, load_view
from kiln.desktop.pages.deployments.forms import (
    PRODUCTION,
    ActionDialog,
    DeployDialog,
    PromoteDialog,
    ScaleDialog,
    TrafficDialog,
    promoted_text,
)
from kiln.desktop.pages.deployments.rows import (
    DEFAULT_WINDOW,
    ENDPOINT_HEADERS,
    ENDPOINT_STATE_COLUMN,
    WINDOWS,
    EndpointView,
    endpoint_colours,
    endpoint_rows,
    since_of,
    splits_text,
    summary_text,
)
from kiln.desktop.pages.runs.chips import StateChips
from kiln.desktop.qt import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.confirm import confirm
from kiln.desktop.widgets.polling import Poller

REFRESH_MS = 3000


class DeploymentsPage(QWidget):
    """Emits `lineage_wanted(entity id)` for a prediction's model version and `run_wanted(run id)` for a
    replica, for the window to act on."""

    lineage_wanted = Signal(str)
    run_wanted = Signal(str)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project = ""
        self.found: dict[str, Deployment] = {}  # the endpoints as last listed (the picked one as last read)
        self.dialog: ActionDialog | None = None
        self.confirmation: QMessageBox | None = None  # the Stop question asked last (tests answer it)
        self.summary = QLabel("", self)
        self.window_box = QComboBox(self)
        self.window_box.addItems([label for label, _ in WINDOWS])
        self.window_box.setCurrentIndex(DEFAULT_WINDOW)
        self.window_box.setToolTip("the window of the card and of the predictions shown")
        self.refresh_button = QPushButton("Refresh", self)
        self.deploy_button = QPushButton("Deploy…", self)
        self.traffic_button = QPushButton("Change weights…", self)
        self.promote_button = QPushButton("Promote…", self)
        self.scale_button = QPushButton("Scale…", self)
        self.stop_button = QPushButton("Stop…", self)
        self.message = Message(self)
        self.endpoints = Table(ENDPOINT_HEADERS, parent=self)
        self.endpoints.setItemDelegateForColumn(ENDPOINT_STATE_COLUMN, StateChips(self.endpoints, endpoint_colours))
        self.panel = EndpointPanel(self)
        self._list_op = Op("list endpoints", lambda: None, self._listed, self._list_failed, said_by_page=True)
        self.poller = Poller(self, REFRESH_MS, lambda: self.runner.running(self._list_op), self.refresh)
        self._view_op = Op("read endpoint", lambda: None, self._viewed, self._view_failed, said_by_page=True)
        self._list_again = self._view_again = False  # asked while a read was on its way: read once more
        self._viewing = ""  # the endpoint the view op reads
        self._select = ""  # the endpoint to pick once listed (one just created)
        self._lay_out()
        self._connect()
        self.set_project("")

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Card and predictions:", self))
        top.addWidget(self.window_box)
        top.addWidget(self.refresh_button)
        actions = QHBoxLayout()
        for button in (self.deploy_button, self.traffic_button, self.promote_button, self.scale_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.stop_button)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.endpoints)
        split.addWidget(self.panel)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)

    def _connect(self) -> None:
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.window_box.currentIndexChanged.connect(lambda _: self._read_view(force=True))
        self.endpoints.selection_changed.connect(self._picked)
        self.panel.lineage_wanted.connect(self.lineage_wanted)
        self.panel.run_wanted.connect(self.run_wanted)
        self.deploy_button.clicked.connect(self.open_deploy)
        self.traffic_button.clicked.connect(self.open_traffic)
        self.promote_button.clicked.connect(self.open_promote)
        self.scale_button.clicked.connect(self.open_scale)
        self.stop_button.clicked.connect(self.ask_stop)

    def set_project(self, project: str) -> None:
        if project == self.project and project:
            return
        self.project, self.found = project, {}
        self.endpoints.set_rows([])
        self.panel.set_view(None)
        self.message.clear()
        self.summary.setText("choose a project first" if not project else "loading endpoints…")
        self._buttons()
        self.refresh()

    def shutdown(self) -> None:
        self.poller.stop()

    def refresh(self, select: str = "") -> None:
        """Lists the endpoints again, then reads the picked one (or `select`) again."""
        self._select = select or self._select
        project = self.project
        if not project:
            return
        if self.runner.running(self._list_op):
            self._list_again = True
            return
        client = self.client
        self._list_op.work = lambda: (project, client.list_deployments(project))
        self.runner.start(self._list_op)

    def _listed(self, answer: tuple[str, list[Deployment]]) -> None:
        project, found = answer
        again, self._list_again = self._list_again, False
        if project != self.project:
            return
        self.found = {d.name: d for d in found}
        rows = endpoint_rows(found)
        self.endpoints.update_rows(rows)
        keep = self._select if self._select in self.found else ""
        if keep:
            self._select = ""
        if keep or (rows and self.endpoints.selected_key() is None):
            self.endpoints.select_keys([keep or rows[0].key])
        self.summary.setText(summary_text(project, found))
        self._buttons()
        if again:
            self.refresh()
        self._read_view(force=again)

    def _list_failed(self, error: Exception) -> None:
        self._list_again = False
        self.summary.setText(f"could not list endpoints: {brief(error)}")

    def selected(self) -> Deployment | None:
        return self.found.get(self.endpoints.selected_key() or "")

    def _picked(self) -> None:
        d = self.selected()
        shown = self.panel.view.deployment.name if self.panel.view else ""
        if d is None:
            self.panel.set_view(None)
        elif d.name != shown:
            self.panel.set_view(EndpointView(d))  # what the listing knows, until the endpoint is read
        self._buttons()
        self._read_view()

    def _read_view(self, force: bool = False) -> None:
        name = self.endpoints.selected_key() or ""
        if not name:
            return
        if self.runner.running(self._view_op):
            self._view_again = self._view_again or force or name != self._viewing
            return
        self._viewing, client = name, self.client
        since = since_of(WINDOWS[self.window_box.currentIndex()][1])
        self._view_op.work = lambda: load_view(client, name, since)
        self.runner.start(self._view_op)

    def _viewed(self, view: EndpointView) -> None:
        again, self._view_again = self._view_again, False
        d = view.deployment
        if d.project == self.project and d.name == self.endpoints.selected_key():
            self.found[d.name] = d
            self.panel.set_view(view)
            self._buttons()
        if again:
            self._read_view()

    def _view_failed(self, error: Exception) -> None:
        again, self._view_again = self._view_again, False
        self.message.warning(f"could not read endpoint {self._viewing}: {brief(error)}")
        if again:
            self._read_view()

    def _buttons(self) -> None:
        d = self.selected()
        active = d is not None and d.state == ACTIVE
        self.deploy_button.setEnabled(bool(self.project))
        for button in (self.traffic_button, self.scale_button, self.stop_button):
            button.setEnabled(active)
        follows = active and d is not None and d.alias == PRODUCTION
        self.promote_button.setEnabled(follows)
        self.promote_button.setToolTip(
            "ask production to move to another version (its validators approve); this endpoint rolls with it"
            if follows
            else "for an active endpoint that follows the production alias"
        )

    # -- actions ------------------------------------------------------------------------------------------

    def _open(self, dialog: ActionDialog, said: Callable[[Any], str]) -> ActionDialog:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.answered.connect(lambda answer: self._changed(said(answer), answer))
        dialog.failed.connect(self.message.error)
        dialog.open()
        return dialog

    def _changed(self, text: str, answer: object) -> None:
        self.message.info(text)
        self.refresh(select=answer.name if isinstance(answer, Deployment) else "")
        self._read_view(force=True)  # a read on its way may predate the change

    def _with_model(self, d: Deployment, then: Callable[[Model], object]) -> None:
        """Reads the endpoint's model (its versions and aliases), then opens a form with it."""
        client, project, name = self.client, d.project, d.model
        self.runner.start(
            Op(
                f"read model {name}",
                lambda: client.get_model(project, name),
                then,
                lambda e: self.message.error(f"could not read model {name}: {brief(e)}"),
                said_by_page=True,
            )
        )

    def open_deploy(self) -> None:
        project, client = self.project, self.client
        if not project:
            return
        picked = self.selected()

        def opened(models: list[Model]) -> None:
            if project != self.project:
                return
            dialog = DeployDialog(self.client, self.runner, project, models, self)
            if picked is not None:
                dialog.model.setCurrentText(picked.model)
            self._open(
                dialog,
                lambda d: (
                    f"endpoint {d.name} created: {d.model} {splits_text(d.traffic)}, {d.replicas} replica"
                    f"{'s' if d.replicas != 1 else ''} per version; its replicas are starting"
                ),
            )

        self.runner.start(
            Op(
                f"list models of {project}",
                lambda: client.list_models(project),
                opened,
                lambda e: self.message.error(f"could not list models: {brief(e)}"),
                said_by_page=True,
            )
        )

    def open_traffic(self) -> None:
        d = self.selected()
        if d is None:
            return
        self._with_model(
            d,
            lambda model: self._open(
                TrafficDialog(self.client, self.runner, d, model, self),
                lambda new: (
                    f"endpoint {new.name}: asked {splits_text(new.traffic)}; it switches once its replicas are ready"
                ),
            ),
        )

    def open_promote(self) -> None:
        d = self.selected()
        if d is None:
            return
        self._with_model(
            d,
            lambda model: self._open(
                PromoteDialog(self.client, self.runner, d, model, self), lambda r: promoted_text(r, d.name)
            ),
        )

    def open_scale(self) -> None:
        d = self.selected()
        if d is not None:
            self._open(
                ScaleDialog(self.client, self.runner, d, self),
                lambda new: f"endpoint {new.name}: {new.replicas} replicas per version",
            )

    def ask_stop(self) -> QMessageBox | None:
        d = self.selected()
        if d is None:
            return None
        n = len(d.replica_list)
        self.confirmation = confirm(
            self,
            f"Stop endpoint {d.name}",
            f"Stop endpoint {d.name} ({d.model}, serving {splits_text(d.serving)})?\n\n"
            f"Its {n} replica{'s' if n != 1 else ''} end and its URL answers 404. A stopped endpoint does not "
            "serve again: Deploy… a new one for that.",
            f"Stop {d.name}",
            lambda: self._stop(d.name),
        )
        return self.confirmation

    def _stop(self, name: str) -> None:
        client = self.client
        self.message.info(f"stopping {name}…")
        self.runner.start(
            Op(
                f"stop {name}",
                lambda: client.stop_deployment(name),
                lambda d: self._changed(f"endpoint {d.name} stopped; its replicas are ending", d),
                lambda e: self.message.error(f"not stopped: {brief(e)}"),
                said_by_page=True,
            )
        )
