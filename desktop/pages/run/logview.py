"""A run's log on its page: the output as it is written, stderr in red, without freezing the window however
fast the run prints or however long its log is.

- Batched: the follower thread (logs.py) keeps what it reads; a timer here takes it every DRAIN_MS (every
  BUSY_MS while it is behind) and appends for at most TICK_BUDGET_MS per tick, in pieces of a few
  milliseconds each, so the window answers between ticks however fast the run prints.
- Tail first: opening a run reads the last TAIL_BYTES of its log. A banner says how much earlier output
  there is, with "Load earlier" (up to EARLIER_BYTES before what is shown, as much as the view has room
  for, fetched off the GUI thread and put in front a bounded amount per tick) and "Save whole log…"
  (streamed to a file off the GUI thread, with progress).
- Bounded: the view holds at most MAX_SHOWN_BYTES or MAX_SHOWN_LINES; past that its start is cut in
  whole chunks, and the banner says how much is not shown and how to get it. Nothing goes silently.
- Follow (on at first) keeps the end in sight; scrolling up turns it off and counts the lines that arrive
  meanwhile on a "N new lines ↓" button that jumps to the end and follows again. Wrap lines toggles.
- Ctrl+F opens the find bar (logfind.py).

For scripts and tests: `caught_up` (nothing read is waiting to be shown), `complete` (the run ended and
all of its output from where the view began is shown), `earlier_bytes`, `shown_bytes` and `end_offset`."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiln.client import Client
from kiln.core.units import format_bytes
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.run.logfind import FindBar, tool_button, utf16_len
from kiln.desktop.pages.run.logs import TAIL_BYTES, LogFollower, LogKey, LogSave, Piece, earlier_pieces, save_whole_log
from kiln.desktop.qt import (
    QBrush,
    QCheckBox,
    QColor,
    QElapsedTimer,
    QEvent,
    QFileDialog,
    QFont,
    QFrame,
    QHBoxLayout,
    QKeyEvent,
    QKeySequence,
    QLabel,
    QObject,
    QPlainTextEdit,
    QPushButton,
    QShortcut,
    Qt,
    QTextCharFormat,
    QTextCursor,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)

DRAIN_MS = 100  # how often what was read is shown
BUSY_MS = 25  # the same while more is waiting: half the time appending, half answering the window
TICK_BUDGET_MS = 25  # the most one tick spends appending (one piece more at worst: a few milliseconds)
EARLIER_BYTES = 4 * 1024 * 1024  # what one "Load earlier" fetches
# Qt keeps a laid-out line of a shown QPlainTextEdit at about 4-7 KB (its glyphs and layout, measured with
# scripts/soak-desktop), so the view holds what a person reads on screen, not the whole log: at 20,000
# lines a page costs about 100 MB however long its run prints; the rest is a "Save whole log" away.
MAX_SHOWN_BYTES = 4 * 1024 * 1024
MAX_SHOWN_LINES = 20_000
CHUNK_BYTES = 64 * 1024  # the most an agent puts in one chunk
# The most one tick cuts from the start. Qt's cost is mostly per cut, not per line (about 10-30 ms on a
# document at the caps), so cuts are few and large; the cut time counts in the tick's budget, so a run
# printing faster than the view can show gets fewer appends per tick, never a longer tick.
CUT_LINES = 10_000
CUT_CHARS = 512 * 1024
KEEP_WHEN_CUT = 0.9  # cutting the start leaves this share of the caps, so it happens now and then
STDERR = "#b00020"


@dataclass
class Span:
    """What the document holds of one piece, in order: cut from the front by whole chunks."""

    key: LogKey
    offset: int
    nbytes: int
    chars: int  # in the document's units (UTF-16)
    lines: int


class LogView(QWidget):
    """The Logs tab of a run page. `start()` when it is seen, `stop()` when it is not; emits `ended(problem)`
    once the follower has ended and all it read is shown: "" when the run ended and its output is complete."""

    ended = Signal(str)

    def __init__(
        self, client: Client, runner: Runner, connect: Callable[[], Client], run_id: str, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.client, self.runner, self.run_id = client, runner, run_id
        self.follower = LogFollower(connect, run_id, TAIL_BYTES)
        self.complete = False
        self._told_end = False
        self._spans: deque[Span] = deque()
        self._lines = 0  # newlines in what is shown
        self._cutting = False  # past a cap: cutting the start, a bounded amount a tick
        self._end_offset = 0  # the byte after the last one shown
        self._new_lines = 0  # arrived while not following
        self._earlier: deque[Piece] = deque()  # fetched, still to be put in front
        self._earlier_spans: list[Span] = []
        self._earlier_at = 0  # where the next earlier piece goes
        self._loading = False
        self._save: LogSave | None = None
        self._note = ""
        self._moving = False  # the view scrolls itself: not a person scrolling up
        self._formats = {"stdout": QTextCharFormat(), "stderr": QTextCharFormat()}
        self._formats["stderr"].setForeground(QBrush(QColor(STDERR)))
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(DRAIN_MS)
        self.timer.timeout.connect(self._tick)

    def _build(self) -> None:
        self.text = QPlainTextEdit(self, readOnly=True)
        self.text.setFont(QFont("monospace"))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.document().setUndoRedoEnabled(False)  # nothing to undo in a log, and appends cost less
        self.text.installEventFilter(self)
        self.find_bar = FindBar(self.text, self)
        self.follow = QCheckBox("Follow", self)
        self.follow.setChecked(True)
        self.follow.setToolTip("Keep the end of the log in sight as it grows")
        self.wrap = QCheckBox("Wrap lines", self)
        self.find_button = tool_button(self, "Find…", "Find in the log (Ctrl+F)")
        self.save_button = QPushButton("Save log…", self)
        self.banner = QFrame(self)
        self.banner.setStyleSheet("QFrame { background: #fff4ce; border-radius: 3px; }")
        self.banner_label = QLabel("", self.banner)
        self.banner_label.setWordWrap(True)
        self.load_earlier_button = QPushButton("Load earlier", self.banner)
        self.save_whole_button = QPushButton("Save whole log…", self.banner)
        self.new_lines_button = tool_button(self, "", "Go to the end and follow the log again")
        self.new_lines_button.setVisible(False)
        banner = QHBoxLayout(self.banner)
        banner.setContentsMargins(6, 3, 6, 3)
        banner.addWidget(self.banner_label, 1)
        banner.addWidget(self.load_earlier_button)
        banner.addWidget(self.save_whole_button)
        self.banner.setVisible(False)
        tools = QHBoxLayout()
        for w in (self.follow, self.wrap, self.find_button):
            tools.addWidget(w)
        tools.addStretch(1)
        tools.addWidget(self.save_button)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.new_lines_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addWidget(self.banner)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.text, 1)
        layout.addLayout(bottom)
        self.follow.toggled.connect(self._follow_toggled)
        self.wrap.toggled.connect(self._wrap_toggled)
        self.find_button.clicked.connect(self.find_bar.open)
        self.save_button.clicked.connect(self.save_log_as)
        self.save_whole_button.clicked.connect(self.save_log_as)
        self.load_earlier_button.clicked.connect(self.load_earlier)
        self.new_lines_button.clicked.connect(lambda: self.follow.setChecked(True))
        self.text.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.find_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.find_shortcut.activated.connect(self.find_bar.open)

    # -- what scripts and tests read -------------------------------------------------------------------

    @property
    def caught_up(self) -> bool:
        """Nothing read is waiting to be shown (the follower's text, earlier output fetched)."""
        return not self.follower.backlog and not self._earlier and not self._loading

    @property
    def earlier_bytes(self) -> int:
        """Bytes of the run's output before what is shown."""
        return self._spans[0].offset if self._spans else 0

    @property
    def shown_bytes(self) -> int:
        return self._end_offset - self.earlier_bytes if self._spans else 0

    @property
    def end_offset(self) -> int:
        """Where the last byte shown lies in the run's output, plus one: it only grows while output arrives
        (unlike the line count, which stops at MAX_SHOWN_LINES)."""
        return self._end_offset

    def toPlainText(self) -> str:  # noqa: N802 (as Qt's text widgets call it)
        return self.text.toPlainText()

    # -- following -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Follows (or resumes following) and shows what arrives."""
        if not self.complete:
            self._told_end = False
            self.follower.start()
        self.timer.start()

    def stop(self) -> None:
        """Stops following and showing; what was read and not yet shown stays for the next start."""
        self.timer.stop()
        self.follower.stop()

    def _tick(self) -> None:
        clock = QElapsedTimer()
        clock.start()
        self._moving = True
        try:
            self._cut_start()
            while clock.elapsed() < TICK_BUDGET_MS:
                if self._earlier:
                    self._put_in_front(self._earlier.popleft())
                    continue
                pieces = self.follower.take()
                if not pieces:
                    break
                self._append(pieces)
            if self.follow.isChecked():
                self._to_end()
        finally:
            self._moving = False
        self._cutting = self._cutting or (self._over_caps() and not self._earlier)  # cut from the next tick on
        self._show_state()
        self._check_end()
        behind = bool(self.follower.backlog or self._earlier or self._cutting)
        self.timer.setInterval(BUSY_MS if behind else DRAIN_MS)
        if self._told_end and self.caught_up and not self._cutting and self._save is None:
            self.timer.stop()  # nothing more will come until start() again

    def _append(self, pieces: list[Piece]) -> None:
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        searching = self.find_bar.isVisible()
        for piece in pieces:
            text = piece.text
            at = cursor.position()
            cursor.insertText(text, self._formats[piece.stream])
            lines = text.count("\n")
            self._spans.append(Span(piece.key, piece.offset, piece.nbytes, utf16_len(text), lines))
            self._lines += lines
            self._end_offset = max(self._end_offset, piece.offset + piece.nbytes)
            if not self.follow.isChecked():
                self._new_lines += lines
            if searching:
                self.find_bar.appended(at, text)

    def _check_end(self) -> None:
        outcome = self.follower.outcome
        if outcome is None or self._told_end or self.follower.stopped or self._cutting:
            return
        self._told_end = True
        self.complete = outcome == ""
        self.ended.emit(outcome)

    # -- earlier output ---------------------------------------------------------------------------------

    def load_earlier(self) -> None:
        """Fetches the EARLIER_BYTES before what is shown (off the GUI thread) and puts them in front."""
        room = self._room()
        if not self._spans or not self.earlier_bytes or self._loading or self._earlier or not room:
            return
        before = self._spans[0].key
        self._loading = True
        self._show_state()
        self.runner.run(
            f"read earlier logs of {self.run_id}",
            lambda: earlier_pieces(self.client, self.run_id, before, room),
            self._earlier_loaded,
            self._earlier_failed,
        )

    def _room(self) -> int:
        """How much earlier output one load fetches: EARLIER_BYTES, or less where the view is nearly full
        (what it loads is never cut away again at once); 0 when it is full."""
        room = int(MAX_SHOWN_BYTES * KEEP_WHEN_CUT) - self.shown_bytes
        if self._lines:  # as many bytes as the lines left would hold, at the length of those shown
            room = min(room, int((MAX_SHOWN_LINES * KEEP_WHEN_CUT - self._lines) * self.shown_bytes / self._lines))
        room -= CHUNK_BYTES  # a tail is whole chunks: up to one more than asked for
        return min(EARLIER_BYTES, room) if room >= CHUNK_BYTES else 0

    def _earlier_loaded(self, pieces: list[Piece]) -> None:
        self._loading = False
        self._earlier.extend(pieces)
        self._earlier_at, self._earlier_spans = 0, []
        if pieces:
            self.timer.start()
        self._show_state()

    def _earlier_failed(self, error: Exception) -> None:
        self._loading = False
        self._note = f"Could not load earlier output: {brief(error)}"
        self._show_state()

    def _put_in_front(self, piece: Piece) -> None:
        """Inserts the next earlier piece, keeping the lines in sight where they were."""
        bar = self.text.verticalScrollBar()
        blocks, value = self.text.blockCount(), bar.value()
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(self._earlier_at)
        text = piece.text
        cursor.insertText(text, self._formats[piece.stream])
        chars, lines = utf16_len(text), text.count("\n")
        self._earlier_at += chars
        self._lines += lines
        self._earlier_spans.append(Span(piece.key, piece.offset, piece.nbytes, chars, lines))
        self.find_bar.invalidate()  # positions moved: searched again once it is all in
        if not self.follow.isChecked():
            bar.setValue(value + self.text.blockCount() - blocks)
        if not self._earlier:  # all in: the spans go in front, and search starts again
            self._spans.extendleft(reversed(self._earlier_spans))
            self._earlier_spans = []

    def _over_caps(self) -> bool:
        return self.shown_bytes > MAX_SHOWN_BYTES or self._lines > MAX_SHOWN_LINES

    def _cut_start(self) -> None:
        """Past the caps, cuts the start of what is shown in whole chunks, down to KEEP_WHEN_CUT of them and
        at most CUT_LINES a tick (never while earlier output is going in); the banner then counts it as
        earlier output."""
        if self._earlier or not self._spans:
            return
        self._cutting = self._cutting or self._over_caps()
        chars = cut_lines = 0
        while self._cutting and len(self._spans) > 1 and cut_lines < CUT_LINES and chars < CUT_CHARS:
            key = self._spans[0].key
            while len(self._spans) > 1 and self._spans[0].key == key:  # the pieces of one chunk go together
                span = self._spans.popleft()
                chars, cut_lines = chars + span.chars, cut_lines + span.lines
                self._lines -= span.lines
            self._cutting = (
                self.shown_bytes > MAX_SHOWN_BYTES * KEEP_WHEN_CUT or self._lines > MAX_SHOWN_LINES * KEEP_WHEN_CUT
            )
        if not chars:
            return
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(chars, QTextCursor.MoveMode.KeepAnchor)
        bar = self.text.verticalScrollBar()
        value = bar.value()
        cursor.removeSelectedText()
        if not self.follow.isChecked():
            bar.setValue(max(0, value - cut_lines))
        if self.find_bar.isVisible():
            self.find_bar.trimmed(chars)

    # -- saving ----------------------------------------------------------------------------------------

    def save_log_as(self) -> None:
        """Asks where, then saves the whole log there."""
        suggested = str(Path.home() / f"{self.run_id}.log")
        path, _ = QFileDialog.getSaveFileName(self, "Save the whole log", suggested, "Logs (*.log *.txt);;All (*)")
        if path:
            self.save_log(Path(path))

    def save_log(self, path: Path) -> None:
        """Streams the run's whole output to `path` off the GUI thread; the banner shows the progress and
        then where it was saved."""
        if self._save is not None:
            return
        save = self._save = LogSave(path)
        self.save_button.setEnabled(False)
        self.save_whole_button.setEnabled(False)
        self.runner.run(
            f"save the log of {self.run_id}",
            lambda: save_whole_log(self.client, self.run_id, save),
            self._saved,
            self._save_failed,
        )
        self.timer.start()  # for the progress
        self._show_state()

    def _saved(self, nbytes: int) -> None:
        path = self._save.path if self._save else ""
        self._note = f"Saved the whole log ({format_bytes(nbytes)}) to {path}"
        self._save_ended()

    def _save_failed(self, error: Exception) -> None:
        self._note = f"Could not save the log: {brief(error)}. Choose another place and try again."
        self._save_ended()

    def _save_ended(self) -> None:
        self._save = None
        self.save_button.setEnabled(True)
        self.save_whole_button.setEnabled(True)
        self._show_state()

    # -- what the banner and buttons say ---------------------------------------------------------------

    def _show_state(self) -> None:
        lines = []
        earlier, room = self.earlier_bytes, self._room()
        if earlier:
            lines.append(
                f"Showing the last {format_bytes(self.shown_bytes)}; {format_bytes(earlier)} of earlier output"
                " is not shown."
            )
            if not room and not self._earlier:
                lines.append(
                    f"The view holds at most {MAX_SHOWN_LINES:,} lines or {format_bytes(MAX_SHOWN_BYTES)}: save "
                    "the whole log to read all of it."
                )
        if self._loading or self._earlier:
            lines.append("Loading earlier output…")
        if self._save is not None:
            done = self._save.done_bytes
            of = f" of {format_bytes(self._end_offset)}" if self.complete and done <= self._end_offset else " so far"
            lines.append(f"Saving the whole log to {self._save.path}… {format_bytes(done)}{of}")
        elif self._note:
            lines.append(self._note)
        self.banner_label.setText("\n".join(lines))
        self.banner.setVisible(bool(lines))
        self.load_earlier_button.setVisible(bool(earlier))
        self.load_earlier_button.setEnabled(not self._loading and not self._earlier and bool(room))
        self.load_earlier_button.setToolTip(
            f"Show the {format_bytes(min(room, earlier))} before what is shown"
            if room
            else "The view is full: save the whole log"
        )
        self.save_whole_button.setVisible(bool(earlier))
        following = self.follow.isChecked()
        self.new_lines_button.setText(f"{self._new_lines:,} new line{'s' if self._new_lines != 1 else ''} ↓")
        self.new_lines_button.setVisible(not following and self._new_lines > 0)
        if self.find_bar.isVisible() and not self._earlier:
            self.find_bar.refresh()

    # -- following, scrolling and wrapping -------------------------------------------------------------

    def _to_end(self) -> None:
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _scrolled(self, value: int) -> None:
        """A person scrolled: up turns following off, back to the end turns it on."""
        if self._moving:
            return
        at_end = value >= self.text.verticalScrollBar().maximum()
        if at_end != self.follow.isChecked():
            self.follow.setChecked(at_end)

    def _follow_toggled(self, on: bool) -> None:
        if on:
            self._new_lines = 0
            self._moving = True
            try:
                self._to_end()
            finally:
                self._moving = False
        self._show_state()

    def _wrap_toggled(self, on: bool) -> None:
        self._moving = True
        try:
            mode = QPlainTextEdit.LineWrapMode.WidgetWidth if on else QPlainTextEdit.LineWrapMode.NoWrap
            self.text.setLineWrapMode(mode)
            if self.follow.isChecked():
                self._to_end()
        finally:
            self._moving = False
        self._cutting = self._cutting or (self._over_caps() and not self._earlier)  # cut from the next tick on

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Escape in the log closes the find bar (rather than the page) while it is open."""
        if (
            watched is self.text
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and self.find_bar.isVisible()
        ):
            self.find_bar.dismiss()
            return True
        return super().eventFilter(watched, event)
