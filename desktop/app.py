"""Starting the desktop app: resume the saved sign-in if it still works, else ask; then the main window.

Everything is passed down explicitly (settings, the session with its client); nothing is global.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kiln.desktop.ops import Runner, describe
from kiln.desktop.qt import QApplication, QObject, QThreadPool, Signal
from kiln.desktop.session import Session, resume, saved_profile
from kiln.desktop.settings import Settings
from kiln.desktop.signin import SignInDialog
from kiln.desktop.window import MainWindow

from kiln.core.errors import Unauthenticated

POOL_THREADS = 8  # the work is mostly waiting on the network, not the CPU


class Launcher(QObject):
    """Decides what to show: the main window when the saved sign-in works, the sign-in dialog otherwise
    (and again after signing out). Emits `window_opened(MainWindow)` and `dialog_opened(SignInDialog)`."""

    window_opened = Signal(object)
    dialog_opened = Signal(object)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = Runner(self)
        self.window: MainWindow | None = None
        self.dialog: SignInDialog | None = None

    def start(self) -> None:
        if saved_profile(self.settings.home) is None:
            self.ask()
            return
        home = self.settings.home
        self.runner.run("resume sign-in", lambda: resume(home), self.open_window, self._not_resumed)

    def _not_resumed(self, error: Exception) -> None:
        """An expired token asks quietly; anything else (server down) is said in the dialog."""
        self.ask("" if isinstance(error, Unauthenticated) else describe(error))

    def ask(self, notice: str = "") -> None:
        self.dialog = SignInDialog(self.settings, notice)
        self.dialog.signed_in.connect(self.open_window)
        self.dialog.show()
        self.dialog_opened.emit(self.dialog)

    def open_window(self, session: Session) -> None:
        self.window = MainWindow(session, self.settings)
        self.window.signed_out.connect(lambda: self.ask())
        self.window.show()
        self.window_opened.emit(self.window)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the app until its last window closes; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(["kiln-desktop", *args])
    app.setApplicationName("Kiln")
    app.setQuitOnLastWindowClosed(True)
    pool = QThreadPool.globalInstance()
    pool.setMaxThreadCount(max(pool.maxThreadCount(), POOL_THREADS))
    launcher = Launcher(Settings.load())
    launcher.start()
    code = app.exec()
    pool.waitForDone()
    return int(code)
