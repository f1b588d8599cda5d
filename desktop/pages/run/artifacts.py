"""The run page's Artifacts & models tab: what the run logged (artifacts and models, a folder with its
files), each with its type and size in the output snapshot; the picked file previewed (text, JSON, CSV,
images: kiln.desktop.pages.run.preview decides what); Save… for one file; Register model… for a logged
model or any path of the output.

Every read leaves the GUI thread and is bounded: a preview reads at most what it shows (one chunk of the
blob stream, then the stream is dropped, which cancels it), and Save writes the blob through the one
verified writer, so a file saved is complete and matches its digest, or is not there at all."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from kiln.client import Client
from kiln.core.errors import Internal, InvalidArgument, NotFound
from kiln.core.manifest import Entry
from kiln.core.models import ModelVersion, RunRecord
from kiln.core.units import format_bytes
from kiln.core.verified import VerifiedWriter
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.models.forms import RegisterDialog
from kiln.desktop.pages.run.preview import Preview, file_type, preview, read_limit
from kiln.desktop.pages.run.recordrows import ARTIFACT_HEADERS, artifact_rows, under
from kiln.desktop.qt import (
    QFileDialog,
    QFont,
    QHBoxLayout,
    QImage,
    QLabel,
    QPixmap,
    QPlainTextEdit,
    QPushButton,
    QResizeEvent,
    QSize,
    QSplitter,
    QStackedWidget,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import Row
from kiln.desktop.widgets.common import Message, Table

PreviewResult = tuple[Preview, QImage | None]


def read_head(client: Client, project: str, digest: str, limit: int) -> bytes:
    """The first `limit` bytes of a blob. The coordinator streams a blob in chunks as they are taken; the
    stream is closed once enough arrived, which cancels the call, so the rest is never read."""
    if limit <= 0:
        return b""
    got = bytearray()
    parts = client.read_blobs(project, [digest])
    try:
        for part in parts:
            got += part.data
            if len(got) >= limit or part.last:
                break
    finally:
        if isinstance(parts, Generator):
            parts.close()
    return bytes(got[:limit])


def load_preview(client: Client, project: str, entry: Entry) -> PreviewResult:
    """Off the GUI thread: the preview of one file, an image decoded here (QImage is safe off it)."""
    head = read_head(client, project, entry.digest, read_limit(entry.path, entry.size))
    shown = preview(entry.path, entry.size, head)
    if shown.kind != "image":
        return shown, None
    image = QImage.fromData(shown.data)
    if image.isNull():
        return Preview("none", f"{file_type(entry.path)} of {format_bytes(entry.size)} that Qt cannot read"), None
    return shown, image


def save_blob(client: Client, project: str, entry: Entry, dest: Path) -> Path:
    """Writes one file of the output to `dest`, verified against its digest before it takes the name."""

    def corrupted(actual: str) -> InvalidArgument:
        return InvalidArgument(
            f"{entry.path} arrived corrupted (hashes to {actual[:12]}); nothing was saved, try again"
        )

    writer = VerifiedWriter(entry.digest, dest, expected_size=entry.size, mismatch=corrupted)
    try:
        for part in client.read_blobs(project, [entry.digest]):
            writer.write(part.data)
            if part.last:
                break
        writer.finish()
    finally:
        writer.abort()  # after finish: nothing left to drop; after a failure: the temp file goes
    return dest


def save_problem(path: str, error: Exception) -> str:
    """What went wrong saving, and what to do about it."""
    if isinstance(error, NotFound | Internal):
        return (
            f"could not save {path}: the coordinator could not send its content ({error}); its copy is "
            "missing or unreadable: ask the coordinator's administrator to check its blob store (or restore "
            "it from a backup), then save again"
        )
    if isinstance(error, OSError):
        return (
            f"could not write {error.filename or 'the file'}: {error.strerror or error}; pick a folder you can write to"
        )
    return f"could not save {path}: {brief(error)}"


class ImageView(QLabel):
    """An image scaled to fit (never up), keeping its proportions, rescaled as the tab is resized."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(40, 40))
        self.image = QImage()

    def set_image(self, image: QImage) -> None:
        self.image = image
        self._scale()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._scale()

    def _scale(self) -> None:
        if self.image.isNull():
            self.clear()
            return
        pixmap = QPixmap.fromImage(self.image)
        if pixmap.width() > self.width() or pixmap.height() > self.height():
            pixmap = pixmap.scaled(
                self.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        self.setPixmap(pixmap)


class ArtifactsPanel(QWidget):
    """The tab's upper part: the logged paths on the left, the picked file's preview on the right.
    Emits `registered(ModelVersion)` after Register model… registered one."""

    registered = Signal(object)

    def __init__(self, client: Client, runner: Runner, run_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner, self.run_id = client, runner, run_id
        self.project = self.snapshot = ""
        self.logged: tuple[list[str], list[tuple[str, str, str]]] = ([], [])
        self.entries: dict[str, Entry] | None = None  # the output snapshot's, by path, once read
        self.shown: Preview | None = None
        self.register_dialog: RegisterDialog | None = None
        self.table = Table(ARTIFACT_HEADERS, parent=self)
        self._build_preview()
        self.save_button = QPushButton("Save…", self)
        self.register_button = QPushButton("Register model…", self)
        for button in (self.save_button, self.register_button):
            button.setAutoDefault(False)  # Return on the run page presses nothing here
        self.message = Message(self)
        self._lay_out()
        self.table.selection_changed.connect(self._picked)
        self.save_button.clicked.connect(self._save)
        self.register_button.clicked.connect(self.open_register)
        self._picked()

    def _build_preview(self) -> None:
        self.caption = QLabel("", self)
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit(self, readOnly=True)
        self.text.setFont(QFont("monospace"))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.csv = Table(("",), parent=self, sortable=True)  # a click on a header: numbers as numbers
        self.image = ImageView(self)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget(self)
        for view in (self.note, self.text, self.csv, self.image):
            self.stack.addWidget(view)

    def _lay_out(self) -> None:
        right = QWidget(self)
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.caption)
        column.addWidget(self.stack, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.register_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        column.addWidget(self.message)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def with_output(self, parent: QWidget, output: QWidget) -> QWidget:
        """The whole tab: this panel above the output snapshot's own files (to pull them all)."""
        split = QSplitter(Qt.Orientation.Vertical, parent)
        split.addWidget(self)
        split.addWidget(output)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        return split

    # -- what the run logged, and its output snapshot -------------------------------------------------

    def set_record(self, record: RunRecord) -> None:
        """The run's record as read again: its logged paths, and its output snapshot once there is one."""
        self.logged = (list(record.artifacts), list(record.models))
        self.project = record.run.spec.project
        snapshot = record.run.output_snapshot
        if snapshot and snapshot != self.snapshot:
            self.snapshot = snapshot
            self.runner.run(
                f"read the output of {self.run_id}",
                lambda: self.client.get_snapshot(snapshot, self.project)[1],
                self._manifest_read,
                lambda e: self.message.error(f"could not read the output snapshot: {brief(e)}"),
            )
        self._show_rows()

    def _manifest_read(self, entries: list[Entry]) -> None:
        self.entries = {e.path: e for e in entries}
        self._show_rows()
        self._picked()

    def _show_rows(self) -> None:
        artifacts, models = self.logged
        entries = list(self.entries.values()) if self.entries is not None else None
        self.table.update_rows(artifact_rows(artifacts, models, entries))

    def selected_path(self) -> str | None:
        key = self.table.selected_key()
        return key if isinstance(key, str) else None

    def selected_entry(self) -> Entry | None:
        """The picked file (with content to preview and save), if a file is picked."""
        path = self.selected_path()
        entry = self.entries.get(path) if path and self.entries else None
        return entry if entry is not None and entry.has_blob else None

    def selected_row(self) -> Row | None:
        path = self.selected_path()
        return next((r for r in self.table.rows_model.rows if r.key == path), None) if path else None

    # -- preview --------------------------------------------------------------------------------------

    def _picked(self) -> None:
        path, entry = self.selected_path(), self.selected_entry()
        self.save_button.setEnabled(entry is not None)
        self.register_button.setEnabled(path is not None and bool(self.snapshot))
        self.register_button.setToolTip("" if self.snapshot else "the run's output is registered once it ends")
        self.message.clear()
        if path is None:
            self._say("", "Pick an artifact to preview it.")
        elif entry is None:
            self._say(path, self._why_no_preview(path))
        else:
            self._say(path, f"reading {entry.path}…")
            project = self.project
            self.runner.run(
                f"preview {entry.path}",
                lambda: load_preview(self.client, project, entry),
                lambda result: self._previewed(entry, result),
                lambda e: self._preview_failed(entry, e),
            )

    def _why_no_preview(self, path: str) -> str:
        if self.entries is None:
            return "The output snapshot is read once the run has ended." if not self.snapshot else "reading…"
        inside = [e for e in self.entries.values() if under(e, path) and e.has_blob]
        if not inside:
            return f"{path} is not in the run's output snapshot (it was logged, then removed or never written)."
        size = format_bytes(sum(e.size for e in inside))
        return f"A folder of {len(inside)} file{'s' if len(inside) != 1 else ''} ({size}): pick one to preview it."

    def _say(self, path: str, note: str) -> None:
        self.shown = None
        self.caption.setText(f"<b>{path}</b>" if path else "")
        self.note.setText(note)
        self.stack.setCurrentWidget(self.note)

    def _previewed(self, entry: Entry, result: PreviewResult) -> None:
        if entry != self.selected_entry():
            return  # another file was picked meanwhile; its own preview follows
        shown, image = result
        self.shown = shown
        self.caption.setText(f"<b>{entry.path}</b> · {shown.caption}")
        if shown.kind == "text":
            self.text.setPlainText(shown.text)
            self.stack.setCurrentWidget(self.text)
        elif shown.kind == "table":
            self.csv.set_headers(shown.headers)
            self.csv.set_rows([Row(cells, i) for i, cells in enumerate(shown.rows)])
            self.stack.setCurrentWidget(self.csv)
        elif shown.kind == "image" and image is not None:
            self.image.set_image(image)
            self.caption.setText(f"<b>{entry.path}</b> · {shown.caption}, {image.width()}×{image.height()} pixels")
            self.stack.setCurrentWidget(self.image)
        else:
            self.note.setText(shown.caption)
            self.stack.setCurrentWidget(self.note)

    def _preview_failed(self, entry: Entry, error: Exception) -> None:
        if entry == self.selected_entry():
            self.note.setText(save_problem(entry.path, error).replace("could not save", "could not preview", 1))
            self.stack.setCurrentWidget(self.note)

    # -- save and register ----------------------------------------------------------------------------

    def _save(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        name = entry.path.rsplit("/", 1)[-1]
        chosen, _ = QFileDialog.getSaveFileName(self, f"Save {entry.path}", str(Path.home() / name))
        if chosen:
            self.save_to(chosen)

    def save_to(self, dest: str) -> None:
        """Saves the picked file as `dest` (what Save… does once a place is chosen), off the GUI thread."""
        entry, project = self.selected_entry(), self.project
        if entry is None:
            return
        target = Path(dest).expanduser()
        self.save_button.setEnabled(False)
        self.message.info(f"saving {entry.path} ({format_bytes(entry.size)}) as {target}…")
        self.runner.run(
            f"save {entry.path}",
            lambda: save_blob(self.client, project, entry, target),
            lambda saved: self._saved(entry, saved),
            lambda e: self._save_failed(entry, e),
        )

    def _saved(self, entry: Entry, saved: Path) -> None:
        self.save_button.setEnabled(self.selected_entry() is not None)
        self.message.info(f"saved {entry.path} ({format_bytes(entry.size)}) as {saved}")

    def _save_failed(self, entry: Entry, error: Exception) -> None:
        self.save_button.setEnabled(self.selected_entry() is not None)
        self.message.error(save_problem(entry.path, error))

    def open_register(self) -> RegisterDialog | None:
        """Register model… for the picked path: the form starts with the logged model's name, if any."""
        path = self.selected_path()
        if path is None:
            return None
        _, models = self.logged
        name = next((n for p, n, _ in models if p.strip("/") == path), "")
        if self.register_dialog is not None:
            self.register_dialog.close()
        dialog = RegisterDialog(self.client, self.runner, self.run_id, path, name, self)
        dialog.registered.connect(self.registered)
        dialog.registered.connect(self._registered)
        self.register_dialog = dialog
        dialog.show()
        return dialog

    def _registered(self, version: ModelVersion) -> None:
        self.message.info(f"registered as {version.name} v{version.version}: see it on the Models page")
