"""Asking before a destructive action: a dialog naming the thing and its state, whose default button
(what Return presses) is Cancel, and whose action button says what will happen ("Cancel run r-1a2b…").

Non-blocking (`open`, not `exec`), so the GUI keeps painting and tests can find the dialog and press a
button: `on_yes` runs only when the action button is clicked.
"""

from __future__ import annotations

from collections.abc import Callable

from kiln.desktop.qt import QMessageBox, QWidget

CONFIRM_NAME = "kiln-confirm"  # objectName of every such dialog, for tests and the soak script


def confirm(parent: QWidget, title: str, text: str, action: str, on_yes: Callable[[], object]) -> QMessageBox:
    """Asks `text` (what, which, in what state, and what follows); `action` labels the button that does
    it. Escape, Return and closing the dialog all mean no."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(CONFIRM_NAME)
    yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    no = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(no)
    box.setEscapeButton(no)

    def clicked(button: object) -> None:
        if button is yes:
            on_yes()

    box.buttonClicked.connect(clicked)
    box.open()
    return box


def action_button(box: QMessageBox) -> QWidget:
    """The button that does the action (for tests): the one that is not Cancel."""
    [button] = [b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole]
    return button
