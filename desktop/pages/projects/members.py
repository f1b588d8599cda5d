"""A project's members: add someone, change a role, remove someone (after a confirmation naming them and
their role). Only owners (and admins) may; the desktop does not guess who may do what: it asks, and shows
the coordinator's answer when refused."""

from __future__ import annotations

from collections.abc import Callable

from kiln.client import Client
from kiln.core.models import Project
from kiln.core.permissions import Role
from kiln.desktop.ops import Runner, brief
from kiln.desktop.qt import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import MEMBER_HEADERS, member_rows
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.confirm import confirm

ROLES = [str(r) for r in sorted(Role, reverse=True)]  # owner, editor, viewer


class MembersPanel(QGroupBox):
    """Members of one project; emits `changed(Project)` with the project as the coordinator now has it."""

    changed = Signal(object)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__("Members", parent)
        self.client, self.runner = client, runner
        self.project: Project | None = None
        self.asking: QMessageBox | None = None  # the removal being confirmed, for tests
        self.table = Table(MEMBER_HEADERS, parent=self)
        self.user = QLineEdit(self, placeholderText="user name")
        self.role = QComboBox(self)
        self.role.addItems(ROLES)
        self.role.setCurrentText(str(Role.EDITOR))
        self.add = QPushButton("Add / set role", self)
        self.remove = QPushButton("Remove", self)
        self.message = Message(self)
        controls = QHBoxLayout()
        controls.addWidget(self.user, 1)
        controls.addWidget(self.role)
        controls.addWidget(self.add)
        controls.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(controls)
        layout.addWidget(self.message)
        self.table.selection_changed.connect(self._picked)
        self.add.clicked.connect(self._set_member)
        self.user.returnPressed.connect(self._set_member)
        self.remove.clicked.connect(self._remove_member)
        self.show_project(None)

    def show_project(self, project: Project | None) -> None:
        self.project = project
        self.setTitle(f"Members of {project.name}" if project else "Members")
        self.table.set_rows(member_rows(project) if project else [], keep=self.table.selected_key())
        self.setEnabled(project is not None)
        self._picked()

    def _picked(self) -> None:
        """Selecting a member prepares changing their role or removing them."""
        user = self.table.selected_key()
        self.remove.setEnabled(user is not None)
        if user is not None and self.project is not None:
            self.user.setText(user)
            self.role.setCurrentText(str(self.project.members[user]))

    def _set_member(self) -> None:
        user, role = self.user.text().strip(), self.role.currentText()
        if self.project is None or not user:
            self.message.error("enter the user name of the member to add")
            return
        name = self.project.name
        self._call(f"set {user}'s role in {name}", lambda: self.client.set_member(name, user, role))

    def _remove_member(self) -> None:
        """Asks first, naming the member and their role; only "Remove USER" removes them."""
        user = self.table.selected_key()
        if self.project is None or user is None:
            return
        name, role = self.project.name, self.project.members.get(user)
        self.asking = confirm(
            self,
            "Remove member",
            f"Remove {user} ({role}) from project {name}? They lose access to its runs, files and models "
            "at once; an owner can add them again.",
            f"Remove {user}",
            lambda: self._call(f"remove {user} from {name}", lambda: self.client.remove_member(name, user)),
        )

    def _call(self, label: str, work: Callable[[], Project]) -> None:
        self.message.info(f"{label}…")
        self.runner.run(label, work, self._done, lambda e: self.message.error(brief(e)))

    def _done(self, project: Project) -> None:
        self.message.clear()
        self.user.clear()
        if self.project is not None and project.name == self.project.name:
            self.show_project(project)
        self.changed.emit(project)
