"""The launch dialog: what to run, where its code comes from (the project's linked folder, pushed now with
the Files page's push, or a snapshot already pushed), the environment it runs in (the project default,
none, or a ready version; kiln.desktop.pages.environments.rows) and what it needs; then `submit_run`. The
form is checked before anything is uploaded; the coordinator's refusal (nothing could ever fit) is said in
it."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from kiln.client import Client
from kiln.core.environments import RUNTIME_OF, EnvKind
from kiln.core.errors import InvalidArgument, KilnError
from kiln.core.models import Snapshot
from kiln.core.runs import Run, RunSpec
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.environments.rows import Choice, picker_choices, submitted_ref
from kiln.desktop.pages.runs.runspec import NETWORKS, RUNTIMES, LaunchForm, build_spec
from kiln.desktop.qt import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStandardItemModel,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import ago
from kiln.desktop.widgets.common import Message
from kiln.desktop.widgets.progress import ProgressView, QtReporter
from kiln.sync.push import push

MAX_RETRIES = 10  # the coordinator's limit, so the spin box cannot ask for more


class LaunchDialog(QDialog):
    """Emits `launched(Run)` with the queued run, then closes; stays open with the reason on a refusal."""

    launched = Signal(object)

    def __init__(
        self,
        client: Client,
        runner: Runner,
        project: str,
        folder: Path | None,
        cache_dir: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Launch a run in {project}")
        self.client, self.runner, self.project = client, runner, project
        self.folder, self.cache_dir = folder, cache_dir
        self._build_fields()
        self._build_source()
        self.message = Message(self)
        self.progress = ProgressView(self)
        self.progress.hide()
        self.launch = QPushButton("Launch", self, default=True)
        self.cancel = QPushButton("Cancel", self)
        self._lay_out()
        self.launch.clicked.connect(self._launch)
        self.cancel.clicked.connect(self.reject)
        self.resize(560, 0)
        self._load_snapshots()
        self._load_environments()

    def _build_fields(self) -> None:
        self.command = QLineEdit(self, placeholderText="python train.py --lr 0.01")
        self.image = QLineEdit(self, placeholderText="container image (Docker runtime), e.g. python:3.11")
        self.environment = QComboBox(self)
        self.environment.setPlaceholderText("loading environments…")
        self.choices: list[Choice] = []
        self.runtime = QComboBox(self)
        self.runtime.addItems(list(RUNTIMES))
        self.cpus = QDoubleSpinBox(self, minimum=0.1, maximum=1024, value=1.0, decimals=1, singleStep=0.5)
        self.memory = QLineEdit(self, placeholderText="e.g. 4G (empty: no limit)")
        self.gpus = QSpinBox(self, minimum=0, maximum=64)
        self.gpu_model = QLineEdit(self, placeholderText="part of the GPU's name, e.g. a100 (empty: any)")
        self.priority = QComboBox(self)
        self.priority.addItems(["low", "normal", "high"])
        self.priority.setCurrentText("normal")
        self.labels = QLineEdit(self, placeholderText="zone=a, disk=ssd (the node must carry all)")
        self.env = QPlainTextEdit(self, placeholderText="one KEY=VALUE a line")
        self.env.setFixedHeight(self.fontMetrics().height() * 4 + 12)
        self.network = QComboBox(self)
        self.network.addItems(list(NETWORKS))
        self.retries = QSpinBox(self, minimum=0, maximum=MAX_RETRIES)

    def _build_source(self) -> None:
        where = str(self.folder) if self.folder else "no folder linked: link one on the Files page"
        self.from_folder = QRadioButton(f"Push the linked folder ({where})", self)
        self.from_snapshot = QRadioButton("An existing snapshot", self)
        self.snapshot = QComboBox(self)
        self.snapshot.setPlaceholderText("loading snapshots…")
        group = QButtonGroup(self)
        group.addButton(self.from_folder)
        group.addButton(self.from_snapshot)
        self.from_folder.setEnabled(self.folder is not None)
        (self.from_folder if self.folder else self.from_snapshot).setChecked(True)
        self.from_snapshot.toggled.connect(self._update)

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("Command", self.command)
        form.addRow("Code", self.from_folder)
        snap_row = QHBoxLayout()
        snap_row.addWidget(self.from_snapshot)
        snap_row.addWidget(self.snapshot, 1)
        form.addRow("", snap_row)
        form.addRow("Environment", self.environment)
        form.addRow("Image", self.image)
        form.addRow("Runtime", self.runtime)
        form.addRow("CPUs", self.cpus)
        form.addRow("Memory", self.memory)
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.gpus)
        gpu_row.addWidget(self.gpu_model, 1)
        form.addRow("GPUs, model", gpu_row)
        form.addRow("Priority", self.priority)
        form.addRow("Node labels", self.labels)
        form.addRow("Environment variables", self.env)
        form.addRow("Network", self.network)
        form.addRow("Retries if lost", self.retries)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.launch)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    def form(self) -> LaunchForm:
        return LaunchForm(
            self.project,
            self.command.text(),
            self.image.text(),
            self.runtime.currentText(),
            self.cpus.value(),
            self.memory.text(),
            self.gpus.value(),
            self.gpu_model.text(),
            self.priority.currentText(),
            self.labels.text(),
            self.env.toPlainText(),
            self.network.currentText(),
            self.retries.value(),
        )

    def _load_snapshots(self) -> None:
        project = self.project
        self.runner.run(
            f"list snapshots of {project}",
            lambda: self.client.list_snapshots(project),
            self._snapshots_loaded,
            lambda e: self.snapshot.setPlaceholderText(f"could not list snapshots: {brief(e)}"),
        )

    def _snapshots_loaded(self, found: list[Snapshot]) -> None:
        self.snapshot.clear()
        now = time.time()
        for s in sorted(found, key=lambda s: s.created_at, reverse=True):
            created, exact = ago(s.created_at, now)  # "5 min ago" in the list; the exact time on hover
            self.snapshot.addItem(f"{s.id[:12]}  {created}  {s.message}".rstrip(), s.id)
            self.snapshot.setItemData(self.snapshot.count() - 1, exact, Qt.ItemDataRole.ToolTipRole)
        self.snapshot.setPlaceholderText("no snapshots yet" if not found else "")
        self._update()

    def _load_environments(self) -> None:
        project = self.project
        self.runner.run(
            f"list environments of {project}",
            lambda: (self.client.list_environments(project), self.client.default_environment(project)),
            lambda answer: self._set_choices(picker_choices(*answer)),
            self._environments_failed,
        )

    def _environments_failed(self, error: Exception) -> None:
        self._set_choices([Choice("(the project default, if it has one)", tip="the environments were not listed")])
        self.environment.setToolTip(f"could not list environments: {brief(error)}")

    def _set_choices(self, choices: list[Choice]) -> None:
        """The picker's entries; a version that is building or failed is there, but cannot be chosen."""
        self.choices = choices
        self.environment.clear()
        model = self.environment.model()
        for i, choice in enumerate(choices):
            self.environment.addItem(choice.text, choice.ref)
            self.environment.setItemData(i, choice.tip or None, Qt.ItemDataRole.ToolTipRole)
            if not choice.enabled and isinstance(model, QStandardItemModel):
                model.item(i).setEnabled(False)
        self.environment.setCurrentIndex(0 if choices else -1)

    def chosen_environment(self) -> Choice | None:
        i = self.environment.currentIndex()
        return self.choices[i] if 0 <= i < len(self.choices) else None

    def _environment_of(self, spec: RunSpec) -> str:
        """What RunSpec.environment gets: "" for the project default (the coordinator applies it) or none;
        a version chosen beside an image, or a runtime that cannot run it, is refused here as it would be
        there."""
        choice = self.chosen_environment()
        ref = submitted_ref(choice.ref) if choice else ""
        if ref in ("", "none") or choice is None:
            return ref
        if spec.image:
            raise InvalidArgument(
                f"choose an environment or an image, not both: {ref} already says what the run runs in "
                "(clear the image, or choose the project default or none)"
            )
        runtime = RUNTIME_OF[EnvKind(choice.kind)]
        if spec.runtime and spec.runtime != runtime:
            raise InvalidArgument(
                f"environment {ref} is a {choice.kind} environment, which runs in the {runtime} runtime: "
                f"choose {runtime} or any"
            )
        return ref

    def _update(self) -> None:
        self.snapshot.setEnabled(self.from_snapshot.isChecked())
        busy = any(label.startswith("launch ") for label in self.runner.labels())
        self.launch.setEnabled(not busy)

    def _launch(self) -> None:
        try:
            spec = build_spec(self.form())
            spec = replace(spec, environment=self._environment_of(spec))
        except KilnError as e:
            self.message.error(str(e))
            return
        folder = self.folder if self.from_folder.isChecked() else None
        snapshot = self.snapshot.currentData() or ""
        if folder is None and not snapshot:
            self.message.error("choose a snapshot to run, or link a folder on the Files page")
            return
        reporter: QtReporter | None = None
        if folder is not None:
            self.progress.show()
            reporter = self.progress.reporter()
        self.message.info("pushing the folder…" if folder else "submitting…")
        cache_dir, words = self.cache_dir, " ".join(spec.command)

        def work() -> Run:
            snap = snapshot
            if folder is not None:
                pushed = push(self.client, folder, spec.project, f"run {words}", cache_dir, reporter)
                snap = pushed.snapshot.id
            return self.client.submit_run(replace(spec, snapshot=snap))

        self.runner.run(f"launch {words}", work, self._launched, self._failed)
        self._update()

    def _launched(self, run: Run) -> None:
        self.progress.complete("pushed")
        self.launched.emit(run)
        self.accept()

    def _failed(self, error: Exception) -> None:
        self.progress.fail("not launched")
        self.message.error(brief(error))
        self._update()
