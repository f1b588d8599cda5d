"""The admin tray (`kiln tray`): an icon whose colour is the cluster's health, with a menu of the nodes
(drain, undrain), the run queue, "Create join token…" and "Open admin window". Where the desktop has no
system tray (offscreen, some Linux desktops) the same information and actions open as a small window.

The tray owns the session it was given and one watch of the cluster that every view reads."""

from __future__ import annotations

import functools
from collections.abc import Callable

from kiln.desktop.admin.window import AdminWindow
from kiln.desktop.ops import Runner
from kiln.desktop.qt import QMenu, QObject, QSystemTrayIcon, QWidget, Signal
from kiln.desktop.session import Session
from kiln.desktop.settings import Settings
from kiln.desktop.tray.health import counts_text, node_line
from kiln.desktop.tray.watch import ClusterWatch, firing_text, idle_text
from kiln.desktop.tray.window import TrayWindow, health_icon


class ClusterMenu(QMenu):
    """The icon's menu, rebuilt after every look at the cluster."""

    def __init__(self, watch: ClusterWatch, actions: dict[str, Callable[[], object]], parent: QWidget | None = None):
        super().__init__(parent)
        self.watch, self.entries = watch, actions
        watch.updated.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        health = self.watch.health
        self.addAction(health_icon(health.colour), health.summary).setEnabled(False)
        self.addAction(f"Runs: {counts_text(self.watch.queued, self.watch.running)}").setEnabled(False)
        self.addAction(firing_text(self.watch.firing, self.watch.alerts_problem)).setEnabled(False)
        if idle := idle_text(self.watch.idle_soon):
            self.addAction(idle).setEnabled(False)
        self.addSeparator()
        for node in sorted(self.watch.nodes, key=lambda n: n.name):
            sub = self.addMenu(node_line(node))
            verb, drain = ("Undrain", False) if node.drained else ("Drain", True)
            sub.addAction(verb, functools.partial(self.watch.set_drain, node.name, drain))
        if self.watch.nodes:
            self.addSeparator()
        for label, action in self.entries.items():
            self.addAction(label, action)


class TrayApp(QObject):
    """Emits `finished` once it has closed everything (the app then ends)."""

    finished = Signal()

    def __init__(
        self, session: Session, settings: Settings, tray: bool | None = None, parent: QObject | None = None
    ) -> None:
        """`tray` forces whether a system tray icon is used (default: whether the desktop has a tray)."""
        super().__init__(parent)
        self.session, self.settings = session, settings
        self.runner = Runner(self)
        self.watch = ClusterWatch(session.client, self.runner, self)
        self.window = TrayWindow(self.watch, self.runner, session.server, self.open_admin)
        self.window.closed.connect(self._closed)
        self.admin: AdminWindow | None = None
        self.icon: QSystemTrayIcon | None = None
        use_tray = QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray
        if use_tray:
            self._make_icon()
        else:
            self.window.show()
        self.watch.start()

    def _make_icon(self) -> None:
        self.window.quit_on_close = False  # beside an icon, the window is only a view
        actions: dict[str, Callable[[], object]] = {
            "Show cluster window": self.show_window,
            "Create join token…": self.open_join_token,
            "Open admin window": self.open_admin,
            "Quit": self.quit,
        }
        self.menu = ClusterMenu(self.watch, actions)
        self.icon = QSystemTrayIcon(health_icon(self.watch.health.colour), self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.watch.updated.connect(self._recolour)
        self._recolour()
        self.icon.show()

    def _recolour(self) -> None:
        if self.icon is not None:
            health = self.watch.health
            self.icon.setIcon(health_icon(health.colour))
            alerts = firing_text(self.watch.firing, self.watch.alerts_problem)
            self.icon.setToolTip(
                f"Kiln: {health.summary}\n{counts_text(self.watch.queued, self.watch.running)}\n{alerts}"
            )

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_window()

    def show_window(self) -> TrayWindow:
        self.window.show()
        self.window.raise_()
        return self.window

    def open_join_token(self) -> None:
        self.show_window().open_join_token()

    def open_admin(self) -> AdminWindow:
        if self.admin is None:
            client, server = self.session.client, self.session.server
            self.admin = AdminWindow(client, self.runner, self.watch, self.settings, server)
        self.admin.show()
        self.admin.raise_()
        return self.admin

    def quit(self) -> None:
        """Closes the window as the tray's (it waits for actions in flight), then everything else."""
        self.window.quit_on_close = True
        self.window.close()

    def _closed(self) -> None:
        self.watch.stop()
        if self.admin is not None:
            self.admin.close()
        if self.icon is not None:
            self.icon.hide()
        self.session.close()
        self.finished.emit()
