"""A destructive action asks first: Return and Escape mean no, only the named action button does it."""

from __future__ import annotations

from kiln.desktop.qt import QMessageBox, Qt, QWidget
from kiln.desktop.widgets.confirm import action_button, confirm


def test_return_and_escape_say_no_and_only_the_action_button_acts(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    done: list[str] = []
    box = confirm(parent, "Cancel run", "Cancel run r-1a2b (running on n1)?", "Cancel run", lambda: done.append("yes"))
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert done == [] and not box.isVisible()

    box = confirm(parent, "Cancel run", "Cancel run r-1a2b?", "Cancel run", lambda: done.append("yes"))
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert done == []

    box = confirm(parent, "Cancel run", "Cancel run r-1a2b?", "Cancel run", lambda: done.append("yes"))
    assert action_button(box).text() == "Cancel run"
    qtbot.mouseClick(action_button(box), Qt.MouseButton.LeftButton)
    assert done == ["yes"]
