"""Starting the desktop app: resume the saved sign-in if it still works, else ask; then the main window,
or (`tray`) the admin tray.

Everything is passed down explicitly (settings, the session with its client); nothing is global.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kiln.core.errors import FailedPrecondition, Unauthenticated
from kiln.desktop.ops import Runner, describe
from kiln.desktop.qt import QApplication, QObject, QThreadPool, Signal, binding_problem
from kiln.desktop.session import Session, resume, saved_profile
from kiln.desktop.settings import Settings
from kiln.desktop.signin import SignInDialog
from kiln.desktop.tray.app import TrayApp
from kiln.desktop.window import MainWindow

POOL_THREADS = 8  # the work is mostly waiting on the network, not the CPU


class Launcher(QObject):
    """Decides what to show: the main window (or, with `tray`, the admin tray) when the saved sign-in
    works, the sign-in dialog otherwise (and again after signing out). Emits `window_opened(MainWindow)`,
    `tray_opened(TrayApp)` and `dialog_opened(SignInDialog)`."""

    window_opened = Signal(object)
    tray_opened = Signal(object)
    dialog_opened = Signal(object)

    def __init__(self, settings: Settings, tray: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings, self.tray_mode = settings, tray
        self.runner = Runner(self)
        self.window: MainWindow | None = None
        self.tray: TrayApp | None = None
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
        if self.tray_mode:
            self.tray = TrayApp(session, self.settings)
            self.tray_opened.emit(self.tray)
            return
        self.window = MainWindow(session, self.settings)
        self.window.signed_out.connect(lambda: self.ask())
        self.window.show()
        self.window_opened.emit(self.window)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the app (`[]`) or the admin tray (`["tray"]`) until it is closed; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    tray = args[:1] == ["tray"]
    problem = binding_problem()
    if problem:  # refused now, in words, rather than an abort minutes into someone's work
        raise FailedPrecondition(problem)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["kiln-desktop", *args])
    app.setApplicationName("Kiln")
    app.setQuitOnLastWindowClosed(not tray)  # a tray icon lives on with no window open; Quit ends it
    pool = QThreadPool.globalInstance()
    pool.setMaxThreadCount(max(pool.maxThreadCount(), POOL_THREADS))
    launcher = Launcher(Settings.load(), tray=tray)
    if tray:  # nothing closes by itself: the tray's Quit, or a sign-in given up, ends the app
        launcher.tray_opened.connect(lambda opened: opened.finished.connect(app.quit))
        launcher.dialog_opened.connect(lambda dialog: dialog.rejected.connect(app.quit))
    launcher.start()
    code = app.exec()
    pool.waitForDone()
    return int(code)
