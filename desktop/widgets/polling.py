"""A page's reads on a timer while the page is shown: started when it shows (with a read at once), stopped
when it hides or closes, and skipped while the last read is still on its way, so a slow coordinator costs a
skipped tick rather than a pile of reads. Nobody looking means nobody asking the coordinator."""

from __future__ import annotations

from collections.abc import Callable

from kiln.desktop.qt import QEvent, QObject, QTimer, QWidget


class Poller(QObject):
    def __init__(self, page: QWidget, interval_ms: int, busy: Callable[[], bool], read: Callable[[], None]) -> None:
        super().__init__(page)
        self.busy, self.read = busy, read
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        page.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Show:
            self.timer.start()
            self.read()
        elif event.type() in (QEvent.Type.Hide, QEvent.Type.Close):
            self.timer.stop()
        return False

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        if not self.busy():
            self.read()
