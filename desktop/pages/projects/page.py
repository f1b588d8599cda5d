"""The Projects page, an overview: the projects you can see, each with its runs by state and its latest
activity; below, the selected project at a glance (runs by state, last activity, best run, storage,
members: kiln.desktop.pages.projects.overview) and its member editor, a tab each; a dialog to create one.

The table's summaries are read in one operation after the list (at most MAX_SUMMARISED projects: the
rest show theirs when selected), so a slow coordinator delays the columns, never the list."""

from __future__ import annotations

from kiln.client import Client
from kiln.core.models import Project
from kiln.core.overview import ProjectSummary
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.projects.members import MembersPanel
from kiln.desktop.pages.projects.overview import ProjectOverview
from kiln.desktop.qt import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import PROJECT_HEADERS, project_rows
from kiln.desktop.widgets.common import Message, Table

MAX_SUMMARISED = 100  # projects whose runs and activity the table shows without being selected


class NewProjectDialog(QDialog):
    """Creates a project; stays open with the coordinator's message when the name is refused."""

    created = Signal(object)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.client, self.runner = client, runner
        self.name = QLineEdit(self, placeholderText="e.g. churn-model")
        self.description = QLineEdit(self)
        self.message = Message(self)
        self.create_button = QPushButton("Create", self, default=True)
        cancel = QPushButton("Cancel", self)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Description", self.description)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.create_button.clicked.connect(self._create)
        cancel.clicked.connect(self.reject)
        self.resize(420, 0)

    def _create(self) -> None:
        name, description = self.name.text().strip(), self.description.text().strip()
        if not name:
            self.message.error("enter a name for the project")
            return
        self.create_button.setEnabled(False)
        self.message.info(f"creating {name}…")
        self.runner.run(
            f"create project {name}",
            lambda: self.client.create_project(name, description),
            self._created,
            self._failed,
        )

    def _created(self, project: Project) -> None:
        self.created.emit(project)
        self.accept()

    def _failed(self, error: Exception) -> None:
        self.create_button.setEnabled(True)
        self.message.error(brief(error))


class ProjectsPage(QWidget):
    """Lists projects; `projects_loaded(list)` feeds the window's selector, `project_chosen(str)` follows
    the table's selection."""

    projects_loaded = Signal(object)
    project_chosen = Signal(str)
    run_wanted = Signal(str)  # the overview's best run: the window opens its run page

    def __init__(self, client: Client, runner: Runner, is_admin: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner, self.is_admin = client, runner, is_admin
        self.projects: dict[str, Project] = {}
        self.summaries: dict[str, ProjectSummary] = {}
        self.dialog: NewProjectDialog | None = None
        self.table = Table(PROJECT_HEADERS, parent=self)
        self.overview = ProjectOverview(client, runner, self)
        self.members = MembersPanel(client, runner, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.overview, "Overview")
        self.tabs.addTab(self.members, "Members")
        self.new = QPushButton("New project…", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.summary = QLabel("", self)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.new)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.new.clicked.connect(self.open_new_project)
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.table.selection_changed.connect(self._picked)
        self.members.changed.connect(self._project_changed)
        self.overview.run_wanted.connect(self.run_wanted.emit)
        self.overview.members_wanted.connect(lambda: self.tabs.setCurrentWidget(self.members))

    def refresh(self, select: str | None = None) -> None:
        """Reloads the list from the coordinator, keeping (or moving to) a selection."""
        keep = select or self.table.selected_key()
        self.summary.setText("loading projects…")
        self.runner.run(
            "list projects", self.client.list_projects, lambda found: self._loaded(found, keep), self._failed
        )

    def _loaded(self, found: list[Project], keep: str | None) -> None:
        self.projects = {p.name: p for p in found}
        self.summaries = {name: s for name, s in self.summaries.items() if name in self.projects}
        self.table.set_rows(project_rows(found, self.is_admin, self.summaries), keep=keep)
        n = len(found)
        self.summary.setText(
            f"{n} project{'s' if n != 1 else ''}" if n else "no projects yet: create one with New project…"
        )
        self.projects_loaded.emit(found)
        names = sorted(self.projects)[:MAX_SUMMARISED]
        if names:
            self.runner.run(
                "summarise projects",
                lambda: {name: self.client.project_summary(name) for name in names},
                self._summarised,
                lambda e: self.summary.setText(f"{n} projects; could not read their runs: {brief(e)}"),
            )

    def _summarised(self, found: dict[str, ProjectSummary]) -> None:
        self.summaries.update({name: s for name, s in found.items() if name in self.projects})
        self.table.update_rows(project_rows(self.projects.values(), self.is_admin, self.summaries))

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not load projects: {brief(error)}")

    def select(self, name: str) -> None:
        """Follows the window's project selector."""
        if name in self.projects and self.table.selected_key() != name:
            self.table.selectRow(self.table.row_of(name))

    def _picked(self) -> None:
        name = self.table.selected_key()
        self.members.show_project(self.projects.get(name) if name else None)
        self.overview.show_project(self.projects.get(name) if name else None)
        if name:
            self.project_chosen.emit(name)

    def _project_changed(self, project: Project) -> None:
        self.projects[project.name] = project
        self.refresh(select=project.name)

    def open_new_project(self) -> None:
        self.dialog = NewProjectDialog(self.client, self.runner, self)
        self.dialog.created.connect(lambda p: self.refresh(select=p.name))
        self.dialog.open()
