"""What the hand-drawn widgets (the metric chart, the compare view's parallel coordinates) share about
their events: naming what is under the mouse in a tooltip, and a painter that is always ended, even when
drawing fails (a painter left active on a widget makes Qt complain on every later paint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from kiln.desktop.qt import QMouseEvent, QPainter, QToolTip, QWidget

Hovered = TypeVar("Hovered")


def hover_moved(
    widget: QWidget,
    event: QMouseEvent,
    was: Hovered | None,
    found: Hovered | None,
    describe: Callable[[Hovered], str],
) -> Hovered | None:
    """The mouse moved onto `found` (None: nothing) from `was`: repaints `widget` when that changed and
    shows `describe(found)` as a tooltip (or hides it). Returns `found`, what the widget now hovers."""
    if found != was:
        widget.update()
    if found is None:
        QToolTip.hideText()
    else:
        QToolTip.showText(event.globalPosition().toPoint(), describe(found), widget)
    return found


def paint_safely(widget: QWidget, draw: Callable[[QPainter], None]) -> None:
    """A paintEvent's body: `draw` on a painter of `widget`, ended whatever happens."""
    painter = QPainter(widget)
    try:
        draw(painter)
    finally:
        painter.end()
