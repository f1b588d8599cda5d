"""Asking before a destructive action: a dialog naming the thing and its state, whose default button
(what Return presses) is Cancel, and whose action button says what will happen ("Cancel run r-1a2b…").

Non-blocking (`open`, not `exec`), so the GUI keeps painting and tests can find the dialog and press a
button: `on_yes` runs only when the action button is clicked.

A page with destructive actions also has no default button (`no_default_buttons`): in a QDialog every
QPushButton is an "auto default" one, so Return pressed anywhere (in a log, a search field) presses the
first of them, which was how Return cancelled a run.
"""

from __future__ import annotations

from collections.abc import Callable

from kiln.desktop.qt import QEvent, QKeyEvent, QMessageBox, QObject, QPushButton, Qt, QWidget

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


RETURN_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class _NoDefault(QObject):
    """Keeps Return from pressing a button of `page` by itself: swallows Return and Enter that reach the
    page (no widget in it took them) and clears the default flags of buttons added since, each time it is
    shown."""

    def __init__(self, page: QWidget) -> None:
        super().__init__(page)
        self.page = page

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.page:
            if event.type() == QEvent.Type.Show:
                clear_default_buttons(self.page)
            elif event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
                return event.key() in RETURN_KEYS
        return False


def clear_default_buttons(page: QWidget) -> None:
    for button in page.findChildren(QPushButton):
        button.setAutoDefault(False)
        button.setDefault(False)


def no_default_buttons(page: QWidget) -> None:
    """Makes `page` (a dialog with destructive actions) one where Return presses no button: none of its push
    buttons is a default or auto-default one (those there now, and those added before it is next shown), and
    Return that no widget takes goes nowhere. A focused button is still pressed with Space, or a click.
    Calling it twice is harmless."""
    clear_default_buttons(page)
    if not any(isinstance(child, _NoDefault) for child in page.children()):
        page.installEventFilter(_NoDefault(page))
