"""The forms that change the registry: register a version from a finished run's output (on the Models page,
and as "Register model…" on a run's Artifacts tab), and ask for an alias to point at a version. The
coordinator decides (a run with no output, a viewer, a path that is not there, a bad name); the form says
its answer, and `changed` tells the page to read again.

Asking for `staging` (or any free name) moves it at once; asking for `production` opens a request that
waits for the project's validators, and the form says so, with how many approvals it needs."""

from __future__ import annotations

import posixpath
import re

from kiln.client import Client
from kiln.core.errors import InvalidArgument
from kiln.core.models import AliasRequest, ModelVersion
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.models.rows import ALIASES
from kiln.desktop.qt import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message


def registered_text(version: ModelVersion) -> str:
    return f"registered as {version.name} v{version.version} (from {version.run_id}, {version.path})"


def parse_tags(text: str) -> dict[str, str]:
    """ "team=vision, stage=2" as a dict; the coordinator checks the names and sizes."""
    tags = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(f"tag {item!r} must look like key=value (several separated by commas)")
        tags[key.strip()] = value.strip()
    return tags


def suggested_name(path: str) -> str:
    """A model name from a path ("out/Churn Model.pkl" -> "churn-model"), for the form to start from."""
    stem = posixpath.splitext(posixpath.basename(path.rstrip("/")))[0].lower()
    return re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._") or "model"


def start_registering(
    form: RegisterDialog | RegisterBox, run_id: str, path: str, name: str, tags: dict[str, str]
) -> None:
    """What Register does in either form: asks the coordinator off the GUI thread with the button off
    meanwhile, says its answer in the form's message, and emits the form's `registered(ModelVersion)`."""

    def done(version: ModelVersion) -> None:
        form.register.setEnabled(True)
        form.message.info(registered_text(version))
        form.registered.emit(version)

    def failed(error: Exception) -> None:
        form.register.setEnabled(True)
        form.message.error(f"not registered: {brief(error)}")

    form.register.setEnabled(False)
    form.message.info(f"registering {path} of {run_id} as {name}…")
    client = form.client
    form.runner.run(
        f"register {name} from {run_id}", lambda: client.register_model(run_id, path, name, tags), done, failed
    )


class RegisterDialog(QDialog):
    """Registers `path` of run `run_id` as a model version: name (prefilled), tags, Register; the answer
    ("registered as churn v3", or the coordinator's refusal) is said in the dialog, which stays open so a
    refusal can be corrected. Emits `registered(ModelVersion)`."""

    registered = Signal(object)

    def __init__(
        self, client: Client, runner: Runner, run_id: str, path: str, name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client, self.runner, self.run_id = client, runner, run_id
        self.setWindowTitle(f"Register a model from {run_id}")
        self.path = QLineEdit(path, self)
        self.name = QLineEdit(name or suggested_name(path), self)
        self.tags = QLineEdit(self, placeholderText="key=value, key=value (optional)")
        self.register = QPushButton("Register", self)
        self.close_button = QPushButton("Close", self)
        self.close_button.setAutoDefault(False)
        self.message = Message(self)
        form = QFormLayout()
        form.addRow("Run", QLabel(run_id, self))
        form.addRow("Path in its output", self.path)
        form.addRow("Model name", self.name)
        form.addRow("Tags", self.tags)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.register)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.register.clicked.connect(self._register)
        self.close_button.clicked.connect(self.close)
        self.resize(460, self.sizeHint().height())

    def _register(self) -> None:
        run_id, path, name = self.run_id, self.path.text().strip(), self.name.text().strip()
        try:
            tags = parse_tags(self.tags.text())
        except InvalidArgument as e:
            self.message.error(str(e))
            return
        if not (path and name):
            self.message.error("enter the path in the run's output and the model's name")
            return
        start_registering(self, run_id, path, name, tags)


class RegisterBox(QGroupBox):
    """Emits `registered(ModelVersion)`."""

    registered = Signal(object)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__("Register a version from a run's output", parent)
        self.client, self.runner = client, runner
        self.run_id = QLineEdit(self, placeholderText="run id, e.g. r-1a2b3c4d5e6f")
        self.path = QLineEdit(self, placeholderText="path in its output, e.g. out/model")
        self.name = QLineEdit(self, placeholderText="model name, e.g. churn")
        self.register = QPushButton("Register", self)
        self.message = Message(self)
        row = QHBoxLayout()
        row.addWidget(self.name, 1)
        row.addWidget(self.register)
        layout = QVBoxLayout(self)
        layout.addWidget(self.run_id)
        layout.addWidget(self.path)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.register.clicked.connect(self._register)

    def _register(self) -> None:
        run_id, path, name = self.run_id.text().strip(), self.path.text().strip(), self.name.text().strip()
        if not (run_id and path and name):
            self.message.error("enter the run, the path in its output, and the model's name")
            return
        start_registering(self, run_id, path, name, {})


class AliasBox(QGroupBox):
    """Asks for an alias on the version the page has selected; emits `changed` once asked."""

    changed = Signal()

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__("Alias", parent)
        self.client, self.runner = client, runner
        self.target: tuple[str, str, int] | None = None  # project, model, version
        self.alias = QComboBox(self)
        self.alias.setEditable(True)  # any free name moves at once; only production needs approvals
        self.alias.addItems(list(ALIASES))
        self.why = QLineEdit(self, placeholderText="why (the validators read it)")
        self.request = QPushButton("Request", self)
        self.message = Message(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Point", self))
        row.addWidget(self.alias)
        self.version_label = QLabel("", self)
        row.addWidget(self.version_label)
        row.addWidget(self.why, 1)
        row.addWidget(self.request)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.request.clicked.connect(self._request)
        self.set_target(None)

    def set_target(self, target: tuple[str, str, int] | None) -> None:
        self.target = target
        self.version_label.setText(f"at {target[1]} version {target[2]}" if target else "at a version")
        self.request.setEnabled(target is not None)

    def _request(self) -> None:
        alias, why = self.alias.currentText().strip(), self.why.text().strip()
        if self.target is None or not alias:
            self.message.error("pick a version and name the alias")
            return
        project, name, version = self.target
        self.request.setEnabled(False)
        self.message.info(f"asking for {alias} → {name} version {version}…")
        self.runner.run(
            f"request {alias} for {name} v{version}",
            lambda: self.client.request_alias(project, name, version, alias, why),
            self._asked,
            self._failed,
        )

    def _asked(self, request: AliasRequest) -> None:
        self.request.setEnabled(self.target is not None)
        self.why.clear()
        if request.state == "open":
            n = request.required_approvals
            self.message.info(
                f"request {request.id} is open: {request.alias} moves to version {request.version} once "
                f"{n} validator{'s' if n != 1 else ''} other than you approve{'s' if n == 1 else ''}"
            )
        else:
            self.message.info(f"{request.alias} now points at version {request.version}")
        self.changed.emit()

    def _failed(self, error: Exception) -> None:
        self.request.setEnabled(self.target is not None)
        self.message.error(f"not moved: {brief(error)}")
