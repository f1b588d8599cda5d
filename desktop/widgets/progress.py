"""Push and pull progress in a QProgressBar: the sync code reports from its worker threads (the hashing
pool included), and signals carry each report to the GUI thread, where only the bar is touched."""

from __future__ import annotations

from kiln.core.units import format_bytes
from kiln.desktop.qt import QHBoxLayout, QLabel, QObject, QProgressBar, Qt, QWidget, Signal

STEPS = 1000  # the bar counts thousandths: byte totals outgrow a C int


class QtReporter(QObject):
    """A kiln.sync.progress.Reporter whose calls, from any thread, become queued signals."""

    phase_started = Signal(str, object)  # name, total bytes
    advanced = Signal(object)  # bytes
    finished = Signal()

    def phase(self, name: str, total_bytes: int) -> None:
        self.phase_started.emit(name, total_bytes)

    def advance(self, nbytes: int) -> None:
        self.advanced.emit(nbytes)

    def done(self) -> None:
        self.finished.emit()


class ProgressView(QWidget):
    """A bar and a line of words for one push or pull at a time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, STEPS)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)  # no "0%" before anything has started
        self.label = QLabel("", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.label)
        self.name, self.total, self.done_bytes = "", 0, 0
        self._reporter: QtReporter | None = None

    def reporter(self) -> QtReporter:
        """A fresh reporter wired to this view, for one operation (the previous one has ended)."""
        if self._reporter is not None:
            self._reporter.deleteLater()
        reporter = self._reporter = QtReporter(self)
        queued = Qt.ConnectionType.QueuedConnection
        reporter.phase_started.connect(self._phase, queued)
        reporter.advanced.connect(self._advance, queued)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.label.setText("starting…")
        return reporter

    def _phase(self, name: str, total: int) -> None:
        self.name, self.total, self.done_bytes = name, int(total), 0
        self.bar.setValue(0 if total else STEPS)
        self.label.setText(f"{name} {format_bytes(total)}")

    def _advance(self, nbytes: int) -> None:
        self.done_bytes += int(nbytes)
        if self.total:
            self.bar.setValue(min(STEPS, self.done_bytes * STEPS // self.total))
        self.label.setText(f"{self.name} {format_bytes(self.done_bytes)} of {format_bytes(self.total)}")

    def complete(self, text: str) -> None:
        self.bar.setValue(STEPS)
        self.label.setText(text)

    def fail(self, text: str) -> None:
        self.label.setText(text)
