"""The forms that change endpoints: Deploy (a model version, or the version an alias names, as a new endpoint),
Change weights (one weight per version, a shadow, a sticky header; asked for after a confirmation), Scale
and Promote (ask `production` to move to a version: the approval flow, after which endpoints following
production roll by themselves).

The coordinator decides (a taken name, weights that do not add up to 100, a version of another model, a
viewer): each form says its answer in its own message and stays open so a refusal can be corrected, and
emits `failed(text)` so the page says it too; `answered(answer)` once the coordinator accepted, and closes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kiln.client import Client
from kiln.core.deployments import MAX_REPLICAS, Deployment, Split
from kiln.core.models import AliasRequest, Model
from kiln.core.runs import Resources
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.deployments.rows import splits_text
from kiln.desktop.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
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
from kiln.desktop.widgets.common import Message
from kiln.desktop.widgets.confirm import confirm, no_default_buttons

PRODUCTION = "production"
NO_SHADOW = "none"


class ActionDialog(QDialog):
    """A form with one action button: `submit` asks the coordinator off the GUI thread, button off meanwhile."""

    answered = Signal(object)
    failed = Signal(str)

    def __init__(self, client: Client, runner: Runner, title: str, action: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.action = QPushButton(action, self)
        self.close_button = QPushButton("Close", self)
        self.message = Message(self)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.action)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.close_button.clicked.connect(self.close)
        no_default_buttons(self)  # Return in a field must not deploy, or stop, anything

    def submit(self, label: str, work: Callable[[], Any], refused: str) -> None:
        """Runs `work`; its answer goes to `answered` (and the dialog closes), a refusal to the message as
        "REFUSED: the coordinator's words" and to `failed`."""

        def ok(answer: Any) -> None:
            self.action.setEnabled(True)
            self.answered.emit(answer)
            self.close()

        def not_ok(error: Exception) -> None:
            self.action.setEnabled(True)
            text = f"{refused}: {brief(error)}"
            self.message.error(text)
            self.failed.emit(text)

        self.action.setEnabled(False)
        self.message.info(f"{label}…")
        self.runner.start(Op(label, work, ok, not_ok, said_by_page=True))


def parse_target(text: str) -> tuple[int, str]:
    """(version, alias) of what the form names: "3" or "v3" a version, anything else an alias."""
    text = text.strip()
    digits = text[1:] if text[:1] in ("v", "V") else text
    return (int(digits), "") if digits.isdigit() else (0, text)


def target_choices(model: Model | None) -> list[str]:
    """The aliases (production first), then the versions, newest first."""
    if model is None:
        return []
    aliases = sorted(model.aliases, key=lambda a: (a != PRODUCTION, a))
    return aliases + [str(v.version) for v in sorted(model.versions, key=lambda v: -v.version)]


class DeployDialog(ActionDialog):
    """A new endpoint serving a model version, or following an alias. Emits `answered(Deployment)`."""

    def __init__(
        self, client: Client, runner: Runner, project: str, models: Sequence[Model], parent: QWidget | None = None
    ) -> None:
        super().__init__(client, runner, f"Deploy a model of {project}", "Deploy", parent)
        self.project = project
        self.models = {m.name: m for m in models}
        self.name = QLineEdit(self, placeholderText="the endpoint's name: its URL, unique in the installation")
        self.model = QComboBox(self)
        self.model.setEditable(True)
        self.model.addItems(sorted(self.models))
        self.target = QComboBox(self)
        self.target.setEditable(True)
        self.target.setToolTip("a version number, or an alias to follow (its moves roll the endpoint)")
        self.replicas = QSpinBox(self, minimum=1, maximum=MAX_REPLICAS, value=1)
        self.cpus = QDoubleSpinBox(self, minimum=0.0, maximum=1024.0, singleStep=0.25, decimals=2)
        self.cpus.setSpecialValueText("default (1)")
        self.form.addRow("Endpoint name", self.name)
        self.form.addRow("Model", self.model)
        self.form.addRow("Version or alias", self.target)
        self.form.addRow("Replicas per version", self.replicas)
        self.form.addRow("CPUs per replica", self.cpus)
        self.model.currentTextChanged.connect(self._model_changed)
        self.action.clicked.connect(self.deploy)
        self._model_changed(self.model.currentText())
        self.resize(520, self.sizeHint().height())

    def _model_changed(self, name: str) -> None:
        self.target.clear()
        self.target.addItems(target_choices(self.models.get(name)))
        if not self.name.text() and name:
            self.name.setPlaceholderText(f"the endpoint's name, e.g. {name}")

    def deploy(self) -> None:
        name, model = self.name.text().strip(), self.model.currentText().strip()
        version, alias = parse_target(self.target.currentText())
        if not (name and model and (version or alias)):
            self.message.error("name the endpoint, the model and a version (or an alias to follow)")
            return
        project, replicas, cpus = self.project, self.replicas.value(), self.cpus.value()
        client = self.client
        follows = f"following {alias}" if alias else f"v{version}"
        self.submit(
            f"deploy {model} {follows} as {name}",
            lambda: client.create_deployment(
                project, name, model, version=version, alias=alias, replicas=replicas, resources=Resources(cpus)
            ),
            "not deployed",
        )


def traffic_question(d: Deployment, splits: Sequence[Split], follow: bool) -> str:
    """What changing the weights does, as a question naming the endpoint, the traffic now and asked."""
    alias = ""
    if d.alias:
        alias = f" It keeps following {d.alias}." if follow else f" It stops following {d.alias}."
    return (
        f"Change the traffic of endpoint {d.name} ({d.model})?\n\n"
        f"Serving now: {splits_text(d.serving)}\nAsked now: {splits_text(d.traffic)}\n"
        f"New: {splits_text(splits)}\n\n"
        f"The gateway switches once each version has a ready replica; until then the old weights answer.{alias}"
    )


class TrafficDialog(ActionDialog):
    """One weight per version of the endpoint's model (percent, adding up to 100), an optional shadow
    version and a sticky header; Apply asks first. Emits `answered(Deployment)`."""

    def __init__(
        self, client: Client, runner: Runner, deployment: Deployment, model: Model, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, runner, f"Change the weights of {deployment.name}", "Apply…", parent)
        self.deployment = deployment
        self.confirmation: QMessageBox | None = None  # the question asked last (tests answer it)
        asked = {s.version: s.weight for s in deployment.traffic if not s.shadow}
        shadow = next((s.version for s in deployment.traffic if s.shadow), 0)
        versions = sorted({v.version for v in model.versions} | set(asked), reverse=True)
        self.weights: dict[int, QSpinBox] = {}
        for v in versions:
            box = QSpinBox(self, minimum=0, maximum=100, value=asked.get(v, 0), suffix=" %")
            box.valueChanged.connect(self._total_changed)
            self.weights[v] = box
            self.form.addRow(f"Version {v}", box)
        self.total = QLabel("", self)
        self.form.addRow("", self.total)
        self.shadow = QComboBox(self)
        self.shadow.addItems([NO_SHADOW] + [f"v{v}" for v in versions])
        self.shadow.setCurrentText(f"v{shadow}" if shadow else NO_SHADOW)
        self.shadow.setToolTip("a version mirrored: its answers are recorded, never returned")
        self.form.addRow("Shadow version", self.shadow)
        self.sticky = QLineEdit(deployment.sticky_header, self, placeholderText="e.g. X-User (optional)")
        self.form.addRow("Sticky header", self.sticky)
        self.follow = QCheckBox(f"keep following {deployment.alias}", self)
        self.follow.setChecked(bool(deployment.alias))
        self.follow.setVisible(bool(deployment.alias))
        self.form.addRow("", self.follow)
        self.action.clicked.connect(self.ask)
        self._total_changed()

    def set_weights(self, weights: dict[int, int], shadow: int = 0) -> None:
        """As typing them does: `weights` by version (the rest 0), and the shadow (0: none)."""
        for v, box in self.weights.items():
            box.setValue(weights.get(v, 0))
        self.shadow.setCurrentText(f"v{shadow}" if shadow else NO_SHADOW)

    def splits(self) -> tuple[Split, ...]:
        text = self.shadow.currentText()
        shadow = int(text[1:]) if text != NO_SHADOW else 0
        live = [Split(v, box.value()) for v, box in sorted(self.weights.items()) if box.value() and v != shadow]
        return tuple(live + ([Split(shadow, 0, shadow=True)] if shadow else []))

    def _total_changed(self) -> None:
        total = sum(box.value() for box in self.weights.values())
        self.total.setText(f"adds up to {total}%" + ("" if total == 100 else " (the weights must add up to 100)"))

    def ask(self) -> QMessageBox:
        splits, follow = self.splits(), self.follow.isChecked()
        self.confirmation = confirm(
            self,
            f"Change the weights of {self.deployment.name}",
            traffic_question(self.deployment, splits, follow),
            "Change weights",
            lambda: self._apply(splits, follow),
        )
        return self.confirmation

    def _apply(self, splits: tuple[Split, ...], follow: bool) -> None:
        name, sticky, client = self.deployment.name, self.sticky.text().strip(), self.client
        self.submit(
            f"change the weights of {name}",
            lambda: client.set_traffic(name, splits, sticky, follow_alias=follow),
            "weights not changed",
        )


class ScaleDialog(ActionDialog):
    """Replicas per version. Emits `answered(Deployment)`."""

    def __init__(self, client: Client, runner: Runner, deployment: Deployment, parent: QWidget | None = None) -> None:
        super().__init__(client, runner, f"Scale {deployment.name}", "Scale", parent)
        self.deployment = deployment
        self.replicas = QSpinBox(self, minimum=1, maximum=MAX_REPLICAS, value=deployment.replicas)
        self.form.addRow("Replicas per version", self.replicas)
        self.form.addRow("", QLabel(f"now {deployment.replicas}; each reserves {deployment.cpus:g} cpus", self))
        self.action.clicked.connect(self.scale)

    def scale(self) -> None:
        name, n, client = self.deployment.name, self.replicas.value(), self.client
        self.submit(f"scale {name} to {n} replicas", lambda: client.scale_deployment(name, n), "not scaled")


class PromoteDialog(ActionDialog):
    """Asks `production` of the endpoint's model to move to a version: a request the project's validators
    approve (kiln.desktop.pages.models.approvals); once it moves, the endpoint rolls to it by itself.
    Emits `answered(AliasRequest)`."""

    def __init__(
        self, client: Client, runner: Runner, deployment: Deployment, model: Model, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, runner, f"Promote a version of {deployment.model}", "Request", parent)
        self.deployment, self.model = deployment, model
        current = model.aliases.get(PRODUCTION, 0)
        self.version = QComboBox(self)
        for v in sorted(model.versions, key=lambda v: -v.version):
            if v.version != current:
                self.version.addItem(f"v{v.version}", v.version)
        self.why = QLineEdit(self, placeholderText="why (the validators read it)")
        n = model.required_approvals
        self.form.addRow("Production now", QLabel(f"v{current}" if current else "no version", self))
        self.form.addRow("Move production to", self.version)
        self.form.addRow("Message", self.why)
        self.form.addRow(
            "",
            QLabel(
                f"The move waits for {n} approval{'s' if n != 1 else ''} by the project's validators; "
                f"endpoint {deployment.name} rolls once production moves.",
                self,
                wordWrap=True,
            ),
        )
        self.action.clicked.connect(self.request)
        self.action.setEnabled(self.version.count() > 0)

    def request(self) -> None:
        version = self.version.currentData()
        if not version:
            self.message.error("no other version of this model to promote")
            return
        d, why, client = self.deployment, self.why.text().strip(), self.client
        self.submit(
            f"request {PRODUCTION} for {d.model} v{version}",
            lambda: client.request_alias(d.project, d.model, int(version), PRODUCTION, why),
            "not requested",
        )


def promoted_text(request: AliasRequest, endpoint: str) -> str:
    if request.state == "open":
        n = request.required_approvals
        return (
            f"request {request.id} waits for approval: {PRODUCTION} moves to v{request.version} once {n} "
            f"validator{'s' if n != 1 else ''} other than you approve{'s' if n == 1 else ''} (Models page, "
            f"Requests & reviews); endpoint {endpoint} then rolls to it"
        )
    return f"{PRODUCTION} now points at v{request.version}: endpoint {endpoint} rolls to it"
