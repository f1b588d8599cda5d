"""Finding text in a run's log: a bar with a field (Enter: next, Shift+Enter: previous, Escape: close),
previous/next buttons, the number of matches and where the current one is among them, and the matches in
sight highlighted.

Matches are found in Python, not by QTextDocument.find (which takes a call per match), and kept as
positions in the document's units (UTF-16). While the log grows, only the new text is searched; when its
start is cut away (the view's cap), positions shift by one number rather than being recomputed; anything
else (earlier output loaded) searches the whole text again, at most once per tick."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right

from kiln.desktop.qt import (
    QColor,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPoint,
    Qt,
    QTextCursor,
    QTextEdit,
    QToolButton,
    QWidget,
    Signal,
)

MAX_MATCHES = 100_000  # positions kept; past this the count says "100,000+"
MAX_HIGHLIGHTS = 500  # matches highlighted at once: those in sight
ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 units each in the document


def utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def utf16_starts(pattern: re.Pattern[str], text: str, most: int) -> list[int]:
    """Where `pattern` matches in `text`, at most `most` matches, as UTF-16 offsets."""
    starts: list[int] = []
    for match in pattern.finditer(text):
        if len(starts) >= most:
            break
        starts.append(match.start())
    if text.isascii() or not starts:
        return starts
    astral = [m.start() for m in ASTRAL.finditer(text)]
    return [i + bisect_left(astral, i) for i in starts]


def tool_button(parent: QWidget, text: str, tip: str) -> QToolButton:
    """A flat button that is never a default one (Return does not press it)."""
    button = QToolButton(parent)
    button.setText(text)
    button.setToolTip(tip)
    return button


class FindField(QLineEdit):
    """The search field: Enter and Shift+Enter move between matches and Escape closes the bar; none of them
    reaches the page (where Return could press a button or Escape close the page)."""

    step = Signal(bool)  # backward
    dismissed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.step.emit(bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
            event.accept()
        elif event.key() == Qt.Key.Key_Escape:
            self.dismissed.emit()
            event.accept()
        else:
            super().keyPressEvent(event)


class FindBar(QWidget):
    """Search in `edit`. The view tells it what changed (`appended`, `trimmed`, `invalidate`) while it is
    open, and calls `refresh` once per tick."""

    def __init__(self, edit: QPlainTextEdit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = edit
        self.field = FindField(self)
        self.field.setPlaceholderText("Find in the log")
        self.field.setClearButtonEnabled(True)
        self.previous_button = tool_button(self, "↑ Previous", "The match before (Shift+Enter)")
        self.next_button = tool_button(self, "↓ Next", "The match after (Enter)")
        self.count_label = QLabel("", self)
        self.close_button = tool_button(self, "✕", "Close (Escape)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.field, self.previous_button, self.next_button, self.count_label):
            layout.addWidget(w, 1 if w is self.field else 0)
        layout.addStretch(0)
        layout.addWidget(self.close_button)
        self.field.textChanged.connect(lambda _: self.search())
        self.field.step.connect(self.step)
        self.field.dismissed.connect(self.dismiss)
        self.previous_button.clicked.connect(lambda: self.step(True))
        self.next_button.clicked.connect(lambda: self.step(False))
        self.close_button.clicked.connect(self.dismiss)
        edit.verticalScrollBar().valueChanged.connect(lambda _: self.highlight())
        self._pattern: re.Pattern[str] | None = None
        self._matches: list[int] = []  # document position + _base: cutting the start only moves _base
        self._base = 0
        self._capped = False
        self._carry = ""  # the end of the text searched, where a match may begin that new text completes
        self._stale = False
        self.setVisible(False)

    @property
    def needle(self) -> str:
        return self.field.text()

    def open(self) -> None:
        self.setVisible(True)
        self.field.setFocus()
        self.field.selectAll()
        self.search()

    def dismiss(self) -> None:
        self.setVisible(False)
        self._pattern, self._matches = None, []
        self.edit.setExtraSelections([])
        self.edit.setFocus()

    # -- what the view tells it ------------------------------------------------------------------------

    def appended(self, position: int, text: str) -> None:
        """`text` was added at the end, at document `position`."""
        if self._pattern is None or self._stale:
            return
        region = self._carry + text
        start = position - utf16_len(self._carry)
        room = MAX_MATCHES - len(self._matches)
        found = utf16_starts(self._pattern, region, room + 1)
        self._capped = self._capped or len(found) > room
        self._matches.extend(p + start + self._base for p in found[:room])
        self._carry = region[-(len(self.needle) - 1) :] if len(self.needle) > 1 else ""

    def trimmed(self, chars: int) -> None:
        """The first `chars` of the document were cut away."""
        self._base += chars
        first = bisect_left(self._matches, self._base)
        if first > len(self._matches) // 2:  # now and then, not every time: the positions are copied
            del self._matches[:first]

    def invalidate(self) -> None:
        """Text was added elsewhere than at the end: search everything again at the next refresh."""
        self._stale = self._pattern is not None

    def refresh(self) -> None:
        if self._stale:
            self.search()
        else:
            self.show_count()
            self.highlight()

    # -- searching and moving --------------------------------------------------------------------------

    def search(self) -> None:
        """Finds every match (up to MAX_MATCHES) and moves to the first at or after the current one."""
        self._stale = False
        needle = self.needle
        self._pattern = re.compile(re.escape(needle), re.IGNORECASE) if needle else None
        self._base, self._matches, self._capped, self._carry = 0, [], False, ""
        if self._pattern is not None:
            text = self.edit.toPlainText()
            found = utf16_starts(self._pattern, text, MAX_MATCHES + 1)
            self._capped = len(found) > MAX_MATCHES
            self._matches = found[:MAX_MATCHES]
            self._carry = text[-(len(needle) - 1) :] if len(needle) > 1 else ""
            self.step(False, from_current=True)
        self.show_count()
        self.highlight()

    def _valid(self) -> int:
        return bisect_left(self._matches, self._base)

    def step(self, backward: bool, from_current: bool = False) -> None:
        """Selects the next (or previous) match, wrapping around at the ends."""
        if self._stale:
            self.search()
        first, matches = self._valid(), self._matches
        if first >= len(matches):
            self.show_count()
            return
        anchor = self.edit.textCursor().selectionStart() + self._base
        if backward:
            j = bisect_left(matches, anchor, first) - 1
            j = j if j >= first else len(matches) - 1
        else:
            j = (bisect_left if from_current else bisect_right)(matches, anchor, first)
            j = j if j < len(matches) else first
        cursor = QTextCursor(self.edit.document())
        cursor.setPosition(matches[j] - self._base)
        cursor.setPosition(matches[j] - self._base + utf16_len(self.needle), QTextCursor.MoveMode.KeepAnchor)
        self.edit.setTextCursor(cursor)
        self.edit.centerCursor()
        self.show_count()
        self.highlight()

    @property
    def count(self) -> int:
        return len(self._matches) - self._valid()

    @property
    def current(self) -> int:
        """Which match is selected, from 1; 0 when none is."""
        cursor = self.edit.textCursor()
        at = cursor.selectionStart() + self._base
        j = bisect_left(self._matches, at, self._valid())
        if cursor.hasSelection() and j < len(self._matches) and self._matches[j] == at:
            return j - self._valid() + 1
        return 0

    def show_count(self) -> None:
        if self._pattern is None:
            self.count_label.setText("")
            return
        n = self.count
        more = "+" if self._capped else ""
        if not n:
            self.count_label.setText("no matches")
        elif self.current:
            self.count_label.setText(f"{self.current:,} of {n:,}{more}")
        else:
            self.count_label.setText(f"{n:,}{more} matches")

    def highlight(self) -> None:
        """Marks the matches in sight (the current one more strongly)."""
        if self._pattern is None or not self.isVisible():
            return
        top = self.edit.firstVisibleBlock().position()
        viewport = self.edit.viewport()
        bottom = self.edit.cursorForPosition(QPoint(viewport.width(), viewport.height())).position()
        lo = bisect_left(self._matches, top + self._base - len(self.needle), self._valid())
        hi = bisect_right(self._matches, bottom + self._base, lo)
        selected = self.edit.textCursor().selectionStart() + self._base
        size = utf16_len(self.needle)
        selections = []
        for v in self._matches[lo : min(hi, lo + MAX_HIGHLIGHTS)]:
            extra = QTextEdit.ExtraSelection()
            extra.cursor = QTextCursor(self.edit.document())
            extra.cursor.setPosition(v - self._base)
            extra.cursor.setPosition(v - self._base + size, QTextCursor.MoveMode.KeepAnchor)
            extra.format.setBackground(QColor("#ff9632" if v == selected else "#fff176"))
            selections.append(extra)
        self.edit.setExtraSelections(selections)
