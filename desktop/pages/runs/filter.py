"""The Runs page's filter box: an expression in the search language (`kiln runs --filter`, kiln.core.query)
applied on the coordinator when Return is pressed. A bad expression marks the box red with the
coordinator's own words under it, and the table stays as it was; emptying the box shows every run."""

from __future__ import annotations

from kiln.desktop.qt import QLineEdit, QVBoxLayout, QWidget, Signal
from kiln.desktop.widgets.common import Message

EXAMPLE = "metrics.val_auc > 0.95 and params.lr = 0.1"
BAD_STYLE = "QLineEdit { border: 1px solid #b00020; border-radius: 2px; padding: 1px; }"
HELP = (
    "Runs matching an expression, as kiln runs --filter takes it; Return applies it.\n"
    "Fields: params.NAME, metrics.NAME (the last value), tags.NAME, state, user, node, id, created_at, "
    "started_at, finished_at.\nOperators: = != < <= > >= like; and, or, parentheses; 'quoted' text."
)


class FilterBox(QWidget):
    """`submitted(text)` when someone presses Return (or empties the box); the page answers with
    `accepted(text)` once the coordinator took it, or `refused(text, why)`."""

    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(f"Filter runs, e.g. {EXAMPLE}")
        self.edit.setClearButtonEnabled(True)
        self.edit.setToolTip(HELP)
        self.message = Message(self)
        self.applied = ""  # the expression the table shows now
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.edit)
        layout.addWidget(self.message)
        self.edit.returnPressed.connect(self._submit)
        self.edit.textChanged.connect(self._edited)

    def text(self) -> str:
        return self.edit.text().strip()

    def _submit(self) -> None:
        self.submitted.emit(self.text())

    def _edited(self, text: str) -> None:
        if not text.strip() and self.applied:
            self._submit()  # emptied (the clear button, or deleted): every run again
        elif self.message.isVisible() and text.strip() == self.applied:
            self._clear_error()

    def accepted(self, text: str) -> None:
        self.applied = text
        self._clear_error()

    def refused(self, text: str, why: str) -> None:
        """Marks the box: what is wrong with `text`, and that the table still shows the last good filter."""
        if text != self.text():
            return  # typed over meanwhile: the new text is judged when it is submitted
        self.edit.setStyleSheet(BAD_STYLE)
        still = f"still showing runs matching {self.applied}" if self.applied else "still showing every run"
        self.message.error(f"{why} ({still})")

    def _clear_error(self) -> None:
        self.edit.setStyleSheet("")
        self.message.clear()

    @property
    def bad(self) -> bool:
        return self.message.isVisible()
