"""What shows an environment version outside its page: its definition (the lock or the Dockerfile) and a
build log in read-only dialogs, its state painted as a pill, and the bar at the top of a run page's
Environment tab naming the version the run ran in, with its digest and both of those one click away."""

from __future__ import annotations

from kiln.client import Client
from kiln.core.environments import RECORD_DIGEST, RECORD_ENVIRONMENT, Environment, EnvKind
from kiln.core.models import RunRecord
from kiln.core.runs import Run
from kiln.desktop.ops import Runner, brief
from kiln.desktop.qt import (
    QDialog,
    QDialogButtonBox,
    QFont,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QShowEvent,
    Qt,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.widgets.common import Message

LOG_TAIL = 1 << 20  # bytes of a build log shown; `kiln logs RUN` prints all of it


class TextDialog(QDialog):
    """Read-only text in a fixed-width font, to read and copy: a lock, a Dockerfile, a build log."""

    def __init__(self, title: str, heading: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.heading = QLabel(heading, self)
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setFont(QFont("monospace"))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setPlainText(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.column = QVBoxLayout(self)
        self.column.addWidget(self.heading)
        self.column.addWidget(self.text, 1)
        self.column.addWidget(buttons)
        self.resize(760, 560)


def definition_dialog(env: Environment, parent: QWidget | None = None) -> TextDialog:
    """The version's lock (a Python environment) or Dockerfile (a Docker one), as it was created."""
    if env.kind is EnvKind.PYTHON:
        what = f"the lock, for Python {env.definition.python}"
    else:
        context = env.definition.context
        what = f"the Dockerfile, built in snapshot {context[:12]}" if context else "the Dockerfile (no build context)"
    heading = f"<b>{env.ref}</b>: {what}<br>digest {env.digest}"
    return TextDialog(f"Definition of {env.ref}", heading, env.definition.text, parent)


def read_log(client: Client, run_id: str) -> str:
    """The last LOG_TAIL bytes (or so) of a run's output, saying how much came before."""
    chunks = list(client.read_logs(run_id, tail_bytes=LOG_TAIL))
    text = b"".join(c.data for c in chunks).decode("utf-8", errors="replace")
    skipped = chunks[0].offset if chunks else 0
    if skipped:
        text = f"… {skipped:,} bytes before this are left out: kiln logs {run_id} prints them\n{text}"
    return text or "(the build wrote nothing yet)"


class BuildLog(TextDialog):
    """The log of a version's build run, read once when opened (Refresh reads it again)."""

    def __init__(self, client: Client, runner: Runner, env: Environment, parent: QWidget | None = None) -> None:
        super().__init__(f"Build log of {env.ref}", f"<b>{env.ref}</b>: build run {env.build_run}", "", parent)
        self.client, self.runner, self.run_id = client, runner, env.build_run
        self.loaded = False
        self.refresh_button = QPushButton("Refresh", self)
        self.column.insertWidget(2, self.refresh_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.refresh_button.clicked.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        run_id = self.run_id
        self.text.setPlaceholderText("loading the build log…")
        self.runner.run(f"read the build log {run_id}", lambda: read_log(self.client, run_id), self._read, self._failed)

    def _read(self, text: str) -> None:
        self.text.setPlainText(text)
        self.loaded = True

    def _failed(self, error: Exception) -> None:
        self.text.setPlaceholderText(f"could not read the build log: {brief(error)}")


class EnvironmentBar(QWidget):
    """The top of a run page's Environment tab: the version the run ran in (as pinned in its spec, or as
    its agent recorded it) with its digest, and Definition… and Build log. The version is read when the
    bar is first seen, not when the run page opens."""

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project = self.ref = self.digest = self.image = ""
        self.builds = False
        self.env: Environment | None = None
        self.asked = ""  # the ref read (or being read)
        self.dialog: QDialog | None = None
        self.label = QLabel("", self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        self.message = Message(self)
        self.definition_button = QPushButton("Definition…", self)
        self.build_log_button = QPushButton("Build log", self)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.label, 1)
        top.addWidget(self.definition_button)
        top.addWidget(self.build_log_button)
        layout = QVBoxLayout(self)  # the default margins: the tables below have theirs
        layout.addLayout(top)
        layout.addWidget(self.message)
        self.definition_button.clicked.connect(self.show_definition)
        self.build_log_button.clicked.connect(self.show_build_log)
        self._say()

    def show_run(self, run: Run, record: RunRecord | None) -> None:
        """What `run` ran in (or builds); the record's digest once its agent has recorded one."""
        recorded = record.environment if record is not None and record.run.id == run.id else {}
        ref = run.spec.builds or run.spec.environment or recorded.get(RECORD_ENVIRONMENT, "")
        self.project, self.image, self.builds = run.spec.project, run.spec.image, bool(run.spec.builds)
        self.digest = recorded.get(RECORD_DIGEST, "")
        if ref != self.ref:
            self.ref, self.env = ref, None
            if self.isVisible():
                self._read()
        self._say()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._read()

    def _read(self) -> None:
        if not self.ref or self.asked == self.ref:
            return
        project, ref = self.project, self.ref
        self.asked = ref
        self.runner.run(
            f"read environment {ref}",
            lambda: self.client.get_environment(project, ref),
            self._found,
            lambda e: self._not_found(ref, e),
        )

    def _found(self, env: Environment) -> None:
        if env.ref == self.ref:
            self.env = env
            self.message.clear()
            self._say()

    def _not_found(self, ref: str, error: Exception) -> None:
        if ref == self.ref:
            self.asked = ""  # asked again when seen again
            self.message.error(f"could not read environment {ref}: {brief(error)}")

    def _say(self) -> None:
        env = self.env
        if not self.ref:
            without = f"the image {self.image}" if self.image else "the node's own Python"
            self.label.setText(f"<b>Environment</b>: none — {without}")
        else:
            digest = self.digest or (env.digest if env else "")
            what = "Builds environment" if self.builds else "Environment"
            kind = f" ({env.kind}, {env.state})" if env else ""
            self.label.setText(f"<b>{what} {self.ref}</b>{kind}<br>digest {digest or '(reading…)'}")
        self.definition_button.setVisible(bool(self.ref))
        self.build_log_button.setVisible(bool(self.ref) and not self.builds)  # a build run's log is its own
        self.definition_button.setEnabled(env is not None)
        self.build_log_button.setEnabled(env is not None and bool(env.build_run))

    def show_definition(self) -> None:
        if self.env is not None:
            self._open(definition_dialog(self.env, self))

    def show_build_log(self) -> None:
        if self.env is not None and self.env.build_run:
            self._open(BuildLog(self.client, self.runner, self.env, self))

    def _open(self, dialog: QDialog) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = dialog
        dialog.open()
