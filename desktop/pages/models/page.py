"""The Models page: the project's registered models; the picked model's versions (alias pills, a column
per metric, flavor, size, the run that produced each and the dataset it read: kiln.desktop.pages.models.
versions), Compare versions; registering a version from a run's output; asking for an alias; the alias
requests with their reviews (Approve / Reject); the alias history and "which version was production at
T"; comments on the picked version; and the project's approvals policy.

Every change is followed by reading the model again (versions, requests and history together), so what
one window did is what the other tabs show, and a second window sees it on Refresh."""

from __future__ import annotations

from kiln.client import Client
from kiln.core.lineage import model_id
from kiln.core.models import Model, ModelVersion
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.models.aliashistory import HistoryPanel
from kiln.desktop.pages.models.approvals import RequestsPanel
from kiln.desktop.pages.models.forms import AliasBox, RegisterBox
from kiln.desktop.pages.models.policy import PolicyPanel
from kiln.desktop.pages.models.rows import MODEL_HEADERS, ModelDetails, load_model, model_rows
from kiln.desktop.pages.models.versions import VersionsPanel
from kiln.desktop.qt import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.comments import CommentsPanel
from kiln.desktop.widgets.common import Table


class ModelsPage(QWidget):
    """Emits `run_wanted(run id)` and `lineage_wanted(entity id)` for the window to act on."""

    run_wanted = Signal(str)
    lineage_wanted = Signal(str)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project = ""
        self.details: ModelDetails | None = None
        self.summary = QLabel("", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.models = Table(MODEL_HEADERS, parent=self)
        self.version_panel = VersionsPanel(client, runner, self)
        self.versions = self.version_panel.table
        self.open_run, self.lineage = self.version_panel.open_run, self.version_panel.lineage
        self.register = RegisterBox(client, runner, self)
        self.alias = AliasBox(client, runner, self)
        self.requests = RequestsPanel(client, runner, self)
        self.history = HistoryPanel(client, runner, self)
        self.comments = CommentsPanel(client, runner, self)
        self.policy = PolicyPanel(client, runner, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.requests, "Requests && reviews")
        self.tabs.addTab(self.history, "Alias history")
        self.tabs.addTab(self.comments, "Comments")
        self.tabs.addTab(self.policy, "Policy")
        self._lay_out()
        self._connect()
        self.set_project("")

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        left = QWidget(self)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.models, 1)
        column.addWidget(self.register)
        right = QWidget(self)
        versions = QVBoxLayout(right)
        versions.setContentsMargins(0, 0, 0, 0)
        versions.addWidget(self.version_panel, 1)
        versions.addWidget(self.alias)
        upper = QSplitter(Qt.Orientation.Horizontal, self)
        upper.addWidget(left)
        upper.addWidget(right)
        upper.setStretchFactor(0, 1)
        upper.setStretchFactor(1, 3)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(upper)
        split.addWidget(self.tabs)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    def _connect(self) -> None:
        self.refresh_button.clicked.connect(self.refresh)
        self.models.selection_changed.connect(self._model_picked)
        self.version_panel.picked.connect(self._version_picked)
        self.version_panel.run_wanted.connect(self.run_wanted)
        self.version_panel.lineage_wanted.connect(self.lineage_wanted)
        self.register.registered.connect(self._registered)
        self.alias.changed.connect(self.refresh)
        self.requests.reviewed.connect(lambda _: self.refresh())
        self.policy.changed.connect(self.refresh)

    def set_project(self, project: str) -> None:
        if project == self.project and project:
            return
        self.project, self.details = project, None
        self.models.set_rows([])
        self._show_details(None)
        self.policy.set_project(project)
        self.summary.setText("choose a project first" if not project else "loading models…")
        self.refresh()

    # -- reading --------------------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """Lists the models again, then reads the picked one (or `select`) again."""
        project = self.project
        if not project:
            return
        keep = select or self.models.selected_key()
        self.runner.run(
            f"list models of {project}",
            lambda: self.client.list_models(project),
            lambda found: self._listed(project, found, keep),
            lambda e: self.summary.setText(f"could not list models: {brief(e)}"),
        )

    def _listed(self, project: str, found: list[Model], keep: str | None) -> None:
        if project != self.project:
            return
        rows = model_rows(found)
        if keep is None and rows:
            keep = rows[0].key
        self.models.blockSignals(True)  # one read of the kept model below, not one per reset
        self.models.set_rows(rows, keep=keep)
        self.models.blockSignals(False)
        n = len(found)
        self.summary.setText(
            f"{n} model{'s' if n != 1 else ''} in {project}"
            if n
            else f"no models in {project} yet: register one from a run's output"
        )
        self._model_picked()

    def _model_picked(self) -> None:
        name = self.models.selected_key()
        project = self.project
        if not name:
            self._show_details(None)
            return
        self.runner.run(
            f"read model {name}",
            lambda: load_model(self.client, project, name),
            self._show_details,
            lambda e: self.summary.setText(f"could not read model {name}: {brief(e)}"),
        )

    def _show_details(self, details: ModelDetails | None) -> None:
        if details is not None and (details.project, details.name) != (
            self.project,
            self.models.selected_key(),
        ):
            return  # another model was picked meanwhile; its own read follows
        self.details = details
        model = (details.project, details.name) if details else None
        self.version_panel.set_versions(model, details.versions if details else [])
        if details and self.versions.selected_key() is None and details.versions:
            self.versions.select_keys([max(v.version for v in details.versions)])
        self.requests.set_requests(
            model,
            details.requests if details else [],
            details.required_approvals if details else 0,
            details.aliases if details else {},
        )
        self.history.set_model(model, details.moves if details else [])
        if details:
            self.policy.show_required(details.required_approvals)
            self.register.name.setText(self.register.name.text() or details.name)
        self._version_picked()

    def selected_version(self) -> ModelVersion | None:
        """The picked version, when exactly one is picked."""
        return self.version_panel.selected_version()

    def _version_picked(self) -> None:
        v = self.selected_version()
        self.alias.set_target((v.project, v.name, v.version) if v else None)
        self.comments.set_entity(model_id(v.project, v.name, v.version) if v else "")

    # -- actions --------------------------------------------------------------------------------------

    def _registered(self, version: ModelVersion) -> None:
        if version.project == self.project:
            self.refresh(select=version.name)
