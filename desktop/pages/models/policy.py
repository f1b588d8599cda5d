"""The project's approval settings, for its owners: how many validators must approve before `production`
moves, and who the validators are (members the owners trust to review). Anyone can read them; the
coordinator refuses changes from anyone but an owner or an admin, and the panel shows its refusal.
Removing a validator asks first, naming the member and what they lose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiln.client import Client
from kiln.core.models import Project
from kiln.desktop.ops import Runner, brief
from kiln.desktop.qt import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import Row
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.confirm import confirm

MAX_APPROVALS = 10  # the coordinator's limit


def validator_rows(project: Project) -> list[Row]:
    return [Row((user, str(project.members.get(user, ""))), user) for user in sorted(project.validators)]


class PolicyPanel(QGroupBox):
    """Emits `changed` after a change the coordinator accepted (requests opened later follow it)."""

    changed = Signal()

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__("Approvals policy (project owners)", parent)
        self.client, self.runner = client, runner
        self.project = ""
        self.confirmation: QMessageBox | None = None  # the question asked last (tests answer it)
        self.approvals = QSpinBox(self, minimum=1, maximum=MAX_APPROVALS, value=1)
        self.set_approvals = QPushButton("Set", self)
        self.validators = Table(("Validator", "Role"), parent=self)
        self.user = QLineEdit(self, placeholderText="a member's user name")
        self.add = QPushButton("Make validator", self)
        self.remove = QPushButton("Remove validator", self)
        for button in (self.set_approvals, self.add, self.remove):
            button.setAutoDefault(False)
        self.message = Message(self)
        policy = QHBoxLayout()
        policy.addWidget(QLabel("Approvals needed to move production", self))
        policy.addWidget(self.approvals)
        policy.addWidget(self.set_approvals)
        policy.addStretch(1)
        people = QHBoxLayout()
        people.addWidget(self.user, 1)
        people.addWidget(self.add)
        people.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.addLayout(policy)
        layout.addWidget(self.validators, 1)
        layout.addLayout(people)
        layout.addWidget(self.message)
        self.set_approvals.clicked.connect(self._set_policy)
        self.add.clicked.connect(lambda: self._set_validator(True))
        self.remove.clicked.connect(lambda: self._set_validator(False))
        self.validators.selection_changed.connect(self._picked)

    def set_project(self, project: str) -> None:
        self.project = project
        self.message.clear()
        self.validators.set_rows([])
        self.setEnabled(bool(project))
        if project:
            self.runner.run(
                f"read project {project}",
                lambda: self.client.get_project(project),
                self._loaded,
                lambda e: self.message.error(brief(e)),
            )

    def show_required(self, required: int) -> None:
        """The policy in force, as the coordinator reported it with a model."""
        if required:
            self.approvals.setValue(required)

    def _loaded(self, project: Project) -> None:
        if project.name == self.project:
            self.validators.set_rows(validator_rows(project), keep=self.validators.selected_key())

    def _picked(self) -> None:
        user = self.validators.selected_key()
        if user:
            self.user.setText(user)

    def _set_policy(self) -> None:
        project, n = self.project, self.approvals.value()
        self._call(f"require {n} approvals in {project}", lambda: self.client.set_policy(project, n), self._policy)

    def _policy(self, n: int) -> None:
        self.message.info(f"production now needs {n} approval{'s' if n != 1 else ''} (new requests)")
        self.changed.emit()

    def _set_validator(self, validator: bool) -> None:
        project, user = self.project, self.user.text().strip()
        if not user:
            self.message.error("enter the member's user name")
            return
        verb = "make" if validator else "unmake"

        def change() -> None:
            self._call(
                f"{verb} {user} a validator in {project}",
                lambda: self.client.set_validator(project, user, validator),
                self._validators,
            )

        if validator:
            change()
            return
        is_one = user in self.validators.row_keys()
        self.confirmation = confirm(
            self,
            f"Remove {user} as a validator",
            f"Remove {user} as a validator of {project}? "
            + (
                f"{user} can then no longer approve or reject alias requests in {project}."
                if is_one
                else f"{user} is not listed as a validator of {project}; the coordinator will say so."
            ),
            "Remove validator",
            change,
        )

    def _validators(self, project: Project) -> None:
        self.user.clear()
        self.message.info(f"validators of {project.name}: {', '.join(sorted(project.validators)) or 'none'}")
        self._loaded(project)
        self.changed.emit()

    def _call(self, label: str, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self.message.info(f"{label}…")
        self.runner.run(label, work, done, lambda e: self.message.error(f"refused: {brief(e)}"))
