"""The admin window IT opens from the tray: users, tokens, nodes, the audit log and cost, one tab each.
It shares the tray's watch (so its node table is the tray's) and the tray's runner (so closing the tray
waits for what the window started)."""

from __future__ import annotations

from kiln.client import Client
from kiln.desktop.admin.audit import AuditTab
from kiln.desktop.admin.costtab import CostTab
from kiln.desktop.admin.people import TokensTab, UsersTab
from kiln.desktop.ops import Runner
from kiln.desktop.qt import QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget
from kiln.desktop.settings import Settings
from kiln.desktop.tray.watch import ClusterWatch
from kiln.desktop.tray.window import NodesPanel


class AdminWindow(QMainWindow):
    def __init__(
        self,
        client: Client,
        runner: Runner,
        watch: ClusterWatch,
        settings: Settings,
        server: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Kiln administration — {server}")
        self.users = UsersTab(client, runner, self)
        self.tokens = TokensTab(client, runner, self)
        self.nodes = NodesPanel(watch, self)
        self.audit = AuditTab(client, runner, self)
        self.cost = CostTab(client, runner, watch, settings, server, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.users, "Users")
        self.tabs.addTab(self.tokens, "Tokens")
        self.tabs.addTab(self._nodes_tab(), "Nodes")
        self.tabs.addTab(self.audit, "Audit log")
        self.tabs.addTab(self.cost, "Cost")
        self.setCentralWidget(self.tabs)
        self.resize(980, 620)

    def _nodes_tab(self) -> QWidget:
        tab = QWidget(self)
        layout = QVBoxLayout(tab)
        note = QLabel("Draining a node stops new runs going to it; the runs on it finish.", tab)
        layout.addWidget(note)
        layout.addWidget(self.nodes, 1)
        return tab

    def show_tab(self, title: str) -> None:
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == title:
                self.tabs.setCurrentIndex(i)
